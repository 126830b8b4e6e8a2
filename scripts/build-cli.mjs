#!/usr/bin/env node
/**
 * Builds the berth CLI's start-up snapshot (run by `npm run build` after tsc):
 *
 *   1. esbuild bundles src/bin/berth-snapshot.ts (the CLI, its client and its npm
 *      dependencies) into one CommonJS file, dist/cli/berth-snapshot.cjs: a V8 snapshot takes
 *      one script, and Node 20's snapshot builder can only require built-in modules;
 *   2. the metafile tells which command modules load nothing but snapshot-safe built-ins at
 *      their top level (node:http, net, tls hold native handles a snapshot cannot keep: those
 *      modules are left to load lazily at run time, still from the bundle);
 *   3. `node --snapshot-blob dist/berth-cli.blob --build-snapshot` runs the bundle with those
 *      commands preloaded and writes the heap;
 *   4. the same again without compose (dist/cli/berth-core-snapshot.cjs, dist/berth-core.blob),
 *      which bin/berth runs for every command but compose.
 *
 * bin/berth runs `node --snapshot-blob dist/berth-cli.blob` when the blob is newer than both
 * the tsc output and the node binary and NODE_OPTIONS is empty, else dist/src/bin/berth.js: a
 * plain `tsc` or a node upgrade never leaves a stale CLI behind. A failure here only costs start-up time, so it
 * warns, removes the blob and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'cli', 'berth-snapshot.cjs');
const blob = join(root, 'dist', 'berth-cli.blob');
// The same CLI without `compose` (and the YAML parser and JSON-schema validator only it uses):
// 0.3 MB of source instead of 0.8, a blob ~0.6 MB smaller, ~2-3 ms off every other command's
// start. bin/berth runs it unless an argument is `compose`.
const coreOut = join(root, 'dist', 'cli', 'berth-core-snapshot.cjs');
const coreBlob = join(root, 'dist', 'berth-core.blob');

/** Built-ins that are safe to load while building a snapshot (no native handles kept). */
const SAFE_BUILTINS = new Set([
  'assert', 'buffer', 'crypto', 'events', 'fs', 'fs/promises', 'module', 'os', 'path', 'path/posix',
  'querystring', 'stream', 'stream/promises', 'string_decoder', 'timers', 'timers/promises', 'url',
  'util', 'v8', 'zlib',
]);

/**
 * esbuild leaves `await import('node:fs/promises')` as a real dynamic import, which a process
 * started from a snapshot cannot do (Node 20: "A dynamic import callback was not specified").
 * This turns each such import of a built-in into a bundled one-line CommonJS module that
 * requires it, so esbuild's own lazy-module code loads it (with a `default` as ESM would).
 */
