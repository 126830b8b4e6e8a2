/**
 * diffLayer on a real overlay upper dir: whiteouts (0/0 char devices) and opaque directories
 * (trusted.overlay.opaque) become AUFS entries, and the layer store imports the result back
 * into the same overlay form. Needs root (mknod, trusted.* xattrs).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, symlink, link, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import tar from 'tar-stream';
import { diffLayer } from '../../src/archive/diff-layer.js';
import { SpawnRunner } from '../../src/common/command-runner.js';
import { requireRoot } from '../helpers/daemon.js';

requireRoot();
const dir = await mkdtemp(join(tmpdir(), 'berth-test-difflayer-'));
after(() => rm(dir, { recursive: true, force: true }));

test('whiteouts, opaque dirs, hardlinks and symlinks become a Docker layer tar', async () => {
  const up = join(dir, 'upper');
  await mkdir(join(up, 'etc'), { recursive: true });
  await mkdir(join(up, 'opaque'), { recursive: true });
  await writeFile(join(up, 'etc', 'new.conf'), 'x');
  await link(join(up, 'etc', 'new.conf'), join(up, 'etc', 'hard.conf'));
  await symlink('new.conf', join(up, 'etc', 'link'));
  await writeFile(join(up, 'opaque', 'fresh'), 'y');
  execFileSync('mknod', ['-m', '0', join(up, 'etc', 'gone'), 'c', '0', '0']);
  execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(up, 'opaque')]);

  const entries: { name: string; type: string; linkname?: string | null; size: number }[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      entries.push({ name: h.name, type: h.type!, linkname: h.linkname, size: h.size ?? 0 });
      s.resume();
      s.on('end', () => next());
    });
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  diffLayer(up, { runner: new SpawnRunner() }).pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.equal(byName.get('etc/.wh.gone')?.type, 'file', 'a whiteout device becomes .wh.NAME');
  assert.equal(byName.has('etc/gone'), false);
  assert.equal(byName.get('opaque/.wh..wh..opq')?.type, 'file', 'an opaque dir gets the opaque marker');
  assert.equal(byName.get('etc/link')?.linkname, 'new.conf');
  const hard = [byName.get('etc/hard.conf')!, byName.get('etc/new.conf')!];
  assert.deepEqual(hard.map((e) => e.type).sort(), ['file', 'link'], 'a hardlink is stored once');
  assert.ok((await lstat(join(up, 'etc', 'gone'))).isCharacterDevice(), 'the upper dir is left as it was');
});
