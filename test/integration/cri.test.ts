/**
 * berth as a Kubernetes CRI runtime (issue 18), end to end: a private berthd with `--cri` on
 * its own socket, CNI config dir, bridge and subnet; crictl (cri-tools v1.26.1 from
 * ../shared/cri-tools) drives a pod through runp, create, start, exec, logs, stats, stopp, rmp,
 * and pull/inspecti/rmi from berth's own registry; then a short critest selection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { createDaemon, REPO_ROOT, runCommand, TEST_BRIDGE_PREFIX, type TestDaemon } from '../helpers/daemon.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';
import { freePort } from '../helpers/http.js';
import { spawn } from 'node:child_process';

/** cri-tools: $BERTH_CRI_TOOLS, else ../shared/cri-tools beside the repository (as in CI). */
function criTools(): string {
  const candidates = [process.env['BERTH_CRI_TOOLS'], join(REPO_ROOT, '..', 'shared', 'cri-tools'), '/work/shared/cri-tools'].filter(Boolean) as string[];
  const found = candidates.find((c) => existsSync(join(c, 'bin', 'crictl')));
  if (!found) throw new Error(`crictl not found in ${candidates.join(', ')}: set BERTH_CRI_TOOLS to a cri-tools v1.26.1 directory`);
  return resolve(found);
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((res, rej) => {
    const req = http.get({ host, port, path: '/hostname', timeout: 5000 }, (r) => {
      let b = '';
      r.on('data', (c: Buffer) => (b += c.toString()));
      r.on('end', () => res(b));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('CRI: crictl end to end (issue 18)', () => {
  let d: TestDaemon;
  let tools: string;
  let criSock: string;
  let bridge: string;
  let subnet3: string;
  let reg: RegistryProc | undefined;
  const crictl = (args: string[], timeoutMs = 60_000) =>
    runCommand(join(tools, 'bin', 'crictl'), ['--runtime-endpoint', `unix://${criSock}`, '--image-endpoint', `unix://${criSock}`, '--timeout', '30s', ...args], {}, { timeoutMs });
  const ok = async (args: string[]) => {
    const r = await crictl(args);
    assert.equal(r.code, 0, `crictl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    tools = criTools();
    d = await createDaemon('cri');
    criSock = join(d.execRoot, 'cri.sock');
    // The CNI network of this daemon: a bridge named like test bridges (the leak check knows
    // them) and the last /24 of the daemon's own /21, host-local state in the test dir.
    bridge = `${TEST_BRIDGE_PREFIX}k${d.net!.bridge.slice(TEST_BRIDGE_PREFIX.length)}`.slice(0, 15);
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    subnet3 = `${base[0]}.${base[1]}.${base[2]! + 7}`;
    await mkdir(join(d.dir, 'net.d'), { recursive: true });
    await writeFile(join(d.dir, 'net.d', '10-test.conflist'), JSON.stringify({
      cniVersion: '1.0.0',
      name: 'berth-test-cri',
      plugins: [
        { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir: join(d.dir, 'cni'), ranges: [[{ subnet: `${subnet3}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    await writeFile(join(d.dir, 'daemon.json'), JSON.stringify({
      'registry-mirrors': { 'registry.k8s.io': ['http://127.0.0.1:5001'], 'gcr.io': ['http://127.0.0.1:5001'], 'docker.io': ['http://127.0.0.1:5001'] },
      cri: { socket: `unix://${criSock}`, 'sandbox-image': 'berth-test/pause:1', 'cni-conf-dir': join(d.dir, 'net.d'), 'cni-bin-dir': ['/usr/lib/cni', '/opt/cni/bin'] },
    }));
    await d.start();
    await d.importBusybox();
    // The sandbox image: catatonit in pause mode, as the pod-infra images are.
    const pz = join(d.dir, 'pause-root');
    await mkdir(pz);
    await copyFile('/usr/bin/catatonit', join(pz, 'pause'));
    const tar = await runCommand('tar', ['-C', pz, '-cf', join(d.dir, 'pause.tar'), 'pause'], {});
    assert.equal(tar.code, 0, tar.stderr);
    const imp = await d.api('POST', `/images/create?fromSrc=-&repo=berth-test/pause&tag=1&changes=${encodeURIComponent('ENTRYPOINT ["/pause","-P"]')}`, await readFile(join(d.dir, 'pause.tar')), { 'Content-Type': 'application/x-tar' });
    assert.equal(imp.status, 200, imp.body.toString());
  });

  after(async () => {
    await crictl(['rmp', '-fa']).catch(() => {});
    await reg?.stop();
    await d?.destroy();
    if (bridge) await runCommand('ip', ['link', 'del', bridge], {}).catch(() => {});
  });

  it('serves Version and Status with both conditions true', async () => {
    assert.match(await ok(['version']), /RuntimeName:\s+berth/);
    const info = JSON.parse(await ok(['info'])) as { status: { conditions: { type: string; status: boolean }[] } };
    assert.deepEqual(info.status.conditions.map((c) => [c.type, c.status]), [['RuntimeReady', true], ['NetworkReady', true]]);
  });

  it('runs a pod: runp, create, start, exec, logs, stats, berth ps, stopp, rmp', async () => {
    const logDir = join(d.dir, 'pod-logs');
    const pod = join(d.dir, 'pod.json');
    await writeFile(pod, JSON.stringify({ metadata: { name: 'web', namespace: 'default', uid: 'uid-1', attempt: 0 }, hostname: 'webhost', log_directory: logDir, linux: {} }));
    const ctr = join(d.dir, 'ctr.json');
    await writeFile(ctr, JSON.stringify({
      metadata: { name: 'app' },
      image: { image: 'busybox:latest' },
      command: ['sh', '-c', 'echo started; echo oops >&2; exec httpd -f -p 8080 -h /etc'],
      log_path: 'app.log',
      linux: {},
    }));
    const podId = await ok(['runp', pod]);
    assert.match(podId, /^[0-9a-f]{64}$/);
    const inspectp = JSON.parse(await ok(['inspectp', podId])) as { status: { state: string; network: { ip: string } } };
    assert.equal(inspectp.status.state, 'SANDBOX_READY');
    assert.ok(inspectp.status.network.ip.startsWith(`${subnet3}.`), `pod IP ${inspectp.status.network.ip} in ${subnet3}.0/24`);
    const ctrId = await ok(['create', podId, ctr, pod]);
    await ok(['start', ctrId]);
    assert.equal(await ok(['exec', ctrId, 'cat', '/etc/hostname']), 'webhost');
    assert.equal(await ok(['exec', ctrId, 'sh', '-c', 'echo $((6*7))']), '42');
    // A berthd restart leaves the pod running and reported unchanged.
    await d.stop();
    await d.start();
    for (let i = 0; i < 50 && !existsSync(criSock); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(JSON.parse(await ok(['inspectp', podId])).status.state, 'SANDBOX_READY');
    assert.equal(JSON.parse(await ok(['inspect', ctrId])).status.state, 'CONTAINER_RUNNING');
    assert.equal(await ok(['exec', ctrId, 'cat', '/etc/hostname']), 'webhost');
    // The pod's network works from the host through the CNI bridge.
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await httpGet(inspectp.status.network.ip, 8080).catch(() => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body.trim(), 'webhost');
    // CRI log format at the kubelet's path.
    const logText = await readFile(join(logDir, 'app.log'), 'utf8');
    assert.match(logText, /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) stdout F started$/m);
    assert.match(logText, /^\S+ stderr F oops$/m);
    const logs = await crictl(['logs', ctrId]);
    assert.match(logs.stdout + logs.stderr, /started/);
    // Streaming: exec with stdin, logs -f, port-forward (SPDY through the streaming server).
    const cat = await runCommand(join(tools, 'bin', 'crictl'), ['--runtime-endpoint', `unix://${criSock}`, 'exec', '-i', ctrId, 'cat'], {}, { input: 'through stdin\n', timeoutMs: 30_000 });
    assert.equal(cat.stdout, 'through stdin\n', cat.stderr);
    const follow = async (args: string[], until: (out: string) => Promise<boolean> | boolean): Promise<string> => {
      const p = spawn(join(tools, 'bin', 'crictl'), ['--runtime-endpoint', `unix://${criSock}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr.on('data', (c: Buffer) => (out += c.toString()));
      try {
        for (let i = 0; i < 100 && !(await until(out)); i++) await new Promise((r) => setTimeout(r, 100));
        return out;
      } finally {
        p.kill('SIGTERM');
      }
    };
    assert.match(await follow(['logs', '-f', ctrId], (o) => o.includes('oops')), /started[\s\S]*oops/);
    const local = await freePort();
    let forwarded = '';
    await follow(['port-forward', podId, `${local}:8080`], async (o) => {
      if (!o.includes('Forwarding')) return false;
      forwarded = await httpGet('127.0.0.1', local).catch(() => '');
      return forwarded !== '';
    });
    assert.equal(forwarded.trim(), 'webhost');
    const stats = JSON.parse(await ok(['stats', '-o', 'json', ctrId])) as { stats: { attributes: { id: string }; memory: { workingSetBytes: { value: string } } }[] };
    assert.equal(stats.stats[0]?.attributes.id, ctrId);
    assert.ok(Number(stats.stats[0]!.memory.workingSetBytes.value) > 0);
    // The same engine: berth ps shows the pod's containers.
    const ps = await d.berth(['ps', '--format', '{{.Names}}']);
    assert.match(ps.stdout, /k8s_app_web_default_uid-1_0/);
    assert.match(ps.stdout, /k8s_POD_web_default_uid-1_0/);
    await ok(['stopp', podId]);
    const stopped = JSON.parse(await ok(['inspect', ctrId])) as { status: { state: string } };
    assert.equal(stopped.status.state, 'CONTAINER_EXITED');
    assert.equal(JSON.parse(await ok(['inspectp', podId])).status.state, 'SANDBOX_NOTREADY');
    await ok(['rmp', podId]);
    assert.equal(await ok(['pods', '-q']), '');
    assert.equal(await ok(['ps', '-aq']), '');
    assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '');
  });

  it('passes a short critest selection: streaming, pod lifecycle, DNS, hostPort, image pull', async () => {
    // setup-and-run.sh builds the stand-in images (cached in $CRI_WORK) and serves them on
    // 127.0.0.1:5001, which this daemon's registry-mirrors point at; it stops its registry.
    // No spaces: the script splits CRITEST_ARGS on them ('.' matches one in the regex).
    const focus = 'Streaming|runtime.should.support.(running|stopping|removing).PodSandbox|DNS.config|port.mapping.with.host.port|public.image.with.tag.should.be.pulled';
    const r = await runCommand(join(tools, 'setup-and-run.sh'), [], { CRI_ENDPOINT: `unix://${criSock}`, CRITEST_ARGS: `-ginkgo.focus=${focus}` }, { timeoutMs: 600_000 });
    const summary = /Ran (\d+) of \d+ Specs[\s\S]*?(SUCCESS|FAIL)! -- (\d+) Passed \| (\d+) Failed/.exec(r.stdout);
    assert.ok(summary, `no critest summary: ${r.stdout.slice(-2000)} ${r.stderr.slice(-1000)}`);
    assert.equal(summary[4], '0', r.stdout.slice(r.stdout.indexOf('--- failures')));
    assert.ok(Number(summary[1]) >= 9, `ran only ${summary[1]} specs`);
    assert.equal(summary[3], summary[1]);
  });

  it('undoes a pod whose CNI ADD fails while its pause container starts: no pod, container, netns or IP left', async () => {
    // RunPodSandbox runs CNI ADD and the pause container's start at once (pod start latency,
    // bench/cri-bench.sh); portmap refuses container port 0 after bridge has set the pod up.
    const pod = join(d.dir, 'bad-pod.json');
    await writeFile(pod, JSON.stringify({ metadata: { name: 'bad', namespace: 'default', uid: 'uid-bad', attempt: 0 }, port_mappings: [{ container_port: 0, host_port: await freePort() }], linux: {} }));
    const netnsDir = join(d.execRoot, 'cri', 'netns');
    const netns = async () => (existsSync(netnsDir) ? (await readdir(netnsDir)).sort() : []);
    // host-local keeps one file per reserved address (besides its lock and last_reserved_ip).
    const reserved = async () => (await readdir(join(d.dir, 'cni', 'berth-test-cri')).catch(() => [] as string[])).filter((f) => /^[0-9.]+$/.test(f)).sort();
    const pods = async () => (await ok(['pods', '-q'])).split('\n').filter(Boolean).sort();
    const before = { pods: await pods(), netns: await netns(), reserved: await reserved() };
    const r = await crictl(['runp', pod]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /portmap.*Invalid container port number: 0/);
    assert.deepEqual({ pods: await pods(), netns: await netns(), reserved: await reserved() }, before);
    const ps = JSON.parse((await d.api('GET', '/containers/json?all=1')).body.toString()) as { Names: string[] }[];
    assert.deepEqual(ps.filter((c) => c.Names.some((n) => n.includes('_bad_'))), []);
  });

  it('pulls from berth\'s own registry, inspects and removes the image', async () => {
    reg = await startRegistry(d.dir);
    const ref = `127.0.0.1:${reg.port}/cri/busybox:v1`;
    assert.equal((await d.berth(['tag', 'busybox:latest', ref])).code, 0);
    const push = await d.berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal((await d.berth(['rmi', ref])).code, 0);
    assert.match(await ok(['pull', ref]), /Image is up to date for sha256:[0-9a-f]{64}/);
    const img = JSON.parse(await ok(['inspecti', ref])) as { status: { repoTags: string[]; id: string } };
    assert.ok(img.status.repoTags.includes(ref), JSON.stringify(img.status.repoTags));
    // Shared with the Docker side.
    assert.equal((await d.berth(['image', 'inspect', ref])).code, 0);
    await ok(['rmi', ref]);
    assert.notEqual((await d.berth(['image', 'inspect', ref])).code, 0);
    const none = await crictl(['inspecti', ref]);
    assert.notEqual(none.code, 0);
  });
});
