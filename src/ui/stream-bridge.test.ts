import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '../wire/stdcopy.js';
import { silentLogger } from '../common/logger.js';
import { ApiLink } from './api-link.js';
import { serveBridge } from './stream-bridge.js';
import type { UiSocket } from './websocket.js';

let dir: string;
let server: http.Server;
let link: ApiLink;
const closedStreams: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-ui-bridge-'));
  // A stand-in for the Engine API: an events stream that stays open, and multiplexed logs.
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"Action":"start"}\n');
      req.socket.once('close', () => closedStreams.push('events'));
      return;
    }
    if (req.url?.startsWith('/containers/web/logs')) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      res.end(Buffer.concat([encodeFrame(1, 'out\n'), encodeFrame(2, 'bad\n'), encodeFrame(1, Buffer.from([0xe2, 0x82])), encodeFrame(1, Buffer.from([0xac, 0x0a]))]));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"message":"No such container: nope"}');
  });
  await new Promise<void>((r) => server.listen(join(dir, 'api.sock'), r));
  link = new ApiLink(join(dir, 'api.sock'));
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

function fakeSocket() {
  const sent: Array<Record<string, unknown>> = [];
  let onMessage: (t: string) => void = () => {};
  let onClose: () => void = () => {};
  let closed: number | undefined;
  const ws: UiSocket = {
    send: (t) => sent.push(JSON.parse(t)),
    close: (code) => void (closed = code),
    onMessage: (fn) => void (onMessage = fn),
    onClose: (fn) => void (onClose = fn),
    bufferedAmount: 0,
  };
  serveBridge(ws, link, silentLogger());
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred(), JSON.stringify(sent));
  };
  return { sent, say: (m: unknown) => onMessage(typeof m === 'string' ? m : JSON.stringify(m)), hangUp: () => onClose(), closed: () => closed, until };
}

test('only event, log and stats streams (and pull/push progress) pass the bridge', async () => {
  const s = fakeSocket();
  s.say({ op: 'stream', id: 'a', path: '/containers/web/json' });
  s.say({ op: 'stream', id: 'b', path: '/containers/web/exec' });
  s.say({ op: 'bogus', id: 'c' });
  s.say({ op: 'stream', id: 'd', path: '/images/x/../../containers/web/kill?/push' });
  s.say({ op: 'stream', id: 'e', path: '/containers/../logs' });
  await s.until(() => s.sent.length === 5);
  assert.match(String(s.sent[0]!['error']), /cannot be streamed/);
  assert.match(String(s.sent[1]!['error']), /cannot be streamed/);
  assert.match(String(s.sent[2]!['error']), /unknown op/);
  assert.match(String(s.sent[3]!['error']), /cannot be streamed/);
  assert.match(String(s.sent[4]!['error']), /cannot be streamed/);
});

test('a malformed message closes the socket', () => {
  const s = fakeSocket();
  s.say('{not json');
  assert.equal(s.closed(), 1003);
});

test('multiplexed logs arrive with stderr marked and UTF-8 split across frames kept whole', async () => {
  const s = fakeSocket();
  s.say({ op: 'stream', id: 'l', path: '/containers/web/logs?follow=1' });
  await s.until(() => s.sent.some((m) => m['op'] === 'end'));
  const parts = s.sent.filter((m) => m['op'] === 'data').flatMap((m) => m['parts'] as Array<[number, string]>);
  assert.deepEqual(parts, [[1, 'out\n'], [2, 'bad\n'], [1, '€\n']]);
  assert.equal(s.sent.at(-1)!['error'], undefined);
});

test('an engine error ends the stream with its message; cancel and hang-up end the engine request', async () => {
  const s = fakeSocket();
  s.say({ op: 'stream', id: 'x', path: '/containers/nope/logs' });
  await s.until(() => s.sent.some((m) => m['id'] === 'x' && m['op'] === 'end'));
  assert.equal(s.sent.find((m) => m['id'] === 'x')!['error'], 'No such container: nope');
  s.say({ op: 'stream', id: 'e', path: '/events' });
  await s.until(() => s.sent.some((m) => m['id'] === 'e' && m['op'] === 'data'));
  s.say({ op: 'stream', id: 'e', path: '/events' });
  await s.until(() => s.sent.some((m) => m['id'] === 'e' && m['op'] === 'end'));
  assert.match(String(s.sent.find((m) => m['id'] === 'e' && m['op'] === 'end')!['error']), /in use/);
  s.say({ op: 'cancel', id: 'e' });
  await s.until(() => closedStreams.length === 1);
  const t = fakeSocket();
  t.say({ op: 'stream', id: 'e2', path: '/events' });
  await t.until(() => t.sent.some((m) => m['op'] === 'data'));
  t.hangUp();
  await t.until(() => closedStreams.length === 2);
});
