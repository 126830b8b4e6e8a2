import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RecordingRunner } from '../common/command-runner.js';
import { isInvalidParameter } from '../common/errors.js';
import {
  assertTraversable, bindIdmapOption, findAccount, freeRangeStart, mappingsFor, parseRemapSetting, parseSubIdFile,
  remappedRoot, resolveRemap, toHostId, DEFAULT_REMAP_USER,
} from './userns.js';

describe('parseRemapSetting', () => {
  it('default, user, user:group, uid:gid', () => {
    assert.deepEqual(parseRemapSetting('default'), { user: DEFAULT_REMAP_USER, isDefault: true });
    assert.deepEqual(parseRemapSetting('app'), { user: 'app', isDefault: false });
    assert.deepEqual(parseRemapSetting('app:staff'), { user: 'app', group: 'staff', isDefault: false });
    assert.deepEqual(parseRemapSetting('1000:1000'), { user: '1000', group: '1000', isDefault: false });
  });
  it('refuses empty and malformed values', () => {
    for (const v of ['', ' ', 'a:b:c', 'a b', ':x', 'x:', '../etc']) assert.throws(() => parseRemapSetting(v), isInvalidParameter, v);
  });
});

describe('subordinate ids', () => {
  const text = '# comment\nalice:100000:65536\nbob:165536:65536\n\nalice:300000:1000\n1001:400000:10\nbroken:line\nzero:500000:0\n';
  it('parses lines, skipping comments, malformed lines and empty ranges', () => {
    assert.deepEqual(parseSubIdFile(text).map((r) => r.name), ['alice', 'bob', 'alice', '1001']);
  });
  it('lays a user\'s ranges end to end from container id 0, by name or number', () => {
    const r = parseSubIdFile(text);
    assert.deepEqual(mappingsFor(r, 'alice', 1000), [
      { containerID: 0, hostID: 100000, size: 65536 },
      { containerID: 65536, hostID: 300000, size: 1000 },
    ]);
    assert.deepEqual(mappingsFor(r, 'carol', 1001), [{ containerID: 0, hostID: 400000, size: 10 }]);
    assert.deepEqual(mappingsFor(r, 'nobody', 7), []);
  });
  it('maps container ids to host ids and refuses unmapped ones', () => {
    const m = mappingsFor(parseSubIdFile(text), 'alice', 1000);
    assert.equal(toHostId(m, 0), 100000);
    assert.equal(toHostId(m, 65536), 300000);
    assert.throws(() => toHostId(m, 70000), isInvalidParameter);
    assert.deepEqual(remappedRoot({ uidMappings: m, gidMappings: m }), { uid: 100000, gid: 100000 });
  });
  it('picks a free range past every existing one', () => {
    assert.equal(freeRangeStart([]), 100000);
    assert.equal(freeRangeStart(parseSubIdFile(text)), 400010);
  });
  it('finds accounts by name or number', () => {
    const passwd = 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';
    assert.deepEqual(findAccount(passwd, 'app'), { name: 'app', id: 1000 });
    assert.deepEqual(findAccount(passwd, '1000'), { name: 'app', id: 1000 });
    assert.equal(findAccount(passwd, 'ghost'), undefined);
  });
  it('idmap option for a bind mount: the source owner becomes the container root', () => {
    assert.equal(bindIdmapOption({ uid: 1000, gid: 1001 }, { uid: 165536, gid: 165536 }), 'idmap=uids=1000-165536-1;gids=1001-165536-1');
  });
});

describe('resolveRemap', () => {
  let etc: string;
  before(async () => {
    etc = await mkdtemp(join(tmpdir(), 'berth-userns-unit-'));
  });
  after(async () => {
    await rm(etc, { recursive: true, force: true });
  });
  const files = async (passwd: string, group: string, subuid: string, subgid: string) => {
    await writeFile(join(etc, 'passwd'), passwd);
    await writeFile(join(etc, 'group'), group);
    await writeFile(join(etc, 'subuid'), subuid);
    await writeFile(join(etc, 'subgid'), subgid);
  };

  it('a named user with ranges: no change to the host', async () => {
    await files('app:x:1000:1000::/:/bin/sh\n', 'app:x:1000:\nstaff:x:50:\n', 'app:200000:65536\n', 'staff:300000:65536\napp:1:1\n');
    const runner = new RecordingRunner();
    const r = await resolveRemap('app:staff', { runner, etc });
    assert.deepEqual(r, { user: 'app', group: 'staff', uidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 300000, size: 65536 }] });
    assert.deepEqual(runner.calls, []);
  });
  it('a named user without ranges is refused (nothing added for an operator\'s user)', async () => {
    await files('app:x:1000:1000::/:/bin/sh\n', 'app:x:1000:\n', '', '');
    const runner = new RecordingRunner();
    await assert.rejects(resolveRemap('1000', { runner, etc }), /no subuid ranges found for user "app"/);
    await assert.rejects(resolveRemap('ghost', { runner, etc }), /no user "ghost"/);
    assert.deepEqual(runner.calls, []);
  });
  it('default: makes berthremap and its ranges when missing (useradd, usermod)', async () => {
    await files('root:x:0:0::/:/bin/sh\n', 'root:x:0:\n', 'other:100000:65536\n', 'other:100000:65536\n');
    // A fake runner that writes what useradd and usermod would.
    const calls: string[][] = [];
    const runner = {
      run: async (argv: readonly string[]) => {
        calls.push([...argv]);
        if (argv[0] === 'useradd') {
          await appendFile(join(etc, 'passwd'), 'berthremap:x:999:995::/nonexistent:/usr/sbin/nologin\n');
          await appendFile(join(etc, 'group'), 'berthremap:x:995:\n');
        }
        if (argv[0] === 'usermod') {
          await appendFile(join(etc, 'subuid'), 'berthremap:165536:65536\n');
          await appendFile(join(etc, 'subgid'), 'berthremap:165536:65536\n');
        }
        return { code: 0, stdout: '', stderr: '' };
      },
    };
    const changes: string[] = [];
    const r = await resolveRemap('default', { runner, etc, onChange: (w) => changes.push(w) });
    assert.equal(calls[0]![0], 'useradd');
    assert.ok(calls[0]!.includes('--system') && calls[0]!.at(-1) === 'berthremap');
    assert.deepEqual(calls[1], ['usermod', '--add-subuids', '165536-231071', '--add-subgids', '165536-231071', 'berthremap']);
    assert.deepEqual(r.uidMappings, [{ containerID: 0, hostID: 165536, size: 65536 }]);
    assert.equal(changes.length, 2);
  });
});

describe('assertTraversable', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-userns-trav-'));
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('refuses a parent without search permission for the remapped root, names it', async () => {
    await chmod(dir, 0o700);
    await assert.rejects(assertTraversable(join(dir, 'a', 'b'), { uid: 165536, gid: 165536 }), (e: Error) => isInvalidParameter(e) && e.message.includes(`chmod o+x ${dir}`));
    await chmod(dir, 0o711);
    await assertTraversable(join(dir, 'a', 'b'), { uid: 165536, gid: 165536 });
  });
});
