import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { certificateNames, checkJsonContentType, hostName, makeHostCheck } from './request-guards.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('JSON bodies need application/json (Docker\'s CheckForJSON); no body needs no type', () => {
  assert.doesNotThrow(() => checkJsonContentType(req({}), false));
  assert.doesNotThrow(() => checkJsonContentType(req({ 'content-type': 'application/json' }), true));
  assert.doesNotThrow(() => checkJsonContentType(req({ 'content-type': 'Application/JSON; charset=utf-8' }), true));
  assert.throws(() => checkJsonContentType(req({}), true), /unsupported Content-Type header \(\): must be 'application\/json'/);
  assert.throws(() => checkJsonContentType(req({ 'content-type': 'text/plain' }), true), /\(text\/plain\)/);
  assert.throws(() => checkJsonContentType(req({ 'content-type': 'text/plain' }), false), /text\/plain/);
});

test('Host check: IPs, localhost and allowed names pass; other names and garbage are refused', () => {
  assert.equal(hostName('Example.COM.:2375'), 'example.com');
  assert.equal(hostName('[::1]:2375'), '::1');
  assert.equal(hostName('a b'), undefined);
  const check = makeHostCheck(['build-box', 'berth.example.']);
  for (const ok of ['127.0.0.1:2375', '10.1.2.3', '[::1]:1', 'localhost:2375', 'app.localhost', 'build-box:2376', 'berth.example']) {
    assert.doesNotThrow(() => check(req({ host: ok })), ok);
  }
  for (const bad of ['attacker.example', 'build-box.attacker.example:2375', '', 'x y']) {
    assert.throws(() => check(req({ host: bad })), /is not allowed/, bad);
  }
  assert.throws(() => check(req({})), /is not allowed/);
  assert.deepEqual(certificateNames('DNS:localhost, IP Address:127.0.0.1, DNS:box.example'), ['localhost', 'box.example']);
});
