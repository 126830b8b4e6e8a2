/**
 * Port forwarding over a SPDY session (`portforward.k8s.io`): for each connection the client
 * opens two streams sharing a `requestID` header, `streamType: error` and `streamType: data`,
 * with the pod `port`. The data stream is joined to a TCP connection to 127.0.0.1:port inside
 * the pod's network namespace; a failure is reported as text on the error stream.
 *
 * Node cannot enter a network namespace itself, so the connection is made by a small child
 * (`nsenter --net=<netns>` running this Node binary with a few lines of script) whose stdin and
 * stdout are the two directions of the socket.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../common/logger.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';
import type { StreamRequest } from './stream-request.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

const CONNECT_SCRIPT =
  "const s=require('net').connect(Number(process.argv[1]),'127.0.0.1');" +
  "s.on('connect',()=>{process.stdin.pipe(s);s.pipe(process.stdout);});" +
  "s.on('error',(e)=>{process.stderr.write(e.message);process.exit(1);});" +
  "s.on('close',()=>process.exit(0));";

export async function servePortForward(session: SpdySession, r: StreamRequest, log: Logger): Promise<void> {
  if (r.kind !== 'portforward') return;
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  const start = (p: { error?: SpdyStream; data?: SpdyStream }, port: number): void => {
    const data = p.data!;
    const errStream = p.error!;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      errStream.write(Buffer.from(`invalid port ${port}`));
      errStream.end();
      data.end();
      return;
    }
    if (r.ports.length && !r.ports.includes(port)) log.debug({ port }, 'port-forward to a port the request did not name');
    const argv = r.netns ? ['nsenter', `--net=${r.netns}`, process.execPath, '-e', CONNECT_SCRIPT, String(port)] : [process.execPath, '-e', CONNECT_SCRIPT, String(port)];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => data.write(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    child.stdin.on('error', () => {});
    data.onData((d) => child.stdin.write(d));
    data.onEnd(() => child.stdin.end());
    session.onClose(() => child.kill('SIGKILL'));
    child.on('close', (code) => {
      if (code !== 0) {
        errStream.write(Buffer.from(`error forwarding port ${port} to pod ${r.podId}: ${Buffer.concat(stderr).toString().trim() || `exit status ${code}`}`));
      }
      errStream.end();
      data.end();
    });
  };
  session.onStream((s) => {
    const id = s.headers['requestid'] ?? s.headers['port'] ?? '';
    const type = s.headers['streamtype'];
    const p = pairs.get(id) ?? {};
    if (type === 'error') p.error = s;
    else if (type === 'data') p.data = s;
    else return;
    pairs.set(id, p);
    if (p.error && p.data) {
      pairs.delete(id);
      start(p, Number(p.data.headers['port']));
    }
  });
  await new Promise<void>((resolve) => session.onClose(resolve));
}
