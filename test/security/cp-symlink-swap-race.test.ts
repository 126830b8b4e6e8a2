/**
 * Issue 24 item 1: `docker cp` racing a container that swaps paths for symlinks (the
 * CVE-2018-15664 class). Copying into a running container went through /proc/<pid>/root with
 * chmod/utimes applied to the path again after the file was written: a container that replaced
 * the new file with a symlink to a host file meanwhile changed that host file's mode and mtime.
 * Copying out (GET archive) looked a directory up with lstat, then read it by path: a directory
 * swapped for a symlink to a host directory in between put host files into the archive.
 *
 * Each test runs the container's swap loop for a bounded number of copies and then checks a
 * canary on the host.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import tar from 'tar-stream';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

const ATTEMPTS = 12;
const TIME_BUDGET_MS = 25_000;

async function tarOf(entries: Array<{ name: string; type?: 'file' | 'directory'; size?: number; mode: number; mtime: Date }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: e.mode, mtime: e.mtime });
    else pack.entry({ name: e.name, type: 'file', mode: e.mode, mtime: e.mtime }, Buffer.alloc(e.size ?? 0, 0x61));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** GET over the socket, keeping whatever arrived even when the response is cut off. */
function partialGet(socketPath: string, path: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks));
    const req = http.request({ socketPath, method: 'GET', path, timeout: 10_000 }, (res) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('aborted', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', done);
    req.end();
  });
}

describe('security: docker cp racing a container that swaps paths for symlinks (CVE-2018-15664)', () => {
  const suite = daemonWithWorkDir('sec-cp', 'berth-test-sec-cp-');
  let d: TestDaemon;
  let work: string;
  before(() => {
    ({ d, work } = suite);
  });
  const { ok } = cliChecks(() => d, 'docker');

  test('copying into a running container never changes the mode or mtime of a host file', { timeout: 120_000 }, async () => {
    const canary = join(work, 'canary');
    await writeFile(canary, 'host file\n');
    await chmod(canary, 0o600);
    const canaryTime = new Date('2020-01-01T00:00:00Z');
    await utimes(canary, canaryTime, canaryTime);
    // The loop replaces whatever cp creates at /dst/big with a link to the host's canary.
    await ok(['run', '-d', '--network', 'none', '--name', 'swapper', 'busybox', 'sh', '-c', `mkdir -p /dst; while :; do rm -f /dst/big; ln -s ${canary} /dst/big 2>/dev/null; done`]);
    const body = await tarOf([{ name: 'big', size: 8 << 20, mode: 0o777, mtime: new Date('2001-09-09T01:46:40Z') }]);
    const t0 = Date.now();
    for (let i = 0; i < ATTEMPTS && Date.now() - t0 < TIME_BUDGET_MS; i++) {
      const r = await d.api('PUT', '/containers/swapper/archive?path=/dst', body, { 'Content-Type': 'application/x-tar' });
      void r;
      const st = await stat(canary);
      assert.equal(st.mode & 0o7777, 0o600, `attempt ${i + 1}: the host file's mode was changed through the container`);
      assert.equal(st.mtime.getTime(), canaryTime.getTime(), `attempt ${i + 1}: the host file's mtime was changed through the container`);
    }
    await ok(['rm', '-f', 'swapper']);
  });

  test('copying out of a running container never reads a host directory swapped in mid-read', { timeout: 120_000 }, async () => {
    const secretDir = join(work, 'hostdir');
    await mkdir(secretDir);
    for (let i = 0; i < 20; i++) await writeFile(join(secretDir, `secret${i}`), 'HOST-SECRET-CONTENT\n');
    // /src/d flips between an empty directory and a link to the host directory; the link stays
    // long enough for a copy that looked at the directory to read through it.
    await ok(['run', '-d', '--network', 'none', '--name', 'dirswapper', 'busybox', 'sh', '-c',
      `mkdir -p /src; while :; do mkdir /src/d; usleep 300; rmdir /src/d; ln -s ${secretDir} /src/d; usleep 2000; rm /src/d; done`]);
    const t0 = Date.now();
    for (let i = 0; i < 600 && Date.now() - t0 < TIME_BUDGET_MS; i++) {
      // A copy that meets a swapped path is cut off (the response ends early): that is a refusal, not a leak.
      const body = await partialGet(d.socket, '/containers/dirswapper/archive?path=/src');
      assert.ok(!body.includes('HOST-SECRET-CONTENT'), `attempt ${i + 1}: a host file was copied out of the container`);
    }
    assert.equal((await d.api('GET', '/_ping')).status, 200, 'the daemon keeps serving');
    await ok(['rm', '-f', 'dirswapper']);
  });

  test('a read-only volume below the destination of a stopped container is refused', async () => {
    await ok(['create', '--name', 'rovol', '--network', 'none', '-v', 'sec-ro:/data/ro:ro', 'busybox', 'true']);
    const body = await tarOf([{ name: 'data/', type: 'directory', mode: 0o755, mtime: new Date() }, { name: 'data/ro/', type: 'directory', mode: 0o755, mtime: new Date() }, { name: 'data/ro/x', size: 3, mode: 0o644, mtime: new Date() }]);
    const r = await d.api('PUT', '/containers/rovol/archive?path=/', body, { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 409, r.body.toString());
    assert.match(r.json().message, /read-only/);
    const ls = await d.docker(['run', '--rm', '--network', 'none', '-v', 'sec-ro:/v', 'busybox', 'ls', '/v']);
    assert.equal(ls.stdout.trim(), '', 'nothing was written into the read-only volume');
    await ok(['rm', '-f', 'rovol']);
  });
});
