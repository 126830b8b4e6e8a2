import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, basename } from 'node:path';
import tar from 'tar-stream';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

/** A tar built entry by entry (hostile ones included). */
async function makeTar(entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 }, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

// cp, diff and export through berth, and the container-root confinement of every path (issue 7).
describe('cp, diff and export through berth', () => {
  const suite = daemonWithWorkDir('cp', 'berth-test-cp-work-');
  let d: TestDaemon;
  let work: string;
  before(() => {
    ({ d, work } = suite);
  });
  const { ok, fails } = cliChecks(() => d, 'berth');


  test('cp out of a stopped container: files, directories, dir/. and trailing-slash rules', async () => {
    await ok(['run', '--network', 'none', '--name', 'src', 'busybox', 'sh', '-c', 'mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s a /d/link']);
    const out = join(work, 'out1');
    await mkdir(out);
    await ok(['cp', 'src:/d/a', join(out, 'copy-a')]);
    assert.equal(await readFile(join(out, 'copy-a'), 'utf8'), 'a\n');
    await ok(['cp', 'src:/d', out]);
    assert.equal(await readFile(join(out, 'd', 'sub', 'b'), 'utf8'), 'b\n');
    await ok(['cp', 'src:/d/.', join(out, 'contents')]);
    assert.deepEqual((await readdir(join(out, 'contents'))).sort(), ['a', 'link', 'sub']);
    await mkdir(join(out, 'existing'));
    await ok(['cp', 'src:/d/.', join(out, 'existing')]);
    assert.deepEqual((await readdir(join(out, 'existing'))).sort(), ['a', 'link', 'sub']);
    await ok(['cp', 'src:/d/link', join(out, 'l')]);
    assert.ok((await lstat(join(out, 'l'))).isSymbolicLink(), 'a link is copied as a link without -L');
    await ok(['cp', '-L', 'src:/d/link', join(out, 'followed')]);
    assert.equal(await readFile(join(out, 'followed'), 'utf8'), 'a\n');
    await fails(['cp', 'src:/d', join(out, 'copy-a')], /cannot copy directory/);
    await fails(['cp', 'src:/d/a', join(out, 'nodir') + '/'], /no such directory/);
    await fails(['cp', 'src:/nope', out], /Could not find the file \/nope in container src/);
    // `-` writes a tar to stdout.
    const tarOut = await d.berth(['cp', 'src:/d/sub', '-']);
    assert.equal(tarOut.code, 0, tarOut.stderr);
    await writeFile(join(work, 'sub.tar'), tarOut.stdout, 'latin1');
    assert.deepEqual(execFileSync('tar', ['-tf', join(work, 'sub.tar')]).toString().trim().split('\n').sort(), ['sub/', 'sub/b']);
  });

  test('cp into running and stopped containers, into volume mounts, and a tar on stdin', async () => {
    await ok(['run', '-d', '--network', 'none', '--name', 'live', '-v', 'cpvol:/vol', 'busybox', 'sleep', '300']);
    const f = join(work, 'up.txt');
    await writeFile(f, 'up\n');
    const dir = join(work, 'updir');
    await mkdir(join(dir, 'inner'), { recursive: true });
    await writeFile(join(dir, 'inner', 'x'), 'x\n');
    await ok(['cp', f, 'live:/tmp/']);
    await ok(['cp', f, 'live:/tmp/renamed.txt']);
    await ok(['cp', dir, 'live:/tmp/']);
    await ok(['cp', f, 'live:/vol/']);
    assert.equal(await ok(['exec', 'live', 'cat', '/tmp/up.txt', '/tmp/renamed.txt', '/tmp/updir/inner/x', '/vol/up.txt']), 'up\nup\nx\nup\n');
    assert.equal(await ok(['exec', 'live', 'stat', '-c', '%u', '/tmp/up.txt']), '0\n', 'files belong to root without -a');
    await fails(['cp', dir, 'live:/tmp/up.txt'], /cannot copy directory/);
    const t = execFileSync('tar', ['-cf', '-', '-C', dir, 'inner']);
    await ok(['cp', '-', 'live:/tmp'], t);
    assert.equal(await ok(['exec', 'live', 'cat', '/tmp/inner/x']), 'x\n');
    await ok(['stop', '-t', '0', 'live']);
    // Stopped: the container's files and its volume are still reachable.
    await ok(['cp', f, 'live:/vol/again.txt']);
    const back = join(work, 'back');
    await mkdir(back);
    await ok(['cp', 'live:/vol/again.txt', back]);
    await ok(['cp', 'live:/tmp/renamed.txt', back]);
    assert.deepEqual((await readdir(back)).sort(), ['again.txt', 'renamed.txt']);
    const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'cpvol'])).trim();
    assert.deepEqual((await readdir(mp)).sort(), ['again.txt', 'up.txt']);
    await ok(['rm', 'live']);
    await ok(['volume', 'rm', 'cpvol']);
  });

  test('planted symlinks (/escape -> /, /up -> ../../..) never reach host files, either way', async () => {
    const hostSecret = join(work, 'host-secret');
    await writeFile(hostSecret, 'host only\n');
    await ok(['run', '-d', '--network', 'none', '--name', 'evil', 'busybox', 'sh', '-c', `ln -s / /escape && ln -s ../../.. /up && mkdir -p /etc && echo inside > /etc/marker && mkdir -p ${work} && echo container > ${hostSecret} && sleep 300`]);
    // Give the shell a moment to plant its links.
    for (let i = 0; i < 50 && (await d.berth(['exec', 'evil', 'test', '-L', '/up'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (const state of ['running', 'stopped']) {
      if (state === 'stopped') await ok(['stop', '-t', '0', 'evil']);
      const out = join(work, `esc-${state}`);
      await mkdir(out);
      await ok(['cp', 'evil:/escape/etc/marker', join(out, 'm1')]);
      await ok(['cp', 'evil:/up/etc/marker', join(out, 'm2')]);
      await ok(['cp', `evil:/escape${hostSecret}`, join(out, 's1')]);
      await ok(['cp', `evil:/up/up/up${hostSecret}`, join(out, 's2')]);
      for (const n of ['m1', 'm2']) assert.equal(await readFile(join(out, n), 'utf8'), 'inside\n');
      for (const n of ['s1', 's2']) assert.equal(await readFile(join(out, n), 'utf8'), 'container\n', 'the container file, not the host one');
      // Into the container through the links: lands inside, never on the host.
      const probe = join(work, `probe-${state}`);
      await writeFile(join(work, 'payload'), 'pwn\n');
      await ok(['cp', join(work, 'payload'), `evil:/escape${probe}`]);
      await ok(['cp', join(work, 'payload'), `evil:/up/up${probe}-2`]);
      assert.ok(!existsSync(probe) && !existsSync(`${probe}-2`), 'nothing written on the host');
      const back = join(work, `probe-back-${state}`);
      await ok(['cp', `evil:${probe}`, back]);
      assert.equal(await readFile(back, 'utf8'), 'pwn\n');
      assert.equal(await readFile(hostSecret, 'utf8'), 'host only\n');
    }
    await ok(['rm', 'evil']);
  });

  test('hostile archives through PUT archive are refused and change nothing', async () => {
    await ok(['create', '--network', 'none', '--name', 'target', 'busybox', 'true']);
    const outside = join(work, 'outside');
    await mkdir(outside);
    const put = (body: Buffer, path = '/tmp') => d.api('PUT', `/containers/target/archive?path=${encodeURIComponent(path)}`, body, { 'Content-Type': 'application/x-tar' });
    const cases: Array<[string, Buffer]> = [
      ['dot-dot', await makeTar([{ name: 'ok-first', body: 'x' }, { name: `../../../../../../../..${outside}/dotdot`, body: 'x' }])],
      ['absolute', await makeTar([{ name: `${outside}/abs`, body: 'x' }])],
      ['through own symlink', await makeTar([{ name: 'l', type: 'symlink', linkname: '/' }, { name: `l${outside}/via-link`, body: 'x' }])],
      ['hardlink outside', await makeTar([{ name: 'h', type: 'link', linkname: '/etc/shadow' }])],
      ['not a tar', Buffer.from('this is not a tar archive at all'.repeat(40))],
    ];
    for (const [what, body] of cases) {
      const r = await put(body);
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
      assert.ok(r.json().message, what);
    }
    assert.deepEqual(await readdir(outside), []);
    const list = await d.berth(['cp', 'target:/tmp/.', '-']);
    assert.doesNotMatch(list.stdout, /ok-first/, 'a refused archive wrote nothing, not even its first entries');
    // A symlink the container already has is followed inside the container root.
    await ok(['cp', '-', 'target:/'], await makeTar([{ name: 'esc', type: 'symlink', linkname: '/' }]));
    const r = await put(await makeTar([{ name: `esc${outside}/through-existing`, body: 'inside\n' }]), '/');
    assert.equal(r.status, 200, String(r.body));
    assert.deepEqual(await readdir(outside), []);
    await ok(['cp', `target:${outside}/through-existing`, join(work, 'te')]);
    assert.equal(await readFile(join(work, 'te'), 'utf8'), 'inside\n');
    // Extraction point rules.
    assert.equal((await put(await makeTar([{ name: 'f', body: 'x' }]), '/nonexistent')).status, 404);
    await ok(['cp', join(work, 'te'), 'target:/tmp/file']);
    assert.equal((await put(await makeTar([{ name: 'f', body: 'x' }]), '/tmp/file')).status, 400);
    await ok(['rm', 'target']);
  });

  test('read-only rootfs and read-only volumes refuse cp', async () => {
    await ok(['create', '--network', 'none', '--name', 'ro', '--read-only', '-v', 'rov:/ro:ro', '-v', 'rwv:/rw', 'busybox', 'true']);
    await writeFile(join(work, 'rofile'), 'x');
    await fails(['cp', join(work, 'rofile'), 'ro:/tmp/'], /container rootfs is marked read-only/);
    await fails(['cp', join(work, 'rofile'), 'ro:/ro/'], /mounted volume is marked read-only/);
    await ok(['cp', join(work, 'rofile'), 'ro:/rw/']);
    await ok(['rm', '-v', 'ro']);
    await ok(['volume', 'rm', 'rov', 'rwv']);
  });

  test('HEAD archive stat header, diff and export', async () => {
    await ok(['run', '--network', 'none', '--name', 'chg', 'busybox', 'sh', '-c', 'mkdir /new && echo n > /new/f && rm /bin/vi && echo changed >> /bin/ls 2>/dev/null; true']);
    const head = await d.api('HEAD', '/containers/chg/archive?path=/new');
    assert.equal(head.status, 200);
    const st = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
    assert.equal(st.name, 'new');
    assert.equal(st.mode, 2 ** 31 + 0o755, 'Go FileMode with the directory bit');
    assert.equal(st.linkTarget, '');
    assert.equal((await d.api('HEAD', '/containers/chg/archive?path=/missing')).status, 404);
    const diff = await ok(['diff', 'chg']);
    const lines = diff.trim().split('\n');
    assert.ok(lines.includes('A /new'), diff);
    assert.ok(lines.includes('A /new/f'), diff);
    assert.ok(lines.includes('D /bin/vi'), diff);
    assert.ok(lines.includes('C /bin'), diff);
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv.conf)$/.test(l)), `engine mount points are not changes: ${diff}`);
    const api = await d.api('GET', '/containers/chg/changes');
    assert.deepEqual(api.json().find((c: { Path: string }) => c.Path === '/bin/vi'), { Path: '/bin/vi', Kind: 2 });
    const exp = join(work, 'export.tar');
    await ok(['export', '-o', exp, 'chg']);
    const names = execFileSync('tar', ['-tf', exp]).toString().split('\n');
    assert.ok(names.includes('bin/busybox'));
    assert.ok(names.includes('new/f'));
    assert.ok(!names.includes('bin/vi'));
    assert.ok((await stat(exp)).size > 1_000_000);
    const piped = await d.berth(['export', 'chg']);
    assert.equal(piped.code, 0);
    assert.ok(piped.stdout.length > 1_000_000);
    await ok(['rm', 'chg']);
    assert.equal(basename(exp), 'export.tar');
  });
});
