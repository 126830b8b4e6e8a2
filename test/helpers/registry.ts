/** Test helpers for registry tests: berth's registry server on a free loopback port, hand-made layers and images. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { BERTH_BIN } from './daemon.js';

export interface RegistryProc {
  proc: ChildProcess;
  port: number;
  root: string;
  stop(): Promise<void>;
}

/**
 * Starts `berth registry serve` on a free loopback port. `prefix` runs it through another
 * program that execs it in place (e.g. `nsenter --net=/run/netns/NAME`: that namespace's loopback).
 */
export async function startRegistry(dir: string, extra: string[] = [], options: { prefix?: string[] } = {}): Promise<RegistryProc> {
  const root = join(dir, 'registry');
  const prefix = options.prefix ?? [];
  const args = ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', root, ...extra];
  const proc = spawn(prefix[0] ?? BERTH_BIN, prefix.length ? [...prefix.slice(1), BERTH_BIN, ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`registry did not start: ${buf}`)), 15_000);
    proc.stderr!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error(`registry exited ${code}: ${buf}`)));
  });
  proc.stderr!.resume();
  return {
    proc,
    port,
    root,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer tar from `{name: content}` entries (directories implied by `dir/`). */
export async function makeLayer(entries: Array<{ name: string; body?: string | Buffer; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', mode: e.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), ...(e.linkname ? { linkname: e.linkname } : {}) }, e.body ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function httpReq(port: number, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Uploads layers (tar, gzipped here) + a config + a schema2 manifest straight to a registry. */
export async function pushRaw(port: number, repo: string, tag: string, tars: Buffer[], options: { lie?: boolean } = {}): Promise<{ manifestDigest: string; layerDigests: string[] }> {
  const gz = tars.map((t) => gzipSync(t));
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) },
    history: tars.map(() => ({ created_by: 'test' })),
  }));
  for (const blob of [...gz, config]) {
    const r = await httpReq(port, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`, blob);
    assert.equal(r.status, 201, r.body.toString());
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: gz.map((g) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: g.length, digest: sha(g) })),
  }));
  const r = await httpReq(port, 'PUT', `/v2/${repo}/manifests/${tag}`, manifest, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' });
  assert.equal(r.status, 201, r.body.toString());
  return { manifestDigest: sha(manifest), layerDigests: gz.map((g) => sha(g)) };
}

