/**
 * The dashboard's files (the front end bundled by scripts/build-web.mjs into dist/web), read
 * into memory once with a gzip copy each: a handful of files, served with no disk access.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, extname, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SystemError } from '../common/errors.js';

/** dist/web, beside dist/src (this file runs from dist/src/ui/). */
export const DEFAULT_WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

interface File {
  body: Buffer;
  gzip: Buffer;
  type: string;
}

export class StaticFiles {
  readonly #files: Map<string, File>;

  private constructor(files: Map<string, File>) {
    this.#files = files;
  }

  /** Loads every file under `root`; fails when the front end was not built. */
  static async load(root: string = DEFAULT_WEB_ROOT): Promise<StaticFiles> {
    const files = new Map<string, File>();
    let names: string[];
    try {
      names = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(root.length));
    } catch (err) {
      throw new SystemError(`the desktop UI is not built (${root} is missing): run npm run build`, { cause: err });
    }
    if (!names.includes('/index.html')) throw new SystemError(`the desktop UI is not built (${root}/index.html is missing): run npm run build`);
    for (const name of names) {
      const body = await readFile(join(root, name));
      files.set(name, { body, gzip: gzipSync(body), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
    return new StaticFiles(files);
  }

  /** Answers a GET/HEAD for `path`; false when there is no such file. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const f = this.#files.get(path === '/' ? '/index.html' : path);
    if (!f) return false;
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gz ? f.gzip : f.body;
    res.writeHead(200, {
      'Content-Type': f.type,
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      Vary: 'Accept-Encoding',
      ...(gz ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
