import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, symlink, chmod } from 'node:fs/promises';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { packSmallContext, type ContextState, type RefsTarCache } from './build-context-pack.js';

const tmp = await mkdtemp(join(tmpdir(), 'berth-context-pack-test-'));
after(() => rm(tmp, { recursive: true, force: true }));

type Seen = { name: string; type: string; mode: number; body: string; linkname?: string; pax?: Record<string, string>; mtime: number };

/** Read back with tar-stream, an independent parser. */
async function entries(buf: Buffer): Promise<Seen[]> {
  const ex = tar.extract();
  const out: Seen[] = [];
  ex.on('entry', (h, body, next) => {
    const parts: Buffer[] = [];
    body.on('data', (c: unknown) => parts.push(c as Buffer));
    body.on('end', () => {
      out.push({ name: h.name, type: h.type ?? '', mode: h.mode ?? 0, body: Buffer.concat(parts).toString(), ...(h.linkname ? { linkname: h.linkname } : {}), ...(h.pax ? { pax: h.pax as Record<string, string> } : {}), mtime: h.mtime!.getTime() });
      next();
    });
  });
  const done = new Promise<void>((res, rej) => { ex.on('finish', () => res()); ex.on('error', rej); });
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

test('a valid tar: sorted depth-first entries, modes, links, long names; unchanged files as references', async () => {
  const dir = join(tmp, 'ctx');
  const long = `${'sub'.repeat(40)}/${'n'.repeat(120)}`;
  await mkdir(join(dir, 'b', 'c'), { recursive: true });
  await mkdir(join(dir, 'sub'.repeat(40)), { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\n');
  await writeFile(join(dir, 'b', 'c', 'x.sh'), 'echo hi\n');
  await chmod(join(dir, 'b', 'c', 'x.sh'), 0o750);
  await writeFile(join(dir, long), 'deep');
  const split = `${'p'.repeat(60)}/${'q'.repeat(60)}`; // ustar: prefix + name
  await mkdir(join(dir, 'p'.repeat(60)));
  await writeFile(join(dir, split), 'split');
  await writeFile(join(dir, 'skip.log'), 'no');
  await symlink('b/c/x.sh', join(dir, 'a-link'));
  const ignoreModule = (await import('@balena/dockerignore')).default as unknown as { default?: () => import('@balena/dockerignore').Ignore } & (() => import('@balena/dockerignore').Ignore);
  const ig = (ignoreModule.default ?? ignoreModule)().add(['*.log']);

  const first: ContextState = {};
  const buf = packSmallContext(dir, ig, new Set(['Dockerfile']), { name: '.dockerfile.x', content: Buffer.from('FROM x') }, { previous: {}, next: first }, 1 << 20)!;
  assert.ok(buf);
  const got = await entries(buf);
  assert.deepEqual(got.map((e) => [e.name, e.type]), [
    ['Dockerfile', 'file'], ['a-link', 'symlink'], ['b/', 'directory'], ['b/c/', 'directory'], ['b/c/x.sh', 'file'],
    [`${'p'.repeat(60)}/`, 'directory'], [split, 'file'], [`${'sub'.repeat(40)}/`, 'directory'], [long, 'file'], ['.dockerfile.x', 'file'],
  ]);
  const x = got.find((e) => e.name === 'b/c/x.sh')!;
  assert.equal(x.mode, 0o750);
  assert.equal(x.body, 'echo hi\n');
  assert.equal(x.mtime, Math.floor(lstatSync(join(dir, 'b', 'c', 'x.sh')).mtimeMs / 1000) * 1000);
  assert.equal(got.find((e) => e.name === 'a-link')!.linkname, 'b/c/x.sh');
  assert.equal(got.find((e) => e.name === long)!.body, 'deep');
  assert.equal(got.find((e) => e.name === split)!.body, 'split');
  assert.equal(first['Dockerfile']![3], createHash('sha256').update('FROM busybox\n').digest('hex'));

  // Second run: unchanged files go as references, a changed one with its content.
  await writeFile(join(dir, 'b', 'c', 'x.sh'), 'echo changed\n');
  const second: ContextState = {};
  const got2 = await entries(packSmallContext(dir, ig, new Set(['Dockerfile']), undefined, { previous: first, next: second }, 1 << 20)!);
  const df = got2.find((e) => e.name === 'Dockerfile')!;
  assert.equal(df.body, '');
  assert.equal(df.pax?.['BERTH.digest'], first['Dockerfile']![3]);
  assert.equal(got2.find((e) => e.name === 'b/c/x.sh')!.body, 'echo changed\n');
  assert.notEqual(second['b/c/x.sh']![3], first['b/c/x.sh']![3]);

  // Over the limit: not packed here, and the state is left alone.
  const third: ContextState = {};
  assert.equal(packSmallContext(dir, ig, new Set(), undefined, { previous: {}, next: third }, 10), undefined);
  assert.deepEqual(third, {});
});

test('the tar of references of the last upload is reused only while nothing that shapes the archive changed', async () => {
  const dir = join(tmp, 'cached');
  await mkdir(join(dir, 'files'), { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY files/ /f/\n');
  for (let i = 0; i < 5; i++) await writeFile(join(dir, 'files', `f${i}`), `content ${i}`);
  await symlink('f0', join(dir, 'files', 'link'));
  const keep = new Set(['Dockerfile', '.dockerignore']);
  const cachePath = join(tmp, 'cached-refs.tar');
  let stateReads = 0;
  const pack = (previous: ContextState, key = 'k'): { body: Buffer; next: ContextState; cache: RefsTarCache } => {
    const next: ContextState = {};
    const cache: RefsTarCache = { path: cachePath, key };
    const load = (): ContextState => {
      stateReads++;
      return previous;
    };
    const body = packSmallContext(dir, undefined, keep, undefined, { previous: load, next, cache }, 1 << 20)!;
    if (cache.save) writeFileSync(cachePath, cache.save);
    return { body, next, cache };
  };
  /** What the same pack gives without any cache: the bytes a hit must equal. */
  const plain = (previous: ContextState): Buffer => packSmallContext(dir, undefined, keep, undefined, { previous, next: {} }, 1 << 20)!;

  // First upload: contents; what is saved is the tar of references for next time.
  const first = pack({});
  assert.equal(first.cache.hit, undefined);
  assert.ok(first.cache.save);
  assert.ok((await entries(first.body)).some((e) => e.body === 'content 3'));

  // Nothing changed: the saved tar is sent as it is, byte for byte what packing would give.
  const reads = stateReads;
  const second = pack(first.next);
  assert.equal(second.cache.hit, true);
  assert.ok(second.body.equals(plain(first.next)));
  assert.equal(stateReads, reads, 'a hit does not read the upload state');
  assert.deepEqual(second.next, {});
  assert.equal(second.cache.sig, first.cache.sig, 'the same archive, the same key');
  const refs = await entries(second.body);
  assert.equal(refs.find((e) => e.name === 'files/f3')!.pax?.['BERTH.digest'], createHash('sha256').update('content 3').digest('hex'));
  assert.equal(refs.find((e) => e.name === 'files/link')!.linkname, 'f0');

  // Other ignore rules or kept names: not reused.
  const otherKey = pack(first.next, 'other');
  assert.equal(otherKey.cache.hit, undefined);
  assert.ok(otherKey.body.equals(plain(first.next)));
  // (that pack saved a tar under the other key; the original key misses once, then hits again)
  assert.equal(pack(first.next).cache.hit, undefined);
  assert.equal(pack(first.next).cache.hit, true);

  // A mode change (size, mtime and inode as before): not reused, and the new mode is sent.
  await chmod(join(dir, 'files', 'f1'), 0o600);
  const chmodded = pack(first.next);
  assert.equal(chmodded.cache.hit, undefined);
  assert.equal((await entries(chmodded.body)).find((e) => e.name === 'files/f1')!.mode, 0o600);
  assert.equal(pack(chmodded.next).cache.hit, true);

  // A changed file: its content goes, the rest as references; then the new tree is cached.
  await writeFile(join(dir, 'files', 'f2'), 'changed!');
  const changed = pack(chmodded.next);
  assert.equal(changed.cache.hit, undefined);
  const got = await entries(changed.body);
  assert.equal(got.find((e) => e.name === 'files/f2')!.body, 'changed!');
  assert.equal(got.find((e) => e.name === 'files/f4')!.body, '');
  const again = pack(changed.next);
  assert.equal(again.cache.hit, true);
  assert.notEqual(again.cache.sig, first.cache.sig);
  assert.equal((await entries(again.body)).find((e) => e.name === 'files/f2')!.pax?.['BERTH.digest'], createHash('sha256').update('changed!').digest('hex'));

  // A file added and removed again changes the directory's mtime: not reused.
  await writeFile(join(dir, 'files', 'tmp'), 'x');
  await rm(join(dir, 'files', 'tmp'));
  assert.equal(pack(changed.next).cache.hit, undefined);

  // A damaged cache file is ignored.
  const good = readFileSync(cachePath);
  writeFileSync(cachePath, Buffer.concat([Buffer.from('0'.repeat(64)), good.subarray(64)]));
  assert.equal(pack(changed.next).cache.hit, undefined);
  assert.equal(pack(changed.next).cache.hit, true);
  writeFileSync(cachePath, good.subarray(0, good.length - 512));
  const truncated = pack(changed.next);
  assert.equal(truncated.cache.hit, undefined);
  assert.ok(truncated.body.equals(plain(changed.next)));

  // Packing afresh (the daemon lost the contents): the cached tar is not used, only replaced.
  const fresh: RefsTarCache = { path: cachePath, key: 'k', reuse: false };
  const whole = packSmallContext(dir, undefined, keep, undefined, { previous: {}, next: {}, cache: fresh }, 1 << 20)!;
  assert.equal(fresh.hit, undefined);
  assert.ok(fresh.save);
  assert.equal((await entries(whole)).find((e) => e.name === 'files/f2')!.body, 'changed!');

  // A Dockerfile from outside the context: no cache at all.
  const cache = { path: cachePath, key: 'k' } as RefsTarCache;
  packSmallContext(dir, undefined, keep, { name: '.dockerfile.y', content: Buffer.from('FROM y') }, { previous: changed.next, next: {}, cache }, 1 << 20);
  assert.equal(cache.hit, undefined);
  assert.equal(cache.save, undefined);
});
