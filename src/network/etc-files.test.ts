import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extraHostLines, nameservers, renderHostNetworkHosts, renderHosts, renderResolvConf } from './etc-files.js';

const HEADER = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

test('renderHosts: loopback header, --add-host entries, then the name on each address', () => {
  const c = { config: { hostname: 'web', domainname: 'example.org' }, host: { extraHosts: ['db:10.0.0.5', 'gw:host-gateway', 'v6:2001:db8::1'] } };
  assert.equal(
    renderHosts(c, ['172.18.0.2', 'fd00::2'], '172.18.0.1'),
    HEADER + '10.0.0.5\tdb\n172.18.0.1\tgw\n2001:db8::1\tv6\n172.18.0.2\tweb.example.org web\nfd00::2\tweb.example.org web\n',
  );
});

test('renderHosts at create (no address yet): the same format without the name lines', () => {
  const c = { config: { hostname: 'abc' }, host: { extraHosts: ['x:1.2.3.4'] } };
  assert.equal(renderHosts(c), HEADER + '1.2.3.4\tx\n');
  // No gateway known: host-gateway stays as written rather than becoming an empty address.
  assert.deepEqual(extraHostLines(['h:host-gateway']), ['host-gateway\th']);
});

test('renderHostNetworkHosts: the host file plus --add-host entries; a default when the host has none', () => {
  assert.equal(renderHostNetworkHosts('127.0.0.1 localhost myhost\n', ['a:1.1.1.1']), '127.0.0.1 localhost myhost\n1.1.1.1\ta\n');
  assert.equal(renderHostNetworkHosts(undefined, []), '127.0.0.1\tlocalhost\n');
});

const HOST_RESOLV = '# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example .\noptions edns0 trust-ad\n';

test('renderResolvConf: host servers without loopback ones, the host search and options', () => {
  assert.equal(renderResolvConf(HOST_RESOLV, { config: {}, host: {} }), 'nameserver 192.0.2.1\nsearch corp.example\noptions edns0 trust-ad\n');
});

test('renderResolvConf: the host network keeps loopback servers', () => {
  assert.equal(renderResolvConf(HOST_RESOLV, { config: {}, host: { networkMode: 'host' } }), 'nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0 trust-ad\n');
});

test('renderResolvConf: --dns, --dns-search, --dns-option replace the host values', () => {
  assert.equal(
    renderResolvConf(HOST_RESOLV, { config: {}, host: { dns: ['9.9.9.9'], dnsSearch: ['a.example'], dnsOptions: ['ndots:2'] } }),
    'nameserver 9.9.9.9\nsearch a.example\noptions ndots:2\n',
  );
});

test('renderResolvConf: the embedded DNS on user networks, --dns noted as its upstreams', () => {
  assert.equal(renderResolvConf(HOST_RESOLV, { config: {}, host: {} }, '10.60.0.1'), 'nameserver 10.60.0.1\nsearch corp.example\noptions edns0 trust-ad\n');
  assert.equal(
    renderResolvConf('', { config: {}, host: { dns: ['9.9.9.9'] } }, '10.60.0.1'),
    '# upstream servers (--dns) 9.9.9.9\nnameserver 10.60.0.1\n',
  );
});

test('renderResolvConf: only loopback servers on the host (or no file) give Docker\'s fallback', () => {
  assert.equal(renderResolvConf('nameserver 127.0.0.1\n', { config: {}, host: {} }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(renderResolvConf('', { config: {}, host: {} }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
});

test('nameservers: in order, whatever their kind', () => {
  assert.deepEqual(nameservers(HOST_RESOLV), ['127.0.0.53', '192.0.2.1']);
});
