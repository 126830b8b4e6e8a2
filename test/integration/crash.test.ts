/**
 * Crash consistency (issue 17 item 3): berthd is started with BERTH_FAULT=<point> (see
 * src/common/fault-point.ts), so it kills itself with SIGKILL at that point of a pull, a build
 * step, a commit, create/start, `rm -f`, a volume removal, a network create or an image removal;
 * then it is started again and: no half-made object is visible, nothing complete is lost, the
 * interrupted work can be repeated, and once everything is removed no layer, container dir,
 * volume dir or bridge is left (no orphaned or doubly referenced layer).
 */
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startDaemon, runCommand, eventually, type TestDaemon } from '../helpers/daemon.js';
import { makeLayer } from '../helpers/registry.js';
import { serveImage } from '../helpers/tiny-registry.js';

const ls = (dir: string) => readdir(dir).catch(() => [] as string[]);

describe('crash consistency', () => {
  let d: TestDaemon;
  let reg: Awaited<ReturnType<typeof serveImage>>;
  let ctx: string;
  let ref: string;
  before(async () => {
    reg = await serveImage('test/crash', [await makeLayer([{ name: 'a', body: 'one\n' }]), await makeLayer([{ name: 'b', body: 'two\n' }])]);
    ref = `127.0.0.1:${reg.port}/test/crash:latest`;
    ctx = await mkdtemp(join(tmpdir(), 'berth-crash-ctx-'));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
    d = await startDaemon('crash');
  });
  after(async () => {
    await reg?.close();
    await d?.destroy();
    if (ctx) await rm(ctx, { recursive: true, force: true });
  });

  // Each case starts from an empty daemon, whatever the one before left.
  beforeEach(async () => {
    if (d.proc?.exitCode !== null || d.proc?.signalCode !== null) await d.start();
    for (const c of (await d.api('GET', '/containers/json?all=1')).json() as { Id: string }[]) await d.api('DELETE', `/containers/${c.Id}?force=1&v=1`);
    for (const i of (await d.api('GET', '/images/json?all=1')).json() as { Id: string }[]) await d.api('DELETE', `/images/${i.Id}?force=1`);
    await d.api('POST', '/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D');
    await d.api('POST', '/networks/prune');
  });

  /** Restarts berthd armed at `point`, runs `action` (which the crash makes fail), restarts it unarmed. */
  async function crashAt<T>(point: string, action: () => Promise<T>): Promise<T> {
    await d.stop();
    process.env['BERTH_FAULT'] = point;
    try {
      await d.start();
    } finally {
      delete process.env['BERTH_FAULT'];
    }
    const p = d.proc!;
    const died = new Promise<string | null>((r) => p.once('exit', (_c, sig) => r(sig)));
    const out = await action();
    const sig = await Promise.race([died, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    assert.equal(sig, 'SIGKILL', `berthd did not reach fault point ${point}`);
    await d.start();
    return out;
  }

  /**
   * Removes every object through the API, then checks the data root and the host hold nothing
   * of them: a layer left means a reference was leaked; a directory left, a half-made object.
   */
  async function assertNothingLeft(): Promise<void> {
    for (const c of (await d.api('GET', '/containers/json?all=1')).json() as { Id: string }[]) assert.equal((await d.api('DELETE', `/containers/${c.Id}?force=1&v=1`)).status, 204);
    for (const i of (await d.api('GET', '/images/json?all=1')).json() as { Id: string }[]) assert.equal((await d.api('DELETE', `/images/${i.Id}?force=1`)).status, 200);
    assert.equal((await d.api('POST', '/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D')).status, 200);
    assert.equal((await d.api('POST', '/networks/prune')).status, 200);
    const root = d.dataRoot;
    await eventually(async () => (await ls(join(root, 'containers'))).length === 0, 10_000, `container dirs gone: ${(await ls(join(root, 'containers'))).join(' ')}`).catch(async (e) => {
      assert.deepEqual(await ls(join(root, 'containers')), [], String(e));
    });
    // Removed containers give their layers back in the background: wait for that, briefly.
    const layersLeft = async () => [...(await ls(join(root, 'image', 'layers'))).filter((n) => n !== '.ingest'), ...(await ls(join(root, 'image', 'layers', '.ingest')))];
    await eventually(async () => (await layersLeft()).length === 0, 5_000, 'layers released').catch(() => undefined);
    assert.deepEqual(await layersLeft(), [], 'no layer left once every image and container is gone (a leaked reference)');
    assert.deepEqual(await ls(join(root, 'image', 'ingest')), []);
    assert.deepEqual((await ls(join(root, 'volumes'))).filter((n) => !n.endsWith('.db')), []);
    const df = (await d.api('GET', '/system/df')).json() as { LayersSize: number; Images: unknown[]; Containers: unknown[]; Volumes: unknown[] };
    assert.equal(df.LayersSize, 0);
    assert.deepEqual([df.Images.length, df.Containers.length, df.Volumes.length], [0, 0, 0]);
    const links = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter((l) => l.includes(`alias berth:${root}`));
    // Only the default bridge stays.
    assert.deepEqual(links.map((l) => l.split(':')[1]!.trim()), [d.net!.bridge], 'no bridge or veth of a removed network or container');
  }

  test('pull: killed after the first layer is committed, and before the final tag', async () => {
    for (const point of ['pull-layer-committed', 'pull-before-tag']) {
      const r = await crashAt(point, () => d.berth(['pull', ref]));
      assert.notEqual(r.code, 0);
      assert.equal((await d.berth(['images', '-q'])).stdout.trim(), '', `${point}: no half image`);
      assert.deepEqual((await ls(join(d.dataRoot, 'image', 'layers'))).filter((n) => n !== '.ingest'), [], `${point}: no layer of the unfinished pull`);
      const again = await d.berth(['pull', ref]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await d.berth(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', ref])).stdout.trim(), '2');
      await assertNothingLeft();
    }
  });

  test('build: killed after a RUN step ran, before its layer is taken', async () => {
    await d.importBusybox();
    const r = await crashAt('build-step-ran', () => d.berth(['build', '-t', 'crashbuilt', ctx]));
    assert.notEqual(r.code, 0);
    assert.equal((await d.berth(['images', '-q', 'crashbuilt'])).stdout.trim(), '', 'no half-built image');
    assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '', 'no intermediate container left');
    assert.equal((await d.berth(['images', '-q', 'busybox'])).stdout.trim().length, 12, 'the base image is kept');
    const again = await d.berth(['build', '-t', 'crashbuilt', ctx]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await d.berth(['run', '--rm', 'crashbuilt', 'cat', '/built'])).stdout, 'built\n');
    await assertNothingLeft();
  });

  test('build and commit: killed with the new layer registered, no image record yet', async () => {
    await d.importBusybox();
    const b = await crashAt('image-create-layer', () => d.berth(['build', '-t', 'crashbuilt', ctx]));
    assert.notEqual(b.code, 0);
    assert.equal((await d.berth(['images', '-q', 'crashbuilt'])).stdout.trim(), '');
    assert.equal((await d.berth(['build', '-t', 'crashbuilt', ctx])).code, 0);
    assert.equal((await d.berth(['run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo c > /c'])).code, 0);
    const c = await crashAt('image-create-layer', () => d.berth(['commit', 'tocommit', 'committed']));
    assert.notEqual(c.code, 0);
    assert.equal((await d.berth(['images', '-q', 'committed'])).stdout.trim(), '', 'no half-committed image');
    assert.equal((await d.berth(['ps', '-aq', '--filter', 'name=tocommit'])).stdout.trim().length, 12, 'the container is kept');
    assert.equal((await d.berth(['commit', 'tocommit', 'committed'])).code, 0);
    assert.equal((await d.berth(['run', '--rm', 'committed', 'cat', '/c'])).stdout, 'c\n');
    await assertNothingLeft();
  });

  test('create killed before its store row, run killed between create and start', async () => {
    await d.importBusybox();
    const c = await crashAt('container-created', () => d.berth(['create', '--name', 'half', 'busybox']));
    assert.notEqual(c.code, 0);
    assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '', 'no half-made container');
    assert.deepEqual(await ls(join(d.dataRoot, 'containers')), [], 'no directory of a container never recorded');
    assert.equal((await d.berth(['create', '--name', 'half', 'busybox'])).code, 0, 'the name is free');
    assert.equal((await d.berth(['rm', 'half'])).code, 0);
    const r = await crashAt('container-start', () => d.berth(['run', '-d', '--name', 'created', 'busybox', 'sleep', '300']));
    assert.notEqual(r.code, 0);
    // The create was complete: the container is kept, created, and can be started.
    assert.equal((await d.berth(['inspect', '--format', '{{.State.Status}}', 'created'])).stdout.trim(), 'created');
    assert.equal((await d.berth(['start', 'created'])).code, 0);
    assert.equal((await d.berth(['inspect', '--format', '{{.State.Status}}', 'created'])).stdout.trim(), 'running');
    await assertNothingLeft();
  });

  test('rm -f killed after the container left the API: its removal is finished at restart', async () => {
    await d.importBusybox();
    assert.equal((await d.berth(['run', '-d', '--name', 'victim', '-v', '/anon', 'busybox', 'sleep', '300'])).code, 0);
    const r = await crashAt('container-remove', () => d.berth(['rm', '-f', 'victim']));
    assert.notEqual(r.code, 0);
    assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '');
    await eventually(async () => (await ls(join(d.dataRoot, 'containers'))).length === 0, 10_000, 'container dir reclaimed');
    assert.equal((await d.berth(['run', '--rm', '--name', 'victim', 'busybox', 'true'])).code, 0, 'the name can be used again');
    await assertNothingLeft();
  });

  test('volume rm killed after its directory went: the volume is not listed half-removed', async () => {
    assert.equal((await d.berth(['volume', 'create', 'crashvol'])).code, 0);
    assert.equal((await d.berth(['volume', 'create', 'keptvol'])).code, 0);
    const r = await crashAt('volume-remove', () => d.berth(['volume', 'rm', 'crashvol']));
    assert.notEqual(r.code, 0);
    const names = (await d.berth(['volume', 'ls', '-q'])).stdout.trim().split('\n');
    assert.deepEqual(names, ['keptvol'], 'the removed volume is gone, the other kept');
    assert.equal((await d.berth(['volume', 'create', 'crashvol'])).code, 0, 'the name can be used again');
    await d.importBusybox();
    assert.equal((await d.berth(['run', '--rm', '-v', 'crashvol:/v', 'busybox', 'sh', '-c', 'echo x > /v/x'])).code, 0);
    await assertNothingLeft();
  });

  test('network create killed with its bridge made: no network, no bridge left', async () => {
    const r = await crashAt('network-create', () => d.berth(['network', 'create', 'crashnet']));
    assert.notEqual(r.code, 0);
    assert.equal((await d.berth(['network', 'ls', '-q', '--filter', 'name=crashnet'])).stdout.trim(), '');
    const links = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter((l) => l.includes(`alias berth:${d.dataRoot}`));
    assert.equal(links.length, 1, `only the default bridge: ${links.join('\n')}`);
    assert.equal((await d.berth(['network', 'create', 'crashnet'])).code, 0);
    await assertNothingLeft();
  });

  test('rmi killed with the image record gone, its layers not yet released', async () => {
    assert.equal((await d.berth(['pull', ref])).code, 0);
    const r = await crashAt('image-remove', () => d.berth(['rmi', ref]));
    assert.notEqual(r.code, 0);
    assert.equal((await d.berth(['images', '-q'])).stdout.trim(), '');
    await eventually(async () => (await ls(join(d.dataRoot, 'image', 'layers'))).filter((n) => n !== '.ingest').length === 0, 5_000, 'the layers of the removed image released');
    assert.equal((await d.berth(['pull', ref])).code, 0, 'it can be pulled again');
    await assertNothingLeft();
  });
});

