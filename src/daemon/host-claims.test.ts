import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostClaims, ResourceClaimedError } from './host-claims.js';
import { isConflict } from '../common/errors.js';

describe('HostClaims (issue 17: a second daemon may not take what a live one owns)', () => {
  let dir: string;
  const live = new Set<number>();
  const opts = () => ({ dir, isLive: (pid: number) => live.has(pid) });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-claims-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a resource a live daemon holds, naming its pid and socket', () => {
    live.add(101);
    const a = new HostClaims({ pid: 101, hosts: ['unix:///run/a.sock'], dataRoot: '/var/lib/a' }, opts());
    a.claim([{ kind: 'bridge', name: 'berth0' }, { kind: 'nft-table', name: 'berth' }]);
    const b = new HostClaims({ pid: 102, hosts: ['unix:///run/b.sock'], dataRoot: '/var/lib/b' }, opts());
    assert.throws(
      () => b.claim([{ kind: 'nft-table', name: 'other' }, { kind: 'bridge', name: 'berth0' }]),
      (err: unknown) => {
        assert.ok(err instanceof ResourceClaimedError);
        assert.ok(isConflict(err));
        assert.match(err.message, /bridge berth0 is in use by another berthd \(pid 101, unix:\/\/\/run\/a\.sock/);
        assert.match(err.message, /--bridge/);
        return true;
      },
    );
    // All or nothing: b's claim of the table it did get was given back.
    const c = new HostClaims({ pid: 103, hosts: [], dataRoot: '/var/lib/c' }, opts());
    live.add(103);
    c.claim([{ kind: 'nft-table', name: 'other' }]);
    c.release();
    a.release();
  });

  it('takes over a claim whose daemon died', () => {
    live.add(201);
    const dead = new HostClaims({ pid: 201, hosts: [], dataRoot: '/d' }, opts());
    dead.claim([{ kind: 'subnet', name: '172.18.0.0/16' }]);
    live.delete(201); // SIGKILLed: it never released
    const next = new HostClaims({ pid: 202, hosts: [], dataRoot: '/e' }, opts());
    next.claim([{ kind: 'subnet', name: '172.18.0.0/16' }]);
    next.release();
  });

  it('takes over a half-written claim file', async () => {
    const probe = new HostClaims({ pid: 301, hosts: [], dataRoot: '/f' }, opts());
    live.add(301);
    probe.claim([{ kind: 'exec-root', name: '/run/x' }]);
    const [file] = (await readdir(dir)).filter((f) => f.startsWith('exec-root-'));
    probe.release();
    await writeFile(join(dir, file!), '{"pi');
    const next = new HostClaims({ pid: 302, hosts: [], dataRoot: '/g' }, opts());
    next.claim([{ kind: 'exec-root', name: '/run/x' }]);
    next.release();
  });

  it('release removes only the files that still name this daemon', async () => {
    live.add(401);
    const a = new HostClaims({ pid: 401, hosts: [], dataRoot: '/h' }, opts());
    a.claim([{ kind: 'data-root', name: '/nonexistent/berth-h' }]);
    const [file] = (await readdir(dir)).filter((f) => f.startsWith('data-root-'));
    // Another daemon took the file over (a was presumed dead): a's release must leave it.
    await writeFile(join(dir, file!), JSON.stringify({ pid: 402, hosts: [], dataRoot: '/i' }));
    a.release();
    assert.ok((await readdir(dir)).includes(file!));
    await rm(join(dir, file!));
    assert.deepEqual(await readdir(dir), []);
  });
});
