import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidParameter } from '../../common/errors.js';
import { expandExposedPorts, normalizePortBindings, parsePortKey, parsePortRange } from './port-spec.js';

test('port keys default to tcp and reject unknown protocols and bad numbers', () => {
  assert.deepEqual(parsePortKey('80'), { port: 80, proto: 'tcp' });
  assert.deepEqual(parsePortKey('53/UDP'), { port: 53, proto: 'udp' });
  assert.deepEqual(parsePortKey('9/sctp'), { port: 9, proto: 'sctp' });
  assert.throws(() => parsePortKey('80/icmp'), /invalid proto: icmp/);
  assert.throws(() => parsePortKey('0/tcp'), isInvalidParameter);
  assert.throws(() => parsePortKey('70000'), isInvalidParameter);
  assert.throws(() => parsePortKey('http'), isInvalidParameter);
});

test('port ranges', () => {
  assert.deepEqual(parsePortRange('8000-8010'), [8000, 8010]);
  assert.deepEqual(parsePortRange('80'), [80, 80]);
  assert.throws(() => parsePortRange('90-80'), /invalid range specified for port: 90-80/);
  assert.throws(() => parsePortRange('1-70000'), isInvalidParameter);
});

test('PortBindings are normalised: tcp default, brackets off IPv6, 0 means any port', () => {
  assert.deepEqual(
    normalizePortBindings({ '80': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostPort: '0' }], '443/tcp': [{ HostIp: '[::1]', HostPort: '9000-9002' }], '22/tcp': null }),
    { '80/tcp': [{ hostIp: '127.0.0.1', hostPort: '8080' }], '53/udp': [{ hostIp: '', hostPort: '' }], '443/tcp': [{ hostIp: '::1', hostPort: '9000-9002' }], '22/tcp': [] },
  );
  assert.equal(normalizePortBindings(undefined), undefined);
  assert.throws(() => normalizePortBindings({ '80/tcp': [{ HostIp: '1.2.3', HostPort: '80' }] }), /invalid IP address: 1.2.3/);
  assert.throws(() => normalizePortBindings({ '80/tcp': [{ HostPort: 'abc' }] }), /invalid hostPort: abc/);
  assert.throws(() => normalizePortBindings({ '80/tcp': [{ HostPort: '70000' }] }), /invalid hostPort: 70000/);
  assert.throws(() => normalizePortBindings({ '80/xyz': [] }), /invalid proto: xyz/);
  assert.throws(() => normalizePortBindings({ '80/tcp': 'x' }), isInvalidParameter);
});

test('exposed port ranges expand', () => {
  assert.deepEqual(expandExposedPorts(['8000-8002/udp', '80', '80/tcp']), ['8000/udp', '8001/udp', '8002/udp', '80/tcp']);
});
