import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDaemon, sendJson } from '../client/fake-daemon.js';
import { main } from './main.js';
import { Capture, input } from './test-streams.js';
import { gpuRequest, parseDevice, sysctlEntry, throttleBpsDevice, weightDevice } from './resource-flags.js';

/** Issue 15 item 11: docker's help layout, the commands berth lacked and the flags' API fields. */
describe('docker parity of the berth CLI', () => {
  const daemon = new FakeDaemon();
  const dir = mkdtempSync(join(tmpdir(), 'berth-parity-'));
  const run = async (argv: string[], stdin = '', env: NodeJS.ProcessEnv = {}) => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(argv, { stdout, stderr, stdin: input(stdin), env: { BERTH_HOST: daemon.host, ...env }, signals: new EventEmitter(), now: () => 1_700_000_000_000 });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };
  const bodyOf = (method: string, suffix: string): Record<string, any> => {
    const r = [...daemon.requests].reverse().find((q) => q.method === method && q.path.endsWith(suffix));
    assert.ok(r, `no ${method} …${suffix}: ${daemon.calls().join(', ')}`);
    return JSON.parse(r.body.toString() || '{}') as Record<string, any>;
  };
  before(async () => {
    daemon
      .on('POST', '/containers/create', (_q, res) => sendJson(res, 201, { Id: 'c'.repeat(64), Warnings: [] }))
      .on('GET', '/images/{name}/history', (_q, res) =>
        sendJson(res, 200, [
          { Id: `sha256:${'a'.repeat(64)}`, Created: 1_700_000_000 - 3600, CreatedBy: '/bin/sh -c echo a very long command line that docker truncates at forty-five', Tags: ['img:1'], Size: 1234567, Comment: 'hi' },
          { Id: '<missing>', Created: 1_700_000_000 - 86400 * 3, CreatedBy: 'ADD file:abc in /', Tags: null, Size: 0, Comment: '' },
        ]),
      )
      .on('POST', '/containers/prune', (_q, res) => sendJson(res, 200, { ContainersDeleted: ['c1'], SpaceReclaimed: 1000 }))
      .on('POST', '/networks/prune', (_q, res) => sendJson(res, 200, { NetworksDeleted: ['n1'] }))
      .on('POST', '/volumes/prune', (_q, res) => sendJson(res, 200, { VolumesDeleted: ['v1'], SpaceReclaimed: 2000 }))
      .on('POST', '/images/prune', (_q, res) => sendJson(res, 200, { ImagesDeleted: [{ Untagged: 'a:1' }, { Deleted: 'sha256:1' }], SpaceReclaimed: 3000 }))
      .on('DELETE', '/containers/{id}', (_q, res) => void res.writeHead(204).end())
      .on('GET', '/version', (_q, res) => sendJson(res, 200, { Version: '0.1.0', ApiVersion: '1.45' }))
      .on('POST', '/networks/{id}/connect', (_q, res) => void res.writeHead(200).end());
    await daemon.listen();
  });
  after(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('groups `berth --help` as docker does, without internal names', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    const common = r.stdout.indexOf('Common Commands:');
    const mgmt = r.stdout.indexOf('Management Commands:');
    const cmds = r.stdout.indexOf('\nCommands:');
    assert.ok(common > 0 && mgmt > common && cmds > mgmt, r.stdout);
    assert.doesNotMatch(r.stdout, /container-prune|image-prune|system-df|system-prune/);
    const names = (from: number, to: number) => [...r.stdout.slice(from, to).matchAll(/^ {2}([a-z]+)\s/gm)].map((m) => m[1]!);
    assert.deepEqual(names(common, mgmt).slice(0, 4), ['run', 'exec', 'ps', 'build']);
    const m = names(mgmt, cmds);
    assert.deepEqual(m, [...m].sort());
    assert.ok(m.includes('container') && m.includes('image') && m.includes('system') && m.includes('volume'), m.join(' '));
    const rest = names(cmds, r.stdout.indexOf('Global Options:'));
    assert.deepEqual(rest, [...rest].sort());
    assert.ok(rest.includes('history'), rest.join(' '));
  });

  it('lists run flags sorted, with --help where -h is --hostname', async () => {
    const r = await run(['run', '--help']);
    const flags = [...r.stdout.matchAll(/^ {2}(?:-\w, |    )--([\w-]+)/gm)].map((x) => x[1]!);
    assert.deepEqual(flags, [...flags].sort());
    assert.ok(flags.includes('help') && flags.includes('pid') && flags.includes('gpus'), flags.join(' '));
    assert.doesNotMatch(r.stdout, /--net\s|--net-alias\s|--dns-opt\s/);
  });

  it('accepts docker\'s hidden --net, --net-alias and --dns-opt', async () => {
    const r = await run(['create', '--net', 'n1', '--net-alias', 'a', '--dns-opt', 'ndots:2', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    const b = bodyOf('POST', '/containers/create');
    assert.equal(b['HostConfig'].NetworkMode, 'n1');
    assert.deepEqual(b['HostConfig'].DnsOptions, ['ndots:2']);
    assert.deepEqual(b['NetworkingConfig'].EndpointsConfig.n1.Aliases, ['a']);
  });

  it('reads --label-file before -l', async () => {
    const f = join(dir, 'labels');
    writeFileSync(f, '# comment\na=1\n\nb=2\n');
    const r = await run(['create', '--label-file', f, '-l', 'b=3', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(bodyOf('POST', '/containers/create')['Labels'], { a: '1', b: '3' });
  });

  it('--use-api-socket mounts the daemon socket and copies stored credentials', async () => {
    const cfg = join(dir, 'docker-config');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ auths: { 'reg.example:5000': { auth: Buffer.from('u:p').toString('base64') } } }));
    daemon.on('PUT', '/containers/{id}/archive', (_q, res) => void res.writeHead(200).end());
    const r = await run(['create', '--use-api-socket', 'busybox'], '', { DOCKER_CONFIG: cfg });
    assert.equal(r.code, 0, r.stderr);
    const b = bodyOf('POST', '/containers/create');
    assert.deepEqual(b['HostConfig'].Mounts, [{ Type: 'bind', Source: daemon.socketPath, Target: '/var/run/docker.sock', BindOptions: {} }]);
    assert.deepEqual(b['Env'], ['DOCKER_CONFIG=/run/secrets/docker']);
    const put = [...daemon.requests].reverse().find((q) => q.method === "PUT")!;
    assert.equal(put.query.get('path'), '/');
    assert.match(put.body.toString('latin1'), /run\/secrets\/docker\/config\.json/);
    assert.match(put.body.toString('latin1'), /"reg\.example:5000"/);
    const tcp = await main(['create', '--use-api-socket', 'busybox'], { stdout: new Capture(), stderr: new Capture(), stdin: input(), env: { BERTH_HOST: 'tcp://127.0.0.1:9' }, signals: new EventEmitter() });
    assert.equal(tcp, 1);
  });

  it('history prints docker\'s table, -q, --no-trunc and -H=false', async () => {
    const r = await run(['history', 'img']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(lines[1]!, /^aaaaaaaaaaaa\s+About an hour ago\s+\/bin\/sh -c echo a very long command line tha…\s+1\.23MB\s+hi$/);
    assert.match(lines[2]!, /^<missing>\s+3 days ago\s+ADD file:abc in \/\s+0B\s*$/);
    assert.equal((await run(['image', 'history', '-q', 'img'])).stdout, 'aaaaaaaaaaaa\n<missing>\n');
    const raw = await run(['history', '-H=false', '--no-trunc', '--format', '{{.ID}} {{.Size}}', 'img']);
    assert.equal(raw.stdout.split('\n')[0], `sha256:${'a'.repeat(64)} 1234567`);
  });

  it('system prune asks, then prunes containers, networks, volumes, images and reports the total', async () => {
    const no = await run(['system', 'prune', '--volumes'], 'n\n');
    assert.equal(no.code, 0);
    assert.match(no.stdout, /WARNING! This will remove:\n {2}- all stopped containers\n {2}- all networks not used by at least one container\n {2}- all anonymous volumes not used by at least one container\n {2}- all dangling images\n {2}- unused build cache\n\nAre you sure you want to continue\? \[y\/N\] $/);
    daemon.requests.length = 0;
    const yes = await run(['system', 'prune', '-a', '--volumes', '-f', '--filter', 'until=1h']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(
      yes.stdout,
      'Deleted Containers:\nc1\n\nDeleted Networks:\nn1\n\nDeleted Volumes:\nv1\n\nDeleted Images:\nuntagged: a:1\ndeleted: sha256:1\n\nTotal reclaimed space: 6kB\n',
    );
    const img = daemon.requests.find((q) => q.path === '/images/prune')!;
    assert.deepEqual(JSON.parse(img.query.get('filters')!), { until: { '1h': true }, dangling: { false: true } });
  });

  it('search asks the daemon, and the registry itself when the daemon has no search', async () => {
    const registry: Server = createServer((req, res) => {
      if (req.url?.startsWith('/v1/search?q=foo&n=25')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ results: [{ name: 'library/foo', description: 'a foo', star_count: 3, is_official: true }] }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    try {
      const port = (registry.address() as { port: number }).port;
      const r = await run(['search', `127.0.0.1:${port}/foo`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL\n127\.0\.0\.1:\d+\/library\/foo\s+a foo\s+3\s+\[OK\]\n$/);
      const none = await run(['search', `127.0.0.1:${port}/nothing/here`]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /does not support search \(GET \/v1\/search answered 404\)/);
    } finally {
      await new Promise((r) => registry.close(r));
    }
  });

  it('rm -l removes a link, exec --env-file reads files first', async () => {
    assert.equal((await run(['rm', '-l', '/web/db'])).code, 0);
    assert.ok(daemon.calls().some((c) => c === 'DELETE /containers/%2Fweb%2Fdb?link=1'), daemon.calls().join(', '));
    const f = join(dir, 'env');
    writeFileSync(f, 'A=1\nB=2\n');
    daemon.on('POST', '/containers/{id}/exec', (_q, res) => sendJson(res, 201, { Id: 'e1' })).on('POST', '/exec/{id}/start', (_q, res) => void res.writeHead(200).end());
    await run(['exec', '-d', '--env-file', f, '-e', 'B=3', 'web', 'true']);
    assert.deepEqual(bodyOf('POST', '/exec')['Env'], ['A=1', 'B=2', 'B=3']);
  });

  it('network connect sends the link, link-local address, gateway priority and driver options', async () => {
    const r = await run(['network', 'connect', '--link', 'db:d', '--link-local-ip', '169.254.9.9', '--gw-priority', '5', '--driver-opt', 'k=v', 'n1', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(bodyOf('POST', '/connect')['EndpointConfig'], { Aliases: [], IPAMConfig: { LinkLocalIPs: ['169.254.9.9'] }, Links: ['db:d'], DriverOpts: { k: 'v' }, GwPriority: 5 });
  });

  it('refuses what berth cannot do, saying why', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['image', 'inspect', '--platform', 'linux/arm64', 'busybox'], /"--platform" requires API version 1.49, but the berth daemon API version is 1.45/],
      [['start', '--checkpoint', 'c1', 'web'], /--checkpoint: checkpoint\/restore needs CRIU/],
      [['service', 'ls'], /berth service ls: swarm mode is not supported/],
      [['volume', 'create', '--sharing', 'all', 'v'], /--sharing: cluster volumes need swarm mode/],
      [['run', '--gpus', 'bogus', 'busybox'], /invalid count \(bogus\)/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(argv);
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.stderr, re, argv.join(' '));
    }
  });

  it('takes -l/--log-level as docker does (debug turns on -D), refusing unknown levels', async () => {
    const bad = await run(['-l', 'bogus', 'ps']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Unable to parse logging level: bogus/);
    assert.match((await run(['--help'])).stdout, /-l, --log-level string/);
  });

  it('parses docker\'s value syntaxes', () => {
    assert.deepEqual(weightDevice('/dev/sda:200'), { Path: '/dev/sda', Weight: 200 });
    assert.throws(() => weightDevice('/dev/sda:5'), /invalid weight for device/);
    assert.deepEqual(throttleBpsDevice('/dev/sda:1gb'), { Path: '/dev/sda', Rate: 1024 ** 3 });
    assert.deepEqual(parseDevice('/dev/fuse'), { mapping: { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' } });
    assert.deepEqual(parseDevice('/dev/sda:r'), { mapping: { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'r' } });
    assert.equal(parseDevice('nvidia.com/gpu=all').request?.Driver, 'cdi');
    assert.deepEqual(gpuRequest('"device=0,1",capabilities=compute', undefined), [{ Driver: '', Count: 0, DeviceIDs: ['0', '1'], Capabilities: [['compute', 'gpu']], Options: {} }]);
    assert.deepEqual(gpuRequest('2', undefined)[0]!.Count, 2);
    assert.deepEqual(sysctlEntry('fs.mqueue.msg_max=10', { 'net.a': '1' }), { 'net.a': '1', 'fs.mqueue.msg_max': '10' });
    assert.throws(() => sysctlEntry('vm.swappiness=1', undefined), /is not allowed/);
  });
});
