// The in-process layer extractor (layer-extract.ts) against GNU tar, the reference it replaced:
// the same archive, made by GNU tar from a tree with every kind of entry, extracted both ways,
// must give the same tree (types, modes with set-id bits, owners, times, contents, link targets,
// hardlinks, device numbers, extended attributes including file capabilities).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile, symlink, link, chmod, chown, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { unpackChecked } from './layer-unpack.js';
import { makeTar, requireRoot } from './_test-helpers.js';

let top: string;
before(async () => {
  requireRoot();
  top = await mkdtemp(join(tmpdir(), 'berth-extract-'));
});
after(async () => {
  if (top) await rm(top, { recursive: true, force: true });
});

/** Every entry under `dir`: what a layer must preserve. */
async function describe(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      const rel = relative(dir, p);
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chr' : st.isBlockDevice() ? 'blk' : 'other';
      let extra = '';
      if (st.isFile()) {
        const first = inodes.get(st.ino);
        if (first) extra = `hardlink of ${first}`;
        else {
          inodes.set(st.ino, rel);
          extra = createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16);
        }
      } else if (st.isSymbolicLink()) extra = await readlink(p);
      else if (st.isCharacterDevice() || st.isBlockDevice()) extra = `rdev ${st.rdev}`;
      const mtime = st.isSymbolicLink() ? '' : ` mtime ${Math.floor(st.mtimeMs / 1000)}`;
      out[rel] = `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} size ${st.isFile() ? st.size : '-'}${mtime} ${extra}`;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  const xattrs = execFileSync('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: dir, encoding: 'utf8' });
  out['(xattrs)'] = xattrs.split('\n\n').filter((b) => b.trim()).sort().join('\n\n');
  return out;
}

test('the extractor gives the same tree as GNU tar, gzip or not, whatever the chunking', async () => {
  const src = join(top, 'src');
  await mkdir(join(src, 'usr', 'bin'), { recursive: true });
  await mkdir(join(src, 'dev'));
  await mkdir(join(src, 'opt', 'deep', 'er'), { recursive: true });
  await writeFile(join(src, 'usr', 'bin', 'tool'), 'binary'.repeat(5000));
  await chmod(join(src, 'usr', 'bin', 'tool'), 0o4755);
  await writeFile(join(src, 'usr', 'bin', 'ping'), 'ping');
  await chown(join(src, 'usr', 'bin', 'ping'), 0, 0);
  // cap_net_raw+ep, as Debian's iputils-ping ships it; set after chown (chown drops it).
  execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', join(src, 'usr', 'bin', 'ping')]);
  execFileSync('setfattr', ['-n', 'user.binary', '-v', '0x00ff10fe', join(src, 'usr', 'bin', 'tool')]);
  await writeFile(join(src, 'owned'), 'x');
  await chown(join(src, 'owned'), 1234, 5678);
  await chmod(join(src, 'owned'), 0o640);
  await writeFile(join(src, 'big-ids'), 'y');
  await chown(join(src, 'big-ids'), 3_000_000, 3_000_001); // beyond 7 octal digits: PAX uid/gid
  await link(join(src, 'owned'), join(src, 'hardlink'));
  await symlink('/etc/passwd', join(src, 'abs-link'));
  await symlink('usr/bin/tool', join(src, 'rel-link'));
  await writeFile(join(src, 'opt', 'deep', 'er', `${'long-name-'.repeat(15)}file`), 'long');
  await writeFile(join(src, 'empty'), '');
  execFileSync('mkfifo', ['-m', '0620', join(src, 'fifo')]);
  execFileSync('mknod', ['-m', '0666', join(src, 'dev', 'null'), 'c', '1', '3']);
  await chmod(join(src, 'opt', 'deep'), 0o700);
  await chmod(join(src, 'usr'), 0o555);
  for (const d of ['opt/deep/er', 'opt/deep', 'opt', 'dev', 'usr/bin']) await utimes(join(src, d), 1_600_000_000, 1_600_000_000 + d.length);
  const archive = join(top, 'layer.tar');
  execFileSync('tar', ['--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', archive, '-C', src, '.']);
  const tarball = await readFile(archive);

  const reference = join(top, 'by-gnu-tar');
  await mkdir(reference);
  execFileSync('tar', ['-x', '--numeric-owner', '-p', '--xattrs', '--xattrs-include=*', '-f', archive, '-C', reference]);
  const want = await describe(reference);
  assert.match(want['(xattrs)']!, /security\.capability=0x0100000200200000/);
  assert.match(want['usr/bin/tool']!, /^file 4755 /);

  let n = 0;
  for (const [data, chunk] of [[tarball, tarball.length], [tarball, 512], [gzipSync(tarball), 4099], [tarball, 7]] as const) {
    const dest = join(top, `ours-${n++}`);
    await mkdir(dest);
    await unpackChecked(Readable.from((function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })()), dest);
    assert.deepEqual(await describe(dest), want, `chunks of ${chunk}`);
  }
});

test('later entries replace earlier ones at the same path, as GNU tar does', async () => {
  const tarball = await makeTar([
    { name: 'a', body: 'first' },
    { name: 'a', body: 'second' },
    { name: 'd/', type: 'directory', mode: 0o755 },
    { name: 'd/x', body: 'in d' },
    { name: 'd/', type: 'directory', mode: 0o700 },
    { name: 's', type: 'symlink', linkname: 'a' },
    { name: 's', body: 'now a file' },
  ]);
  const dest = join(top, 'replace');
  await mkdir(dest);
  await unpackChecked(Readable.from([tarball]), dest);
  assert.equal(await readFile(join(dest, 'a'), 'utf8'), 'second');
  assert.equal(await readFile(join(dest, 'd', 'x'), 'utf8'), 'in d');
  assert.equal((await lstat(join(dest, 'd'))).mode & 0o777, 0o700);
  assert.ok((await lstat(join(dest, 's'))).isFile());
  assert.equal(await readFile(join(dest, 's'), 'utf8'), 'now a file');
});

test('what is recorded for an entry (attributes, directory times) never reaches what replaced it', async () => {
  const outside = join(top, 'outside');
  await writeFile(outside, 'host file');
  await utimes(outside, 1_000_000_000, 1_000_000_000);
  const tarball = await makeTar([
    { name: 'x', body: 'file with an attribute', pax: { 'SCHILY.xattr.user.mark': 'set' } },
    { name: 'x', type: 'symlink', linkname: outside },
    { name: 'd/', type: 'directory', pax: { mtime: '1500000000' } },
    { name: 'd', body: 'a file now' },
  ]);
  const dest = join(top, 'replaced-records');
  await mkdir(dest);
  await unpackChecked(Readable.from([tarball]), dest);
  assert.equal(execFileSync('getfattr', ['-d', '-m', '-', outside], { encoding: 'utf8' }), '', 'no attribute set through the symlink');
  assert.equal(Math.floor((await lstat(outside)).mtimeMs / 1000), 1_000_000_000);
  assert.ok((await lstat(join(dest, 'x'))).isSymbolicLink());
  assert.notEqual(Math.floor((await lstat(join(dest, 'd'))).mtimeMs / 1000), 1_500_000_000);
});
