import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../store/db.js';
import { VolumeTable } from '../store/volumes.js';
import type { CommandRunner } from '../common/command-runner.js';
import { isConflict, isInvalidParameter, isNotFound } from '../common/errors.js';
import { ANONYMOUS_LABEL, VolumeService, type VolumeRecord } from './volume-service.js';

/** A runner that records argv and a fake mount table. */
function fakeRunner(mounted: Set<string>): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(argv: readonly string[]) {
      calls.push([...argv]);
      if (argv[0] === 'mount') mounted.add(argv[argv.length - 1]!);
      if (argv[0] === 'umount') mounted.delete(argv[argv.length - 1]!);
      return { code: 0, stdout: '', stderr: '' };
    },
  } as CommandRunner & { calls: string[][] };
}

async function setup(users: Record<string, string[]> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'berth-volsvc-'));
  const mounted = new Set<string>();
  const runner = fakeRunner(mounted);
  const events: string[] = [];
  const svc = new VolumeService({
    store: new VolumeTable<VolumeRecord>(openDatabase(':memory:')),
    root,
    runner,
    usedBy: (n) => users[n] ?? [],
    publish: (a, n) => events.push(`${a} ${n}`),
    isMounted: async (p) => mounted.has(p),
  });
  await svc.init();
  return { svc, root, runner, events, mounted, cleanup: () => rm(root, { recursive: true, force: true }) };
}

test('create, get, list with filters, remove; events; names checked', async () => {
  const users: Record<string, string[]> = {};
  const t = await setup(users);
  try {
    const a = await t.svc.create({ name: 'aa', labels: { tier: 'db' } });
    assert.equal(a.created, true);
    assert.equal((await t.svc.create({ name: 'aa' })).created, false, 'an existing name is returned as is');
    // Not hex: the name filter matches substrings, and the anonymous volume's name is 64 hex digits.
    await t.svc.create({ name: 'web' });
    const anon = (await t.svc.create({ labels: { [ANONYMOUS_LABEL]: '' } })).volume;
    assert.match(anon.name, /^[0-9a-f]{64}$/);
    assert.ok(existsSync(a.volume.mountpoint));
    assert.deepEqual(t.svc.list(new Map([['label', ['tier=db']]])).map((v) => v.name), ['aa']);
    assert.deepEqual(t.svc.list(new Map([['name', ['web']]])).map((v) => v.name), ['web']);
    users['web'] = ['c1'];
    assert.deepEqual(t.svc.list(new Map([['dangling', ['false']]])).map((v) => v.name), ['web']);
    assert.throws(() => t.svc.list(new Map([['bogus', ['x']]])), (e) => isInvalidParameter(e));
    await assert.rejects(t.svc.create({ name: 'a/b' }), (e) => isInvalidParameter(e));
    await assert.rejects(t.svc.create({ name: 'cc', driver: 'nfs-plugin' }), (e) => isNotFound(e));
    await assert.rejects(t.svc.create({ name: 'dd', options: { bogus: '1' } }), (e) => isInvalidParameter(e));
    await assert.rejects(t.svc.remove('web'), (e) => isConflict(e) && /volume is in use - \[c1\]/.test((e as Error).message));
    await assert.rejects(t.svc.remove('web', { force: true }), (e) => isConflict(e));
    await assert.rejects(t.svc.remove('zz'), (e) => isNotFound(e));
    await t.svc.remove('zz', { force: true });
    await t.svc.remove('aa');
    assert.ok(!existsSync(a.volume.mountpoint));
    assert.deepEqual(t.events, ['create aa', 'create web', `create ${anon.name}`, 'destroy aa']);
  } finally {
    await t.cleanup();
  }
});

test('prune takes anonymous unused volumes, all unused with all=true', async () => {
  const users: Record<string, string[]> = {};
  const t = await setup(users);
  try {
    await t.svc.create({ name: 'named' });
    const anon = (await t.svc.create({ labels: { [ANONYMOUS_LABEL]: '' } })).volume;
    const used = (await t.svc.create({ labels: { [ANONYMOUS_LABEL]: '' } })).volume;
    users[used.name] = ['c'];
    await writeFile(join(anon.mountpoint, 'f'), 'x'.repeat(100));
    const r = await t.svc.prune();
    assert.deepEqual(r.deleted, [anon.name]);
    assert.equal(r.reclaimed, 100);
    assert.deepEqual((await t.svc.prune(new Map([['all', ['true']]]))).deleted, ['named']);
    assert.deepEqual(t.svc.list().map((v) => v.name), [used.name]);
  } finally {
    await t.cleanup();
  }
});

test('option-backed volumes are mounted once and unmounted on remove', async () => {
  const t = await setup();
  try {
    const v = (await t.svc.create({ name: 'tv', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } })).volume;
    await t.svc.mount('tv');
    await t.svc.mount('tv');
    assert.deepEqual(t.runner.calls, [['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', v.mountpoint]]);
    await t.svc.remove('tv');
    assert.deepEqual(t.runner.calls[1], ['umount', v.mountpoint]);
    await assert.rejects(t.svc.create({ name: 'bind', options: { type: 'none', o: 'bind', device: 'relative' } }), (e) => isInvalidParameter(e));
  } finally {
    await t.cleanup();
  }
});
