#!/usr/bin/env node
/**
 * Bundles the desktop dashboard (web/, issue 19) into dist/web with esbuild: one JS file and
 * one CSS file (Preact, xterm.js and uPlot included), plus index.html. berthd serves them from
 * memory (src/ui/static-files.ts); nothing is fetched from the internet at run time.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  metafile: true,
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  // The terminal (xterm.js) and the charts (uPlot) are chunks loaded on first use.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
// The chunks app.js imports statically are announced in index.html, so the browser fetches
// them with app.js instead of after parsing it (one round trip less on the first screen).
const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint?.endsWith('main.tsx'));
const preload = (entry?.[1].imports ?? [])
  .filter((i) => i.kind === 'import-statement')
  .map((i) => `<link rel="modulepreload" href="/${i.path.slice(i.path.indexOf('dist/web/') + 'dist/web/'.length)}">`)
  .join('\n');
const html = readFileSync(join(root, 'web', 'index.html'), 'utf8').replace('<!-- chunks -->', preload);
writeFileSync(join(out, 'index.html'), html);
