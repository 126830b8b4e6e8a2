import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeDaemon } from '../client/fake-daemon.js';
import { API_VERSION as CLIENT_API_VERSION } from '../client/client.js';
import { ApiError, DaemonUnreachableError } from '../client/errors.js';
import { API_VERSION, BodyQueue, ResponseParser, unixRequest, unixSocketPath } from './unix-request.js';

const tmp = mkdtempSync(join(tmpdir(), 'berth-unix-request-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  let s = '';
  for await (const b of body) s += b.toString('utf8');
  return s;
}

test('the API version is the client\'s', () => {
  assert.equal(API_VERSION, CLIENT_API_VERSION);
});

test('unixSocketPath: unix:// hosts and bare paths only', () => {
  assert.equal(unixSocketPath('unix:///run/berth/berth.sock'), '/run/berth/berth.sock');
  assert.equal(unixSocketPath('/tmp/x.sock'), '/tmp/x.sock');
  assert.equal(unixSocketPath('tcp://127.0.0.1:2375'), undefined);
  assert.equal(unixSocketPath('unix://relative'), undefined);
  assert.equal(unixSocketPath(''), undefined);
});

test('a request with a Buffer body; a chunked answer streamed in several writes', async () => {
  const d = new FakeDaemon();
  d.on('POST', '/build', (req, res) => {
    assert.equal(req.headers['content-type'], 'application/x-tar');
    assert.equal(req.query.getAll('t').join(','), 'a:1,b:2');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Berth-Context-Refs': '1' });
    res.write('{"stream":"one\\n"}\r\n');
    setTimeout(() => {
      res.write('{"stream":"two\\n"}\r\n');
      res.end();
    }, 20);
  });
  await d.listen();
  try {
    const body = Buffer.alloc(300_000, 7);
    const r = await unixRequest(d.socketPath, d.host, 'POST', `/v${API_VERSION}/build?t=a%3A1&t=b%3A2`, { 'Content-Type': 'application/x-tar' }, body);
    assert.equal(r.status, 200);
    assert.equal(r.headers['berth-context-refs'], '1');
    assert.equal(await text(r.body), '{"stream":"one\\n"}\r\n{"stream":"two\\n"}\r\n');
    assert.equal(d.requests[0]!.body.length, body.length);
    assert.ok(d.requests[0]!.body.equals(body));
  } finally {
    await d.close();
  }
});

test('an error status rejects with ApiError and the daemon\'s message', async () => {
  const d = new FakeDaemon();
  d.on('POST', '/build', (_req, res) => {
    res.writeHead(409, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'build context refers to content the daemon does not have' }));
  });
  await d.listen();
  try {
    await assert.rejects(unixRequest(d.socketPath, d.host, 'POST', '/v1.45/build', {}, Buffer.from('x')), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.statusCode, 409);
      assert.equal(e.message, 'build context refers to content the daemon does not have');
      return true;
    });
  } finally {
    await d.close();
  }
});

test('no daemon: DaemonUnreachableError with the client\'s wording', async () => {
  const path = join(tmp, 'absent.sock');
  await assert.rejects(unixRequest(path, `unix://${path}`, 'POST', '/v1.45/build', {}, Buffer.alloc(0)), (e: unknown) => {
    assert.ok(e instanceof DaemonUnreachableError);
    assert.equal(e.message, `Cannot connect to the berth daemon at unix://${path}. Is the berth daemon running?`);
    return true;
  });
});

test('a daemon that hangs up in the middle of a chunked body: the body fails', async () => {
  const path = join(tmp, 'cut.sock');
  const server = createServer((s) => {
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'));
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const r = await unixRequest(path, `unix://${path}`, 'POST', '/x', {}, Buffer.from('x'));
    await assert.rejects(text(r.body), /closed the connection before the answer was complete/);
  } finally {
    server.close();
  }
});

test('the parser: any split of the input gives the same head and body', () => {
  const raw = Buffer.from(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4;ext=1\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n',
  );
  for (const step of [1, 2, 3, 7, raw.length]) {
    const q = new BodyQueue();
    const seen: Array<[number, Record<string, string>]> = [];
    const p = new ResponseParser((s, h) => seen.push([s, h]), q);
    const parts: Buffer[] = [];
    const orig = q.push.bind(q);
    q.push = (b: Buffer) => {
      parts.push(Buffer.from(b));
      orig(b);
    };
    for (let i = 0; i < raw.length; i += step) p.push(raw.subarray(i, i + step));
    assert.ok(p.complete, `step ${step}`);
    assert.ok(q.done);
    assert.deepEqual(seen, [[200, { 'content-type': 'application/json', 'x-a': '1, 2', 'transfer-encoding': 'chunked' }]]);
    assert.equal(Buffer.concat(parts).toString(), 'abcd0123456789abcdef');
  }
});

test('the parser: Content-Length and read-to-EOF bodies; malformed input is refused', () => {
  const q1 = new BodyQueue();
  const p1 = new ResponseParser(() => undefined, q1);
  p1.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA'));
  assert.ok(p1.complete);

  const q2 = new BodyQueue();
  const p2 = new ResponseParser(() => undefined, q2);
  p2.push(Buffer.from('HTTP/1.0 200 OK\r\n\r\nsome'));
  assert.ok(!p2.complete);
  p2.end();
  assert.ok(p2.complete);

  const p3 = new ResponseParser(() => undefined, new BodyQueue());
  assert.throws(() => p3.push(Buffer.from('SPDY/3 200 OK\r\n\r\n')), /malformed HTTP response/);
  const p4 = new ResponseParser(() => undefined, new BodyQueue());
  assert.throws(() => p4.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), /bad chunk size/);
  const p5 = new ResponseParser(() => undefined, new BodyQueue());
  p5.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  assert.throws(() => p5.end(), /before the answer was complete/);
});
