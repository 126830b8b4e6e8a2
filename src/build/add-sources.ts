/**
 * ADD's sources that are not in the build context or an image: a local archive (validated
 * like a layer by the hostile-tar rules, then extracted), a URL (streamed to a file under the
 * staging root, capped and hashed) and a git repository (a shallow clone). Each returns a plan
 * the COPY/ADD executor in builder.ts applies to its staging dir.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, open, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandRunner } from '../common/command-runner.js';
import { BuildError } from './build-error.js';
import { cleanPath } from './build-context.js';
import { mkdirp } from './image-files.js';

/** What a source needs of the build it belongs to. */
export interface SourceContext {
  runner: CommandRunner;
  /** The builder's root: downloads and clones go under `<root>/staging`. */
  root: string;
  fetchMaxBytes?: number;
  fetchTimeoutMs?: number;
  /** The build's abort signal. */
  signal?: AbortSignal;
  /** Registers a clean-up run when the build ends, whatever happens. */
  cleanup(fn: () => Promise<void>): void;
  /** Fails the step (a BuildError naming the Dockerfile line). */
  fail(message: string): never;
}

/** A source ready to be copied: its cache digest, and how to put it into a staging dir. */
export interface SourcePlan {
  digest: string;
  count: number;
  name: string;
  isDir: boolean;
  apply(staging: string, target: (name: string, isDir: boolean) => string): Promise<void>;
}

/** ADD of a local archive: validated like a layer (no `..`, no writes through symlinks), then extracted. */
export async function extractArchive(ctx: SourceContext, path: string, kind: string, dest: string): Promise<void> {
  const { scanLayerTar } = await import('../archive/checked-tar.js');
  const work = await mkdtemp(join(tmpdir(), 'berth-add-'));
  try {
    let input: Readable = createReadStream(path);
    if (kind === 'bzip2' || kind === 'xz') {
      const { spawn } = await import('node:child_process');
      const p = spawn(kind === 'xz' ? 'xz' : 'bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
      createReadStream(path).pipe(p.stdin);
      input = p.stdout;
    }
    const tarPath = join(work, 'a.tar');
    try {
      await scanLayerTar(input, tarPath);
    } catch (e) {
      ctx.fail(`ADD failed: ${(e as Error).message}`);
    }
    await ctx.runner.run(['tar', '-x', '--numeric-owner', '-p', '-f', tarPath, '-C', dest]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * ADD <url>: the body streams to a file under the staging root (never held in memory),
 * capped at fetchMaxBytes, its sha256 computed on the way (and checked against --checksum).
 */
export async function downloadSource(ctx: SourceContext, url: string, lowers: string[], checksum?: string): Promise<SourcePlan> {
  const base = join(ctx.root, 'staging');
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'dl-'));
  ctx.cleanup(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'body');
  const max = ctx.fetchMaxBytes ?? 4 * 1024 ** 3;
  let res: Response;
  const signal = AbortSignal.any([AbortSignal.timeout(ctx.fetchTimeoutMs ?? 30_000), ...(ctx.signal ? [ctx.signal] : [])]);
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const detail = [cause?.code, cause?.message ?? (e as Error).message].filter(Boolean).join(' ');
    return ctx.fail(`ADD failed: cannot download ${url}: ${detail}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    ctx.fail(`ADD failed: cannot download ${url}: ${res.status} ${res.statusText}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    ctx.fail(`ADD failed: ${url} is ${declared} bytes, more than the limit of ${max} bytes`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(file, 'wx', 0o600);
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > max) {
          await res.body.cancel().catch(() => undefined);
          ctx.fail(`ADD failed: ${url}: the download exceeds the limit of ${max} bytes`);
        }
        hash.update(chunk);
        await fh.write(chunk);
      }
    }
  } catch (e) {
    if (e instanceof BuildError) throw e;
    ctx.fail(`ADD failed: cannot download ${url}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
  const digest = hash.digest('hex');
  if (checksum && checksum !== `sha256:${digest}`) ctx.fail(`ADD failed: digest mismatch for ${url}: expected ${checksum}, got sha256:${digest}`);
  const modified = res.headers.get('last-modified');
  const mtime = modified ? new Date(modified) : new Date();
  const name = posix.basename(new URL(url).pathname) || 'index.html';
  return {
    digest: `url:${url}\u0000${digest}`,
    count: 1,
    name,
    isDir: false,
    apply: async (staging: string, target: (n: string, d: boolean) => string) => {
      const p = target(name, false);
      await mkdirp(staging, posix.dirname(p), lowers);
      await rm(join(staging, p), { recursive: true, force: true });
      await copyFile(file, join(staging, p));
      await chmod(join(staging, p), 0o600);
      await utimes(join(staging, p), mtime, mtime);
    },
  };
}

/** ADD of a git repository (`https://…/x.git#ref:subdir`, `git@host:x.git`): a shallow clone. */
export async function gitSource(ctx: SourceContext, url: string, keepGitDir: boolean, lowers: string[]): Promise<SourcePlan> {
  const hashAt = url.indexOf('#');
  const repo = hashAt < 0 ? url : url.slice(0, hashAt);
  const frag = hashAt < 0 ? '' : url.slice(hashAt + 1);
  const [ref, subdir] = frag.split(':') as [string, string | undefined];
  const base = join(ctx.root, 'staging');
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'git-'));
  ctx.cleanup(() => rm(dir, { recursive: true, force: true }));
  const clone = join(dir, 'repo');
  const args = ['git', '-c', 'protocol.file.allow=never', 'clone', '--depth', '1', '--recurse-submodules', ...(ref ? ['--branch', ref] : []), '--', repo, clone];
  const r = await ctx.runner.run(args, {
    check: false,
    signal: AbortSignal.timeout(ctx.fetchTimeoutMs ?? 30_000),
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=10' },
  }).catch((e: unknown) => ({ code: 1, stdout: '', stderr: (e as Error).message }));
  if (r.code !== 0) {
    const detail = (r.stderr ?? '').toString().trim().split('\n').filter(Boolean).at(-1) ?? `exit code ${r.code}`;
    ctx.fail(`ADD failed: cannot clone git repository ${repo}${ref ? ` (ref ${ref})` : ''}: ${detail}`);
  }
  const head = (await ctx.runner.run(['git', '-C', clone, 'rev-parse', 'HEAD'])).stdout.toString().trim();
  if (!keepGitDir) await rm(join(clone, '.git'), { recursive: true, force: true });
  const src = subdir ? join(clone, cleanPath(subdir)) : clone;
  if (!(await lstat(src).catch(() => undefined))?.isDirectory()) ctx.fail(`ADD failed: ${subdir} is not a directory in ${repo}`);
  return {
    digest: `git:${repo}\u0000${head}\u0000${subdir ?? ''}\u0000${keepGitDir}`,
    count: 1,
    name: '',
    isDir: true,
    apply: async (staging: string, target: (n: string, d: boolean) => string) => {
      const p = target('', true);
      await mkdirp(staging, p, lowers);
      await ctx.runner.run(['cp', '-a', '--no-preserve=ownership', `${src}/.`, join(staging, p)]);
    },
  };
}
