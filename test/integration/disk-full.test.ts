/**
 * Disk full (issue 17 item 4): berthd's data root on a 200 MB ext4 image loop-mounted by the
 * test. With the filesystem filled (fallocate), a pull, a build, a commit, `cp` into a
 * container and a volume write fail with `no space left on device`, the store stays consistent,
 * and each succeeds once the space is freed. Then `system df` is compared with `du`, and
 * `system prune -a --volumes` must give the filesystem back its size from before the pulls.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createDaemon, runCommand, eventually, type TestDaemon } from '../helpers/daemon.js';
import { makeLayer } from '../helpers/registry.js';
import { serveImage } from '../helpers/tiny-registry.js';

/** 1% of the 200 MB: what stays after the files are gone (the store's WAL, ~0.7 MB here, and grown directories). */
const SLACK = 2 << 20;
const ls = (dir: string) => readdir(dir).catch(() => [] as string[]);

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args, {});
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Used and available bytes of the filesystem at `dir`. */
async function usage(dir: string): Promise<{ used: number; avail: number }> {
  const [used, avail] = (await sh('df', ['-B1', '--output=used,avail', dir])).trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
  return { used: used!, avail: avail! };
}

describe('disk full', () => {
  let d: TestDaemon | undefined;
  let work: string;
  let img: string;
  let reg: Awaited<ReturnType<typeof serveImage>> | undefined;
  let ref: string;
  let mounted = false;
  const fillers: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-diskfull-'));
    img = join(work, 'fs.img');
    await sh('truncate', ['-s', '200M', img]);
    await sh('mkfs.ext4', ['-q', '-F', '-m', '0', img]);
    d = await createDaemon('diskfull');
    await mkdir(d.dataRoot, { recursive: true });
    await sh('mount', ['-o', 'loop', img, d.dataRoot]);
    mounted = true;
    await d.start();
    // 24 MB of incompressible layers (two), pulled from a loopback registry.
    reg = await serveImage('test/full', [await makeLayer([{ name: 'a', body: randomBytes(12 << 20) }]), await makeLayer([{ name: 'b', body: randomBytes(12 << 20) }])]);
    ref = `127.0.0.1:${reg.port}/test/full:latest`;
  });
  after(async () => {
    await reg?.close();
    if (d) {
      for (const f of fillers) await rm(f, { force: true });
      await d.destroy().catch(() => undefined);
    }
    // destroy unmounts lazily; make sure the loop device is gone too.
    if (mounted) await runCommand('umount', [d!.dataRoot], {});
    const loops = (await runCommand('losetup', ['-j', img], {})).stdout.split('\n').map((l) => l.split(':')[0]!).filter(Boolean);
    for (const l of loops) await runCommand('losetup', ['-d', l], {});
    await rm(work, { recursive: true, force: true });
  });

  /** Fills the filesystem to its last block. */
  async function fill(): Promise<void> {
    for (let i = 0; i < 4; i++) {
      const { avail } = await usage(d!.dataRoot);
      if (avail < 4096) return;
      const f = join(d!.dataRoot, `filler-${fillers.length}`);
      fillers.push(f);
      await runCommand('fallocate', ['-l', String(avail), f], {});
    }
    // What fallocate could not take (metadata rounding) goes to a plain write.
    await runCommand('dd', ['if=/dev/zero', `of=${join(d!.dataRoot, 'filler-dd')}`, 'bs=4096'], {});
    fillers.push(join(d!.dataRoot, 'filler-dd'));
  }
  async function free(): Promise<void> {
    for (const f of fillers.splice(0)) await rm(f, { force: true });
  }

  let base: { used: number; avail: number };
  test('pull, build, commit, cp and volume writes fail clearly on a full disk and work once space is freed', async () => {
    base = await usage(d!.dataRoot);
    const ctx = join(work, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN head -c 2000000 /dev/urandom > /blob\n');
    await writeFile(join(work, 'payload'), randomBytes(2 << 20));
    await d!.importBusybox();
    assert.equal((await d!.berth(['run', '-d', '--name', 'box', '-v', 'fullvol:/vol', 'busybox', 'sleep', '600'])).code, 0);
    assert.equal((await d!.berth(['exec', 'box', 'sh', '-c', 'head -c 1000000 /dev/urandom > /changed'])).code, 0);

    await fill();
    assert.ok((await usage(d!.dataRoot)).avail < 65536, 'the filesystem is full');

    const pull = await d!.berth(['pull', ref], { timeoutMs: 60_000 });
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /no space left on device/i);
    assert.equal((await d!.berth(['images', '-q', ref])).stdout.trim(), '', 'no half-pulled image');
    assert.deepEqual(await ls(join(d!.dataRoot, 'image', 'ingest')), [], 'no partial blob kept');
    assert.deepEqual(await ls(join(d!.dataRoot, 'image', 'layers', '.ingest')), [], 'no partial layer kept');

    const build = await d!.berth(['build', '-t', 'fullbuild', ctx], { timeoutMs: 60_000 });
    assert.notEqual(build.code, 0);
    assert.match(build.stdout + build.stderr, /no space left on device/i);
    assert.equal((await d!.berth(['images', '-q', 'fullbuild'])).stdout.trim(), '');

    const commit = await d!.berth(['commit', 'box', 'fullcommit']);
    assert.notEqual(commit.code, 0);
    assert.match(commit.stderr, /no space left on device/i);
    assert.equal((await d!.berth(['images', '-q', 'fullcommit'])).stdout.trim(), '');

    const cp = await d!.berth(['cp', join(work, 'payload'), 'box:/payload']);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /no space left on device/i);

    const vol = await d!.berth(['exec', 'box', 'sh', '-c', 'head -c 2000000 /dev/zero > /vol/v']);
    // The write is the container's own: the kernel's error reaches it (busybox reports a
    // failed flush of a full ext4 as an I/O error).
    assert.notEqual(vol.code, 0);
    assert.match(vol.stderr, /no space left on device|I\/O error/i);

    // The daemon still answers and its store is whole.
    assert.equal((await d!.berth(['inspect', '--format', '{{.State.Status}}', 'box'])).stdout.trim(), 'running');

    await free();
    const pull2 = await d!.berth(['pull', ref], { timeoutMs: 60_000 });
    assert.equal(pull2.code, 0, pull2.stderr);
    const build2 = await d!.berth(['build', '-t', 'fullbuild', ctx], { timeoutMs: 60_000 });
    assert.equal(build2.code, 0, build2.stderr);
    const commit2 = await d!.berth(['commit', 'box', 'fullcommit']);
    assert.equal(commit2.code, 0, commit2.stderr);
    const cp2 = await d!.berth(['cp', join(work, 'payload'), 'box:/payload']);
    assert.equal(cp2.code, 0, cp2.stderr);

    const vol2 = await d!.berth(['exec', 'box', 'sh', '-c', 'head -c 2000000 /dev/zero > /vol/v && echo logged']);
    assert.equal(vol2.code, 0, vol2.stderr);
    assert.equal((await d!.berth(['run', '--rm', 'fullcommit', 'test', '-f', '/changed'])).code, 0);

  });

  test('system df agrees with du on the data root within 1%', async () => {
    // An idle berthd (5 s without requests) has truncated its store's WAL (daemon/idle-trim.ts).
    await new Promise((r) => setTimeout(r, 6500));
    const du = Number((await sh('du', ['-sb', '-x', d!.dataRoot])).split('\t')[0]);
    const df = (await d!.api('GET', '/system/df')).json() as { LayersSize: number; Containers: { SizeRw?: number }[]; Volumes: { UsageData: { Size: number } }[] };
    const dfTotal = df.LayersSize + df.Containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0) + df.Volumes.reduce((n, v) => n + Math.max(0, v.UsageData.Size), 0);
    console.log(`# system df total ${dfTotal} bytes, du -sb ${du} bytes, ratio ${(dfTotal / du).toFixed(4)}`);
    console.log((await sh('du', ['-sb', '-x', ...(await readdir(d!.dataRoot)).map((n) => join(d!.dataRoot, n))])).replace(/^/gm, '# '));
    assert.ok(Math.abs(dfTotal - du) / du < 0.01, `system df ${dfTotal} vs du ${du}`);

  });

  test('system prune -a --volumes gives the filesystem back its size from before the pulls', async () => {
    assert.equal((await d!.berth(['rm', '-f', 'box'])).code, 0);
    // What `docker system prune -a --volumes` asks for (berthd has no /build/prune: its build
    // cache is the images themselves, pruned with them).
    for (const path of ['/containers/prune', '/networks/prune', `/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}`, `/images/prune?filters=${encodeURIComponent('{"dangling":["false"]}')}`]) {
      const r = await d!.api('POST', path);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
    }
    const after = await eventually(async () => {
      const u = await usage(d!.dataRoot);
      return u.used <= base.used + SLACK ? u : undefined;
    }, 20_000, 'disk back to its size').catch(async () => usage(d!.dataRoot));
    console.log(`# used before ${base.used}, after prune ${after.used}`);
    const left = (await sh('du', ['-ab', '-x', '--max-depth=3', d!.dataRoot])).split('\n').filter((l) => Number(l.split('\t')[0]) > 16384).join('\n');
    assert.ok(after.used <= base.used + SLACK, `used ${after.used} bytes after prune, ${base.used} before the pulls:\n${left}`);
  });
});
