/**
 * A "null engine" for the run benchmark: a UNIX-socket HTTP server that answers the requests
 * `docker run --rm IMAGE CMD` makes (ping, create, attach, wait, start) at once and does no
 * work at all. Timing the real docker CLI against it gives the client's own floor: the time no
 * engine, however fast, can take away from `docker run`.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rm } from 'node:fs/promises';

export async function startNullEngine(socketPath: string): Promise<{ close(): Promise<void> }> {
  await rm(socketPath, { force: true });
  // One container at a time: its attach stream and its pending wait end when it is started.
  let attached: Socket | undefined;
  let waiting: ServerResponse | undefined;
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '').replace(/^\/v[0-9.]+/, '');
    res.setHeader('Api-Version', '1.43');
    res.setHeader('Content-Type', 'application/json');
    req.resume();
    if (url.startsWith('/_ping')) return void res.end('OK');
    if (url.startsWith('/containers/create')) {
      return void req.on('end', () => {
        res.statusCode = 201;
        res.end('{"Id":"0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab","Warnings":[]}');
      });
    }
    if (url.includes('/wait')) {
      res.writeHead(200);
      res.flushHeaders();
      waiting = res;
      return;
    }
    if (url.includes('/start')) {
      res.statusCode = 204;
      res.end();
      setImmediate(() => {
        attached?.end();
        waiting?.end('{"StatusCode":0}');
        attached = undefined;
        waiting = undefined;
      });
      return;
    }
    res.statusCode = 404;
    res.end('{"message":"not in the null engine"}');
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    attached = socket;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => void rm(socketPath, { force: true }).then(() => resolve()));
      }),
  };
}
