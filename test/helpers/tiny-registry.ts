/** A loopback registry serving one image (`repo:latest`) made of the given layer tars, gzipped. */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { sha } from './registry.js';

export async function serveImage(repo: string, layers: Buffer[]): Promise<{ port: number; close(): Promise<void> }> {
  const gz = layers.map((l) => gzipSync(l, { level: 1 }));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, history: [] }));
  const blobs = new Map<string, Buffer>([[sha(config), config], ...gz.map((g) => [sha(g), g] as [string, Buffer])]);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: gz.map((g) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: g.length, digest: sha(g) })),
  }));
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (url === `/v2/${repo}/manifests/latest` || url === `/v2/${repo}/manifests/${sha(manifest)}`) {
      return void res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json', 'docker-content-digest': sha(manifest), 'content-length': manifest.length }).end(req.method === 'HEAD' ? undefined : manifest);
    }
    const m = new RegExp(`^/v2/${repo}/blobs/(.+)$`).exec(url);
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (blob) return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