const builtinDynamicImports = {
  name: 'builtin-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import' || !isBuiltin(args.path)) return undefined;
      return { path: args.path, namespace: 'builtin-dynamic' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-dynamic' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/** In the core snapshot, `compose` is a module that says where compose is. */
const withoutCompose = {
  name: 'without-compose',
  setup(b) {
    b.onResolve({ filter: /[/\\]commands[/\\]compose\.js$/ }, () => ({ path: 'compose', namespace: 'without-compose' }));
    b.onLoad({ filter: /.*/, namespace: 'without-compose' }, () => ({
      contents: "throw new Error('berth compose is not in this start-up snapshot (dist/berth-core.blob): bin/berth runs it from dist/berth-cli.blob');",
      loader: 'js',
    }));
  },
};

function fail(message) {
  rmSync(blob, { force: true });
  rmSync(coreBlob, { force: true });
  console.warn(`build-cli: no start-up snapshot (bin/berth runs dist/src/bin/berth.js): ${message}`);
  process.exit(0);
}

/** Bundles the CLI into `out` and snapshots it into `blobPath`; returns the preloaded verbs, or throws. */
async function snapshot(out, blobPath, extraPlugins) {
  mkdirSync(dirname(out), { recursive: true });
  let result;
  try {
    result = await build({
      entryPoints: [join(root, 'src', 'bin', 'berth-snapshot.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      outfile: out,
      metafile: true,
      logLevel: 'error',
      // No comments or indentation: V8 keeps the bundle's source in the snapshot, and start-up
      // time grows with the blob (~4 ms per MB here). A comment with a non-Latin-1 character
      // (an arrow, a dash) also made the 1.1 MB source a two-byte string: 2.2 MB in the heap.
      minifyWhitespace: true,
      // Native addons stay outside (the CLI itself loads none; the daemon's code is not in it).
      external: ['better-sqlite3', 'node-unix-socket', 'node-pty'],
      // See berth-snapshot.ts: set at run time, before any module asks for it.
      define: { 'import.meta.url': 'globalThis.__berthModuleUrl' },
      plugins: [builtinDynamicImports, ...extraPlugins],
    });
  } catch (e) {
    throw new Error(`esbuild: ${e.message}`);
  }

  // A real import() left in the bundle would fail at run time from the snapshot: no blob then.
  const leftover = /(?:await|return|=>|[=(,:?])\s*import\(/.exec(readFileSync(out, 'utf8').replace(/\/\/.*$/gm, ''));
  if (leftover) throw new Error(`the bundle still has a dynamic import() (${leftover[0]}…), which a snapshot cannot run`);

  // Which modules are safe to run at build time: everything they import statically is bundled
  // and safe, and every built-in they load is in SAFE_BUILTINS.
  const inputs = result.metafile.inputs;
  const memo = new Map();
  function safe(path, seen = new Set()) {
    if (memo.has(path)) return memo.get(path);
    if (seen.has(path)) return true; // a cycle: decided by its other edges
    seen.add(path);
    const input = inputs[path];
    let ok = !!input;
    for (const imp of input?.imports ?? []) {
      if (!ok) break;
      if (imp.kind === 'dynamic-import') continue; // loaded on demand, not at module init
      if (imp.external) ok = SAFE_BUILTINS.has(imp.path.replace(/^node:/, ''));
      else ok = safe(imp.path, seen);
    }
    memo.set(path, ok);
    return ok;
  }

  // Verbs as main.ts registers them: `name: { summary: …, load: async () => (await import('./commands/FILE.js')).command }`.
  const mainText = readFileSync(join(root, 'src', 'cli', 'main.ts'), 'utf8');
  const verbs = [];
  for (const m of mainText.matchAll(/^\s*'?([a-z][a-z-]*)'?: \{ summary: .*import\('\.\/commands\/([a-z-]+)\.js'\)/gm)) {
    const file = Object.keys(inputs).find((p) => p.endsWith(`src/cli/commands/${m[2]}.ts`));
    if (file && safe(file)) verbs.push(m[1]);
  }

  const tmp = `${blobPath}.tmp`;
  const run = (preload) =>
    spawnSync(process.execPath, ['--snapshot-blob', tmp, '--build-snapshot', out], {
      // Without NODE_OPTIONS: V8 flags are part of the blob's checksum, and bin/berth runs it without.
      env: { ...process.env, NODE_OPTIONS: '', BERTH_SNAPSHOT_PRELOAD: preload.join(',') },
      encoding: 'utf8',
    });
  let r = run(verbs);
  if (r.status !== 0) {
    console.warn(`build-cli: snapshot with ${verbs.length} preloaded commands failed, trying without:\n${(r.stderr || '').split('\n').slice(0, 5).join('\n')}`);
    r = run([]);
  }
  if (r.status !== 0) throw new Error((r.stderr || r.error?.message || `exit ${r.status}`).split('\n').slice(0, 5).join('\n'));
  renameSync(tmp, blobPath);
  return verbs;
}

let verbs;
try {
  verbs = await snapshot(out, blob, []);
} catch (e) {
  fail(e.message);
}
console.log(`build-cli: dist/berth-cli.blob (${verbs.length} commands preloaded: ${verbs.join(' ')})`);
try {
  const core = await snapshot(coreOut, coreBlob, [withoutCompose]);
  console.log(`build-cli: dist/berth-core.blob, all but compose (${core.length} commands preloaded)`);
} catch (e) {
  // bin/berth then runs everything from dist/berth-cli.blob.
  rmSync(coreBlob, { force: true });
  console.warn(`build-cli: no core snapshot: ${e.message}`);
}