describe('crash consistency: conmon and the OCI runtime', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('crashrt');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  /** Pids whose command line holds `needle`. */
  async function pidsWith(needle: string): Promise<number[]> {
    const out: number[] = [];
    for (const p of await ls('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes(needle)) out.push(Number(p));
    }
    return out;
  }

  test('conmon killed: the container is reported exited and can be removed', async () => {
    const r = await d.berth(['run', '-d', '--name', 'monitored', 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const conmons = (await pidsWith(id)).filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'conmon');
    assert.equal(conmons.length, 1, 'one conmon for the container');
    process.kill(conmons[0]!, 'SIGKILL');
    const status = await eventually(async () => {
      const s = (await d.berth(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim();
      return s.startsWith('exited') ? s : undefined;
    }, 20_000, 'the container reported exited').catch(async () => (await d.berth(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim());
    console.log(`# after conmon was killed: ${status}`);
    assert.match(status, /^exited \d+$/);
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    assert.deepEqual(await pidsWith(id), [], 'no process of the container left');
  });

  test('the runtime refusing the spec: a clear error, nothing running, removal leaves nothing', async () => {
    const r = await d.berth(['run', '--name', 'refused', '--cpuset-cpus', '1023', 'busybox', 'true']);
    console.log(`# runtime refusal: ${r.code} ${r.stderr.trim()}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cpuset|OCI runtime|crun/i);
    const st = (await d.berth(['inspect', '--format', '{{.State.Status}}', 'refused'])).stdout.trim();
    assert.ok(st === 'created' || st === 'exited' || st === '', `state ${st}`);
    const id = (await d.berth(['ps', '-aq', '--no-trunc', '--filter', 'name=refused'])).stdout.trim();
    if (id) {
      assert.deepEqual(await pidsWith(id), [], 'no conmon or process of it');
      assert.equal((await d.berth(['rm', '-f', id])).code, 0);
    }
    await eventually(async () => (await ls(join(d.dataRoot, 'containers'))).length === 0, 10_000, 'its directory removed');
    assert.deepEqual(await ls(join(d.execRoot, 'crun')).then((l) => l.filter((n) => id && n.startsWith(id))), []);
  });
});
