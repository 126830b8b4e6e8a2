import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, symlink, chmod } from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { packSmallContext, type ContextState } from './context-pack.js';

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
