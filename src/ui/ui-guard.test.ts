import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedHostsFor, checkRequest, COOKIE_NAME, parseCookies, type GuardOptions, type GuardRequest } from './ui-guard.js';
import { parseUiAddress } from './ui-address.js';

const TOKEN = 'a'.repeat(64);
const opts: GuardOptions = { token: TOKEN, scheme: 'http', allowedHosts: allowedHostsFor('127.0.0.1', 7681) };
const cookie = `${COOKIE_NAME}=${TOKEN}`;
const req = (r: Partial<GuardRequest> & { headers?: GuardRequest['headers'] }): GuardRequest => ({ method: 'GET', url: '/', ...r, headers: { host: '127.0.0.1:7681', ...r.headers } });

test('the token in the landing URL becomes an HttpOnly SameSite=Strict cookie and leaves the URL', () => {
  const v = checkRequest(req({ url: `/?token=${TOKEN}` }), opts);
  assert.equal(v.ok, true);
  assert.ok(v.ok && v.setCookie);
  assert.match(v.setCookie!, /HttpOnly/);
  assert.match(v.setCookie!, /SameSite=Strict/);
  assert.doesNotMatch(v.setCookie!, /Secure/);
  assert.equal(v.redirect, '/');
  const https = checkRequest(req({ url: `/?token=${TOKEN}` }), { ...opts, scheme: 'https' });
  assert.ok(https.ok && /; Secure/.test(https.setCookie!));
});

test('no token, a wrong token or a wrong cookie is 401', () => {
  for (const r of [req({}), req({ url: '/api/containers/json' }), req({ url: `/?token=${'b'.repeat(64)}` }), req({ headers: { cookie: `${COOKIE_NAME}=${'b'.repeat(64)}` } }), req({ headers: { cookie: `${COOKIE_NAME}=short` } })]) {
    const v = checkRequest(r, opts);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.status, 401);
  }
});

test('the cookie opens same-origin requests', () => {
  assert.equal(checkRequest(req({ url: '/api/containers/json', headers: { cookie } }), opts).ok, true);
  assert.equal(checkRequest(req({ method: 'POST', url: '/api/containers/x/stop', headers: { cookie, origin: 'http://127.0.0.1:7681' } }), opts).ok, true);
  assert.equal(checkRequest(req({ url: '/ws', upgrade: true, headers: { cookie, origin: 'http://localhost:7681', host: 'localhost:7681' } }), opts).ok, true);
});

test('DNS rebinding: a foreign Host is refused even with the cookie and token', () => {
  for (const host of ['evil.example:7681', '127.0.0.1:7682', 'evil.example', '', '127.0.0.1']) {
    const v = checkRequest(req({ url: `/?token=${TOKEN}`, headers: { host, cookie } }), opts);
    assert.equal(v.ok, false, host);
    assert.equal(!v.ok && v.status, 421);
  }
});

test('CSRF: a foreign Origin, a cross-site fetch or a POST without Origin is refused', () => {
  const cases: GuardRequest[] = [
    req({ method: 'POST', url: '/api/containers/x/stop', headers: { cookie, origin: 'http://evil.example' } }),
    req({ method: 'POST', url: '/api/containers/x/stop', headers: { cookie, origin: 'null' } }),
    req({ method: 'POST', url: '/api/containers/x/stop', headers: { cookie } }),
    req({ method: 'DELETE', url: '/api/containers/x', headers: { cookie, origin: 'https://127.0.0.1:7681' } }),
    req({ url: '/api/containers/json', headers: { cookie, origin: 'http://evil.example' } }),
    req({ url: '/api/containers/json', headers: { cookie, 'sec-fetch-site': 'cross-site' } }),
    req({ url: '/ws', upgrade: true, headers: { cookie } }),
    req({ url: '/ws', upgrade: true, headers: { cookie, origin: 'http://evil.example' } }),
  ];
  for (const r of cases) {
    const v = checkRequest(r, opts);
    assert.equal(v.ok, false, JSON.stringify(r));
    assert.equal(!v.ok && v.status, 403);
  }
});

test('cookies parse; allowed hosts include the loopback names', () => {
  assert.deepEqual(parseCookies('a=1; berth_desktop=xyz;b'), { a: '1', berth_desktop: 'xyz' });
  const h = allowedHostsFor('::1', 80);
  assert.ok(h.has('[::1]:80') && h.has('localhost:80') && h.has('127.0.0.1:80'));
  assert.deepEqual([...allowedHostsFor('10.0.0.5', 9)], ['10.0.0.5:9']);
});

test('the UI listens on loopback only unless TLS is on', () => {
  assert.deepEqual(parseUiAddress('127.0.0.1:7681', { tls: false }), { host: '127.0.0.1', port: 7681 });
  assert.deepEqual(parseUiAddress('[::1]:0', { tls: false }), { host: '::1', port: 0 });
  assert.throws(() => parseUiAddress('0.0.0.0:7681', { tls: false }), /without TLS/);
  assert.throws(() => parseUiAddress('192.168.1.2:7681', { tls: false }), /without TLS/);
  assert.deepEqual(parseUiAddress('0.0.0.0:7681', { tls: true }), { host: '0.0.0.0', port: 7681 });
  for (const bad of ['7681', 'example.com:80', '127.0.0.1:99999', '127.0.0.1:']) assert.throws(() => parseUiAddress(bad, { tls: false }), /invalid --ui/);
});

test('berthd --ui: loopback accepted, other addresses refused without TLS, off by default', async () => {
  const { loadConfig } = await import('../daemon/config.js');
  const env = { BERTH_CONFIG_FILE: '/nonexistent/berth-daemon.json' };
  assert.equal(loadConfig([], env).ui, undefined);
  assert.deepEqual(loadConfig(['--ui', '127.0.0.1:7681'], env).ui, { host: '127.0.0.1', port: 7681 });
  assert.throws(() => loadConfig(['--ui', '0.0.0.0:7681'], env), /refusing to serve the desktop UI on 0\.0\.0\.0:7681 without TLS/);
});
