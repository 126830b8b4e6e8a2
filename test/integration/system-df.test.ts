/**
 * Disk usage: `GET /system/df`, `berth system df [-v] [--format]` and `docker system df`
 * against berthd, with an image, a container that wrote 1 MB and a volume.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

interface Df {
  LayersSize: number;
  Images: { Id: string; Size: number; SharedSize: number; Containers: number }[];
  Containers: { Id: string; SizeRw: number; SizeRootFs: number; Names: string[] }[];
  Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
  BuildCache: unknown[];
}

describe('system df', () => {
  let d: TestDaemon;
  let imageId: string;
  before(async () => {
    d = await startDaemon('sysdf');
    imageId = await d.importBusybox();
    const r = await d.berth(['run', '--name', 'dfwriter', '-v', 'dfvol:/data', 'busybox', 'sh', '-c', 'head -c 1000000 /dev/zero > /big && head -c 3000 /dev/zero > /data/v']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await d.berth(['volume', 'create', 'dfidle'])).code, 0);
  });
  after(async () => {
    await d?.destroy();
  });

  test('GET /system/df: images, containers with SizeRw/SizeRootFs, volumes with usage', async () => {
    const res = await d.api('GET', '/system/df');
    assert.equal(res.status, 200);
    const df = res.json() as Df;
    assert.equal(df.Images.length, 1);
    const img = df.Images[0]!;
    assert.equal(img.Id, imageId.startsWith('sha256:') ? imageId : `sha256:${imageId}`);
    assert.equal(img.Containers, 1);
    assert.equal(img.SharedSize, 0);
    assert.ok(img.Size > 500_000, `busybox size ${img.Size}`);
    assert.equal(df.LayersSize, img.Size);
    const c = df.Containers.find((x) => x.Names.includes('/dfwriter'))!;
    assert.ok(c.SizeRw >= 1_000_000 && c.SizeRw < 1_100_000, `SizeRw ${c.SizeRw}`);
    // The root filesystem is the unpacked image under the writable layer (the image as listed),
    // while df's image Size is its disk usage: that plus the compressed blobs kept for it.
    const listed = ((await d.api('GET', '/images/json')).json() as { Size: number }[])[0]!.Size;
    assert.ok(img.Size > listed, `df ${img.Size} counts the kept blobs over the unpacked ${listed}`);
    assert.equal(c.SizeRootFs, c.SizeRw + listed);
    const used = df.Volumes.find((v) => v.Name === 'dfvol')!;
    assert.deepEqual(used.UsageData, { Size: 3000, RefCount: 1 });
    assert.deepEqual(df.Volumes.find((v) => v.Name === 'dfidle')!.UsageData, { Size: 0, RefCount: 0 });
    assert.deepEqual(df.BuildCache, []);
    const only = (await d.api('GET', '/system/df?type=volume')).json() as Partial<Df>;
    assert.equal(only.Images, undefined);
    assert.equal(only.Volumes!.length, 2);
  });

  test('GET /containers/json?size=1 and docker ps -s show the writable layer size', async () => {
    const list = (await d.api('GET', '/containers/json?all=1&size=1')).json() as { Names: string[]; SizeRw: number; SizeRootFs: number }[];
    const c = list.find((x) => x.Names.includes('/dfwriter'))!;
    assert.ok(c.SizeRw >= 1_000_000 && c.SizeRw < 1_100_000, `SizeRw ${c.SizeRw}`);
    assert.ok(c.SizeRootFs > c.SizeRw);
    const plain = (await d.api('GET', '/containers/json?all=1')).json() as { SizeRw?: number }[];
    assert.equal(plain[0]!.SizeRw, undefined);
    const ps = await d.docker(['ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}']);
    assert.match(ps.stdout, /^dfwriter 1MB \(virtual \S+MB\)$/m);
  });

  test('berth system df: summary, --format and -v', async () => {
    const r = await d.berth(['system', 'df']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
    assert.match(lines[1]!, /^Images\s+1\s+1\s+\S+MB\s+0B \(0%\)$/);
    assert.match(lines[2]!, /^Containers\s+1\s+0\s+1MB\s+1MB \(100%\)$/);
    assert.match(lines[3]!, /^Local Volumes\s+2\s+1\s+3kB\s+0B \(0%\)$/);
    assert.match(lines[4]!, /^Build Cache\s+0\s+0\s+0B\s+0B$/);
    const f = await d.berth(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
    assert.equal(f.stdout, 'Images=1\nContainers=1\nLocal Volumes=2\nBuild Cache=0\n');
    const v = await d.berth(['system', 'df', '-v']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Images space usage:\n\nREPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\nbusybox\s+latest\s+[0-9a-f]{12}\s+.+\s+1\n/);
    assert.match(v.stdout, /Containers space usage:[\s\S]*dfwriter/);
    assert.match(v.stdout, /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\n[\s\S]*dfvol\s+1\s+3kB/);
  });

  test('docker system df against berthd', async () => {
    const r = await d.docker(['system', 'df']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Images\s+1\s+1\s+/m);
    assert.match(r.stdout, /^Containers\s+1\s+0\s+1MB\s+1MB \(100%\)$/m);
    assert.match(r.stdout, /^Local Volumes\s+2\s+1\s+3kB/m);
    const v = await d.docker(['system', 'df', '-v']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /dfwriter/);
    assert.match(v.stdout, /dfvol\s+1\s+3kB/);
  });
});
