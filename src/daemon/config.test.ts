import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopback, loadConfig, parseListenAddress } from './config.js';
import { InvalidParameterError } from '../common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-config-test-'));
const file = join(dir, 'daemon.json');
writeFileSync(file, '{}');
const load = (...args: string[]) => loadConfig(['--config-file', file, '--exec-root', dir, ...args], {});

describe('daemon config: hosts and TLS', () => {
  it('parses unix and tcp addresses with docker\'s default ports', () => {
    assert.deepEqual(parseListenAddress('unix:///run/x.sock'), { kind: 'unix', url: 'unix:///run/x.sock', path: '/run/x.sock' });
    assert.deepEqual(parseListenAddress('tcp://10.0.0.1:2376'), { kind: 'tcp', url: 'tcp://10.0.0.1:2376', host: '10.0.0.1', port: 2376 });
    assert.equal((parseListenAddress('tcp://[::1]', { tls: false }) as { port: number }).port, 2375);
    assert.equal((parseListenAddress('tcp://:9999') as { host: string }).host, '0.0.0.0');
    for (const bad of ['tcp://host.example:1', 'tcp://1.2.3.4:70000', 'http://1.2.3.4', 'unix://rel.sock', 'nonsense']) {
      assert.throws(() => parseListenAddress(bad), InvalidParameterError, bad);
    }
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.5.0.1', '::1', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '10.231.1.2', '::', '128.0.0.1']) assert.equal(isLoopback(h), false, h);
  });

  it('refuses TCP without --tlsverify, and plain TCP off loopback even with --insecure-tcp', () => {
    assert.throws(() => load('-H', 'tcp://127.0.0.1:2375'), /without mutual TLS/);
    assert.throws(() => load('-H', 'tcp://10.1.2.3:2375', '--insecure-tcp'), /without mutual TLS/);
    assert.throws(() => load('-H', 'tcp://10.1.2.3:2376', '--tls'), /without mutual TLS/);
    assert.throws(() => load('-H', 'tcp://127.0.0.1:2376', '--tls', '--insecure-tcp'), /--tls without --tlsverify/);
    const ok = load('-H', 'tcp://127.0.0.1:2375', '--insecure-tcp');
    assert.equal(ok.insecureTcp, true);
    assert.equal(ok.tls, undefined);
  });

  it('takes TLS from flags over daemon.json, with /etc/berth/tls defaults', () => {
    const c = load('-H', 'unix:///x.sock', '-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscert', '/c.pem');
    assert.deepEqual(c.tls, { verify: true, caFile: '/etc/berth/tls/ca.pem', certFile: '/c.pem', keyFile: '/etc/berth/tls/server-key.pem' });
    assert.deepEqual(c.listen.map((a) => a.kind), ['unix', 'tcp']);
    writeFileSync(file, JSON.stringify({ hosts: ['tcp://0.0.0.0:2376'], tlsverify: true, tlscacert: '/f/ca.pem', tlskey: '/f/key.pem' }));
    try {
      const f = load();
      assert.deepEqual(f.tls, { verify: true, caFile: '/f/ca.pem', certFile: '/etc/berth/tls/server-cert.pem', keyFile: '/f/key.pem' });
      writeFileSync(file, JSON.stringify({ tlscacert: 5, tlsverify: true }));
      assert.throws(() => load(), /invalid "tlscacert"/);
    } finally {
      writeFileSync(file, '{}');
    }
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

describe('daemon config: registries, logs, cgroups', () => {
  it('reads insecure-registries from daemon.json and flags; unknown keys are refused', () => {
    const f = join(dir, 'reg.json');
    writeFileSync(f, JSON.stringify({ 'insecure-registries': ['reg.local:5000'], 'log-opts': { 'max-size': '1m' }, 'cgroup-parent': 'mine' }));
    const c = loadConfig(['--config-file', f, '--exec-root', dir, '--insecure-registry', 'other:5000'], {});
    assert.deepEqual(c.insecureRegistries, ['reg.local:5000', 'other:5000']);
    assert.equal(c.logOpts['max-size'], '1m');
    assert.equal(c.cgroupParent, '/mine');
    writeFileSync(f, JSON.stringify({ 'no-such-key': 1 }));
    assert.throws(() => loadConfig(['--config-file', f], {}), /unknown key "no-such-key"/);
    writeFileSync(f, '{broken');
    assert.throws(() => loadConfig(['--config-file', f], {}), /invalid config file/);
  });
});

it('no-new-privileges and api-allowed-hosts: flag and daemon.json, checked', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'berth-cfg-'));
  try {
    const file = join(dir, 'daemon.json');
    await writeFile(file, '{}');
    const base = loadConfig(['--config-file', file]);
    assert.equal(base.noNewPrivileges, false);
    assert.deepEqual(base.apiAllowedHosts, []);
    assert.equal(loadConfig(['--config-file', file, '--no-new-privileges']).noNewPrivileges, true);
    assert.deepEqual(loadConfig(['--config-file', file, '--api-allowed-host', 'a.example', 'b']).apiAllowedHosts, ['a.example', 'b']);
    await writeFile(file, '{"no-new-privileges": true, "api-allowed-hosts": ["box.example"]}');
    const fromFile = loadConfig(['--config-file', file]);
    assert.equal(fromFile.noNewPrivileges, true);
    assert.deepEqual(fromFile.apiAllowedHosts, ['box.example']);
    await writeFile(file, '{"no-new-privileges": "yes"}');
    assert.throws(() => loadConfig(['--config-file', file]), /no-new-privileges/);
    await writeFile(file, '{"api-allowed-hosts": "x"}');
    assert.throws(() => loadConfig(['--config-file', file]), /api-allowed-hosts/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('daemon config: CRI and registry mirrors (issue 18)', () => {
  const withFile = (json: unknown, ...args: string[]) => {
    writeFileSync(file, JSON.stringify(json));
    try {
      return loadConfig(['--config-file', file, '--exec-root', dir, ...args], {});
    } finally {
      writeFileSync(file, '{}');
    }
  };
  it('has no CRI unless asked; --cri uses <exec-root>/cri.sock, --cri-socket another', () => {
    assert.equal(load().cri, undefined);
    assert.equal(load('--cri').cri?.socket, join(dir, 'cri.sock'));
    assert.equal(load('--cri-socket', 'unix:///tmp/x/cri.sock').cri?.socket, '/tmp/x/cri.sock');
    const c = withFile({ cri: { 'sandbox-image': 'registry.k8s.io/pause:3.6', 'cni-conf-dir': '/tmp/net.d', 'cni-bin-dir': '/tmp/bin' } }).cri!;
    assert.deepEqual([c.sandboxImage, c.cniConfDir, c.cniBinDirs, c.streamAddress, c.restrictOomScoreAdj], ['registry.k8s.io/pause:3.6', '/tmp/net.d', ['/tmp/bin'], '127.0.0.1', true]);
    assert.equal(withFile({ cri: { enable: false } }).cri, undefined);
  });
  it('refuses bad CRI settings with a message naming them', () => {
    assert.throws(() => load('--cri-socket', 'tcp://1.2.3.4:1'), /invalid CRI socket/);
    assert.throws(() => withFile({ cri: { sockett: 'x' } }), /unknown key "sockett"/);
    assert.throws(() => withFile({ cri: { 'stream-port': 70000 } }), /stream-port/);
    assert.throws(() => withFile({ cri: { 'cni-bin-dir': ['rel'] } }), /cni-bin-dir/);
  });
  it('reads registry-mirrors as Docker\'s list (docker.io) or per registry', () => {
    assert.deepEqual(withFile({ 'registry-mirrors': ['https://mirror.example/'] }).registryMirrors, { 'docker.io': ['https://mirror.example'] });
    assert.deepEqual(withFile({ 'registry-mirrors': { 'registry.k8s.io': ['http://127.0.0.1:5001'] } }).registryMirrors, { 'registry.k8s.io': ['http://127.0.0.1:5001'] });
    assert.deepEqual(load('--registry-mirror', 'gcr.io=http://127.0.0.1:5001').registryMirrors, { 'gcr.io': ['http://127.0.0.1:5001'] });
    assert.throws(() => withFile({ 'registry-mirrors': { 'gcr.io': 'http://x' } }), /expected a list/);
    assert.throws(() => withFile({ 'registry-mirrors': ['ftp://x'] }), /invalid registry mirror/);
  });
});

describe('daemon config: userns-remap (issue 21)', () => {
  it('takes --userns-remap over daemon.json "userns-remap"; absent by default', () => {
    assert.equal(load().usernsRemap, undefined);
    assert.equal(load('--userns-remap', 'default').usernsRemap, 'default');
    const f = join(dir, 'userns.json');
    writeFileSync(f, JSON.stringify({ 'userns-remap': 'app:staff' }));
    assert.equal(loadConfig(['--config-file', f, '--exec-root', dir], {}).usernsRemap, 'app:staff');
    assert.equal(loadConfig(['--config-file', f, '--exec-root', dir, '--userns-remap', '1000'], {}).usernsRemap, '1000');
    writeFileSync(f, JSON.stringify({ 'userns-remap': 5 }));
    assert.throws(() => loadConfig(['--config-file', f, '--exec-root', dir], {}), /invalid "userns-remap"/);
    assert.throws(() => load('--userns-remap', 'default', '--runtime', 'runc'), /needs the crun runtime/);
  });
});
