import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CommandRunner, RunOptions, RunResult } from '../common/command-runner.js';
import { CniNetwork } from './cni.js';

/** Records each plugin call (name, CNI_COMMAND, stdin JSON) and answers from `answer`. */
class FakePlugins implements CommandRunner {
  readonly calls: { plugin: string; command: string; env: NodeJS.ProcessEnv; conf: Record<string, unknown> }[] = [];
  constructor(private readonly answer: (plugin: string, command: string, conf: Record<string, unknown>) => Partial<RunResult>) {}
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const conf = JSON.parse(String(options.input)) as Record<string, unknown>;
    const plugin = basename(argv[0]!);
    const command = options.env?.['CNI_COMMAND'] ?? '';
    this.calls.push({ plugin, command, env: options.env ?? {}, conf });
    const a = this.answer(plugin, command, conf);
    return { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'berth-cni-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'bin');
mkdirSync(bin);
for (const p of ['bridge', 'portmap']) {
  writeFileSync(join(bin, p), '');
  chmodSync(join(bin, p), 0o755);
}
const conf = join(dir, 'net.d');
mkdirSync(conf);
writeFileSync(join(conf, '20-other.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'later', type: 'bridge' }));
writeFileSync(join(conf, '10-pods.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'bridge', bridge: 'cni9' }, { type: 'portmap', capabilities: { portMappings: true } }] }));
const attach = { containerId: 'c1', netns: '/run/x/netns/k', ifName: 'eth0', args: { K8S_POD_NAME: 'web', K8S_POD_NAMESPACE: 'default' }, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] };
const bridgeResult = { cniVersion: '1.0.0', ips: [{ address: '10.9.0.5/24' }], interfaces: [{ name: 'eth0' }] };

describe('CNI plugin chain', () => {
  it('ADDs in list order (first config by name), passing prevResult, port mappings to the capable plugin only', async () => {
    const r = new FakePlugins((p) => (p === 'bridge' ? { stdout: JSON.stringify(bridgeResult) } : { stdout: '' }));
    const cni = new CniNetwork({ confDir: conf, binDirs: ['/nonexistent', bin], runner: r });
    const res = await cni.add(attach);
    assert.deepEqual(res.ips, ['10.9.0.5']);
    assert.deepEqual(r.calls.map((c) => [c.plugin, c.command]), [['bridge', 'ADD'], ['portmap', 'ADD']]);
    const [b, p] = r.calls;
    assert.equal(b!.conf['name'], 'pods');
    assert.equal(b!.conf['runtimeConfig'], undefined);
    assert.deepEqual(p!.conf['runtimeConfig'], { portMappings: attach.portMappings });
    assert.deepEqual(p!.conf['prevResult'], bridgeResult);
    assert.equal(b!.env['CNI_NETNS'], '/run/x/netns/k');
    assert.equal(b!.env['CNI_PATH'], `/nonexistent:${bin}`);
    assert.equal(b!.env['CNI_ARGS'], 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default');
    // DEL: reverse order, with the config and result ADD used.
    r.calls.length = 0;
    await cni.del(attach, { conf: res.conf, result: res.result! });
    assert.deepEqual(r.calls.map((c) => [c.plugin, c.command]), [['portmap', 'DEL'], ['bridge', 'DEL']]);
    assert.deepEqual(r.calls[0]!.conf['prevResult'], bridgeResult);
  });

  it('undoes what it added when a later plugin fails, and names the plugin in the error', async () => {
    const r = new FakePlugins((p, cmd) => (p === 'portmap' && cmd === 'ADD' ? { code: 1, stdout: JSON.stringify({ code: 999, msg: 'port 8080 taken' }) } : { stdout: p === 'bridge' && cmd === 'ADD' ? JSON.stringify(bridgeResult) : '' }));
    const cni = new CniNetwork({ confDir: conf, binDirs: [bin], runner: r });
    await assert.rejects(cni.add(attach), /plugin type="portmap" name="pods" failed \(add\): port 8080 taken/);
    assert.deepEqual(r.calls.map((c) => [c.plugin, c.command]), [['bridge', 'ADD'], ['portmap', 'ADD'], ['portmap', 'DEL'], ['bridge', 'DEL']]);
  });

  it('reports NetworkReady false with a reason when there is no config or a plugin is missing', async () => {
    const none = new CniNetwork({ confDir: join(dir, 'empty'), binDirs: [bin], runner: new FakePlugins(() => ({})) });
    const s = await none.status();
    assert.equal(s.ready, false);
    assert.equal(s.reason, 'NetworkPluginNotReady');
    assert.match(s.message, /no network config found/);
    const nobin = new CniNetwork({ confDir: conf, binDirs: [join(dir, 'nobin')], runner: new FakePlugins(() => ({})) });
    assert.match((await nobin.status()).message, /failed to find plugin "bridge"/);
    assert.equal((await new CniNetwork({ confDir: conf, binDirs: [bin], runner: new FakePlugins(() => ({})) }).status()).ready, true);
  });
});
