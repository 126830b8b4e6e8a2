import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnRunner, type CommandRunner, type RunOptions, type RunResult } from '../common/command-runner.js';
import { Snapshotter, parseMountInfo } from './snapshotter.js';
import { requireRoot } from './_test-helpers.js';

let top: string;
before(async () => {
  top = await mkdtemp(join(tmpdir(), 'berth-snap-'));
});
after(async () => {
  if (top) await rm(top, { recursive: true, force: true });
});

class FakeRunner implements CommandRunner {
  readonly calls: { argv: string[]; cwd?: string }[] = [];
  mounted = new Set<string>();
  busy = false;
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ argv: [...argv], ...(options.cwd ? { cwd: options.cwd } : {}) });
    if (argv[0] === 'mount') this.mounted.add(argv[argv.length - 1]!);
    if (argv[0] === 'umount') {
      if (this.busy && argv[1] !== '-l') return { code: 32, stdout: '', stderr: 'target is busy' };
      this.mounted.delete(argv[argv.length - 1]!);
    }
    return { code: 0, stdout: '', stderr: '' };
  }
  mountInfo = async (): Promise<string> =>
    [...this.mounted].map((m, i) => `${100 + i} 1 0:50 / ${m.replace(/ /g, '\\040')} rw - overlay overlay rw`).join('\n');
}

test('prepare creates upper and work and describes the overlay mount', async () => {
  const fake = new FakeRunner();
  const snap = new Snapshotter(join(top, 'fake1'), fake, { readMountInfo: fake.mountInfo });
  const m = await snap.prepare('c1', ['/l/top', '/l/bottom']);
  const p = snap.paths('c1');
  assert.ok((await stat(p.upper)).isDirectory());
  assert.ok((await stat(p.work)).isDirectory());
  assert.deepEqual(m, { type: 'overlay', source: 'overlay', options: ['lowerdir=/l/top:/l/bottom', `upperdir=${p.upper}`, `workdir=${p.work}`] });
  assert.throws(() => snap.paths('../etc'), /invalid snapshot key/);
});

test('mount runs mount -t overlay once; a mounted target is a no-op', async () => {
  const fake = new FakeRunner();
  const snap = new Snapshotter(join(top, 'fake2'), fake, { readMountInfo: fake.mountInfo });
  await snap.prepare('c1', ['/l/a']);
  const p = snap.paths('c1');
  await snap.mount('c1', ['/l/a'], p.merged);
  await snap.mount('c1', ['/l/a'], p.merged);
  assert.deepEqual(fake.calls, [{ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/l/a,upperdir=${p.upper},workdir=${p.work}`, p.merged] }]);
  fake.busy = true;
  await snap.unmount(p.merged);
  assert.deepEqual(fake.calls.slice(1).map((c) => c.argv), [['umount', p.merged], ['umount', '-l', p.merged]]);
  await snap.unmount(p.merged);
  assert.equal(fake.calls.length, 3);
  await assert.rejects(snap.mount('nope', ['/l/a'], join(top, 'x')), /snapshot nope is not prepared/);
});

test('many layers are mounted with relative paths from their common ancestor', async () => {
  const fake = new FakeRunner();
  const root = join(top, 'data');
  const snap = new Snapshotter(join(root, 'containers'), fake, { readMountInfo: fake.mountInfo });
  const lowers = Array.from({ length: 50 }, (_, i) => join(root, 'layers', i.toString(16).padStart(64, '0'), 'diff'));
  await snap.prepare('c1', lowers);
  await snap.mount('c1', lowers, join(top, 'mnt'));
  const call = fake.calls[0]!;
  assert.equal(call.cwd, root);
  assert.ok(call.argv[5]!.startsWith(`lowerdir=layers/${'0'.repeat(64)}/diff:`));
  assert.ok(call.argv[5]!.endsWith(',upperdir=containers/c1/upper,workdir=containers/c1/work'));
  const tooMany = Array.from({ length: 200 }, (_, i) => join(root, 'layers', i.toString(16).padStart(64, '0'), 'diff'));
  await assert.rejects(snap.mount('c1', tooMany, join(top, 'mnt2')), /200 layers exceed the kernel's mount option limit/);
});

test('parses mountinfo escapes', () => {
  assert.deepEqual(parseMountInfo('36 35 98:0 /mnt1 /mnt\\040with\\040space rw - ext3 /dev/root rw\n'), ['/mnt with space']);
});

test('real overlay: writes go to upper, lower dirs stay untouched, remove cleans up', async () => {
  requireRoot();
  const runner = new SpawnRunner();
  const snap = new Snapshotter(join(top, 'real'), runner);
  const lower1 = join(top, 'lower1');
  const lower2 = join(top, 'lower2');
  await mkdir(lower1);
  await mkdir(lower2);
  await writeFile(join(lower1, 'a'), 'top');
  await writeFile(join(lower2, 'a'), 'bottom');
  await writeFile(join(lower2, 'b'), 'b');
  await snap.prepare('c1', [lower1, lower2]);
  const p = snap.paths('c1');
  try {
    await snap.mount('c1', [lower1, lower2], p.merged);
    await snap.mount('c1', [lower1, lower2], p.merged);
    assert.equal(await readFile(join(p.merged, 'a'), 'utf8'), 'top');
    await writeFile(join(p.merged, 'new'), 'n');
    await rm(join(p.merged, 'b'));
    assert.deepEqual((await readdir(p.merged)).sort(), ['a', 'new']);
    assert.deepEqual((await readdir(lower2)).sort(), ['a', 'b']);
    assert.equal(await readFile(join(p.upper, 'new'), 'utf8'), 'n');
    assert.ok((await stat(join(p.upper, 'b'))).isCharacterDevice());
    await snap.unmount(p.merged);
    assert.equal(await snap.isMounted(p.merged), false);
    await snap.mount('c1', [lower1, lower2], p.merged);
    assert.equal(await readFile(join(p.merged, 'new'), 'utf8'), 'n');
  } finally {
    await snap.remove('c1');
  }
  await assert.rejects(stat(p.dir), { code: 'ENOENT' });
  assert.equal(await snap.isMounted(p.merged), false);
});
