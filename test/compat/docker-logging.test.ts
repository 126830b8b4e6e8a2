/**
 * Log drivers through the real docker CLI (issue 25): none, local and json-file options,
 * syslog over UDP/TCP/unix datagram to servers this test runs on loopback, journald's native
 * socket (and the error where journald does not run), fluentd's forward protocol, --log-opt
 * validation, dual logging (`logs` reads the local cache) and daemon.json's defaults.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { createDaemon, eventually, runCommand, type TestDaemon } from '../helpers/daemon.js';
import { decodeStream } from '../../src/engine/logging/msgpack.js';

type Dgram = import('node-unix-socket').DgramSocket;
const { DgramSocket } = createRequire(import.meta.url)('node-unix-socket') as typeof import('node-unix-socket');

describe('docker log drivers against berthd', () => {
  let d: TestDaemon;
  let journalPath: string;
  const closers: Array<() => void> = [];
  const ok = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    d = await createDaemon('compat-logging');
    journalPath = join(d.dir, 'journal.sock');
    // The daemon's journald socket (test hook): absent at first, bound by the journald test.
    process.env['BERTH_JOURNALD_SOCKET'] = journalPath;
    try {
      await d.start();
    } finally {
      delete process.env['BERTH_JOURNALD_SOCKET'];
    }
    await d.importBusybox();
  });
  after(async () => {
    for (const c of closers) c();
    await d?.destroy();
  });

  test('none: output still attaches, logs says the driver cannot be read', async () => {
    assert.equal((await ok(['run', '--rm', '--log-driver', 'none', 'busybox', 'echo', 'attached'])).trim(), 'attached');
    const id = (await ok(['run', '-d', '--log-driver', 'none', 'busybox', 'echo', 'hi'])).trim();
    await ok(['wait', id]);
    const r = await d.docker(['logs', id]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /configured logging driver does not support reading/);
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.LogConfig.Type}}', id])).trim(), 'none');
    // The docker CLI refuses options with `none` itself; the API answers 400 as well.
    const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'none', Config: { 'max-size': '1m' } } } });
    assert.equal(bad.status, 400);
    assert.match(bad.json().message, /unknown log opt 'max-size' for none log driver/);
  });

  test('local and json-file keep their options; unknown options and drivers are refused', async () => {
    const id = (await ok(['run', '-d', '--log-driver', 'local', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'])).trim();
    await ok(['wait', id]);
    const lines = (await ok(['logs', id])).trim().split('\n');
    assert.equal(lines.at(-1), 'line-199-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');
    assert.ok(lines.length < 200, `rotation kept ${lines.length} lines`);
    assert.deepEqual(JSON.parse(await ok(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id])), { Type: 'local', Config: { 'max-size': '2k', 'max-file': '2' } });
    const cases: Array<[string[], RegExp]> = [
      [['--log-driver', 'local', '--log-opt', 'tag=x'], /unknown log opt 'tag' for log driver local/],
      [['--log-driver', 'json-file', '--log-opt', 'syslog-address=udp://127.0.0.1:1'], /unknown log opt 'syslog-address' for json-file log driver/],
      [['--log-driver', 'syslog', '--log-opt', 'max-size=1m'], /unknown log opt 'max-size' for syslog log driver/],
      [['--log-driver', 'fluentd', '--log-opt', 'fluentd-bogus=1'], /unknown log opt 'fluentd-bogus' for fluentd log driver/],
      [['--log-driver', 'nosuchdriver'], /logger: no log driver named 'nosuchdriver' is registered/],
      [['--log-driver', 'syslog', '--log-opt', 'syslog-format=rfc1'], /Invalid syslog format: rfc1/],
      [['--log-driver', 'syslog', '--log-opt', 'tag={{.Bogus}}'], /unknown field \.Bogus/],
    ];
    for (const [flags, re] of cases) {
      const r = await d.docker(['create', ...flags, 'busybox']);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, re);
    }
    const api = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'json-file', Config: { nope: '1' } } } });
    assert.equal(api.status, 400);
  });

  test('syslog over UDP (RFC 5424, tag template) and dual logging', async () => {
    const got: string[] = [];
    const udp = createSocket('udp4');
    udp.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    closers.push(() => udp.close());
    const port = udp.address().port;
    const id = (await ok(['run', '-d', '--name', 'sysudp', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${port}`, '--log-opt', 'syslog-format=rfc5424', '--log-opt', 'syslog-facility=local0', '--log-opt', 'tag={{.Name}}/{{.ID}}', 'busybox', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2'])).trim();
    await eventually(async () => got.length >= 2, 10_000, 'two syslog messages');
    const tag = `sysudp/${id.slice(0, 12)}`;
    const out = got.find((m) => m.endsWith('to-stdout'))!;
    const err = got.find((m) => m.endsWith('to-stderr'))!;
    assert.match(out, new RegExp(`^<134>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d) \\S+ ${tag} \\d+ ${tag} - to-stdout$`));
    assert.match(err, /^<131>1 /);
    await ok(['wait', id]);
    // Dual logging: the local cache answers `logs`.
    assert.equal((await ok(['logs', id])).trim(), 'to-stdout');
  });

  test('syslog over TCP: RFC 3164 newline-framed, RFC 5424 octet-counted; an unreachable server fails the start', async () => {
    let data = '';
    const server: Server = createServer((s) => s.on('data', (c) => (data += c.toString())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    await ok(['run', '--rm', '--name', 'systcp', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`, '--log-opt', 'syslog-format=rfc3164', '--log-opt', 'tag={{.Name}}', 'busybox', 'echo', 'tcp-3164']);
    await eventually(async () => data.includes('tcp-3164\n'), 10_000, 'the rfc3164 line');
    assert.match(data, /<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ systcp\[\d+\]: tcp-3164\n/);
    data = '';
    await ok(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`, '--log-opt', 'syslog-format=rfc5424micro', 'busybox', 'echo', 'tcp-5424']);
    await eventually(async () => data.includes('tcp-5424'), 10_000, 'the rfc5424 message');
    const m = /^(\d+) (<30>1 .*tcp-5424)$/.exec(data);
    assert.ok(m, data);
    assert.equal(Number(m[1]), Buffer.byteLength(m[2]!));
    assert.match(m[2]!, /T\d\d:\d\d:\d\d\.\d{6}/);
    // Nothing listens on this port once the server is closed.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await d.docker(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${deadPort}`, 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed to initialize logging driver: dial tcp 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  test('syslog over TLS (tcp+tls://, syslog-tls-ca-cert) to a loopback server', async () => {
    const dir = d.dir;
    const gen = await runCommand('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], {});
    assert.equal(gen.code, 0, gen.stderr);
    let data = '';
    const server = createTlsServer({ key: await readFile(join(dir, 'tls.key')), cert: await readFile(join(dir, 'tls.crt')) }, (s) => s.on('data', (c) => (data += c.toString())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    await ok(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp+tls://127.0.0.1:${port}`, '--log-opt', `syslog-tls-ca-cert=${join(dir, 'tls.crt')}`, '--log-opt', 'syslog-format=rfc5424', 'busybox', 'echo', 'over-tls']);
    await eventually(async () => data.includes('over-tls'), 10_000, 'the TLS message');
    assert.match(data, /^\d+ <30>1 .* - over-tls$/);
  });

  test('syslog to a unix datagram socket (the usual /dev/log kind), default format', async () => {
    const path = join(d.dir, 'syslog.sock');
    const got: string[] = [];
    const s: Dgram = new DgramSocket();
    s.on('data', (buf: Buffer) => got.push(buf.toString()));
    s.bind(path);
    closers.push(() => s.close());
    await ok(['run', '--rm', '--log-driver', 'syslog', '--log-opt', `syslog-address=unix://${path}`, '--log-opt', 'tag=unixtag', 'busybox', 'echo', 'via-unixgram']);
    await eventually(async () => got.length >= 1, 10_000, 'a datagram');
    assert.match(got[0]!, /^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d unixtag\[\d+\]: via-unixgram$/);
  });

  test('journald: refused where it does not run; native entries where its socket is', async () => {
    const r = await d.docker(['run', '--rm', '--log-driver', 'journald', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /journald is not enabled on this host/);
    const got: Buffer[] = [];
    const s: Dgram = new DgramSocket();
    s.on('data', (buf: Buffer) => got.push(Buffer.from(buf)));
    s.bind(journalPath);
    closers.push(() => s.close());
    const id = (await ok(['run', '-d', '--name', 'jd', '--log-driver', 'journald', '--label', 'team=blue', '--log-opt', 'labels=team', 'busybox', 'echo', 'to-journal'])).trim();
    await eventually(async () => got.length >= 1, 10_000, 'a journal entry');
    const fields = Object.fromEntries(got[0]!.toString().trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(fields['MESSAGE'], 'to-journal');
    assert.equal(fields['PRIORITY'], '6');
    assert.equal(fields['CONTAINER_ID_FULL'], id);
    assert.equal(fields['CONTAINER_NAME'], 'jd');
    assert.equal(fields['TEAM'], 'blue');
    await ok(['wait', id]);
    assert.equal((await ok(['logs', id])).trim(), 'to-journal');
  });

  test('fluentd: forward protocol records to a loopback server, with ack', async () => {
    const records: unknown[] = [];
    const server = createServer((sock) => {
      void (async () => {
        try {
          for await (const v of decodeStream(sock)) {
            records.push(v);
            const opt = (v as unknown[])[3] as { chunk?: string } | undefined;
            if (opt?.chunk) sock.write(ackFrame(opt.chunk));
          }
        } catch {
          /* client went away */
        }
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const id = (await ok(['run', '-d', '--name', 'fl', '--log-driver', 'fluentd', '--log-opt', `fluentd-address=127.0.0.1:${port}`, '--log-opt', 'tag=app.{{.Name}}', '--log-opt', 'fluentd-request-ack=true', '--log-opt', 'fluentd-sub-second-precision=true', '-e', 'STAGE=test', '--log-opt', 'env=STAGE', 'busybox', 'sh', '-c', 'echo one; echo two >&2'])).trim();
    await eventually(async () => records.length >= 2, 10_000, 'two fluentd records');
    const [tag, , rec, opt] = records[0] as [string, unknown, Record<string, string>, { chunk: string }];
    assert.equal(tag, 'app.fl');
    assert.equal(rec['container_id'], id);
    assert.equal(rec['container_name'], '/fl');
    assert.equal(rec['STAGE'], 'test');
    assert.ok(opt.chunk);
    const logs = (records as Array<[string, unknown, Record<string, string>]>).map((r) => `${r[2]['source']}:${r[2]['log']}`).sort();
    assert.deepEqual(logs, ['stderr:two', 'stdout:one']);
    await ok(['wait', id]);
    const down = await d.docker(['run', '--rm', '--log-driver', 'fluentd', '--log-opt', 'fluentd-address=127.0.0.1:1', 'busybox', 'true']);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /failed to initialize logging driver/);
    // fluentd-async: the container starts without the server; its lines stay in the local cache.
    const started = Date.now();
    assert.equal((await ok(['run', '--rm', '--log-driver', 'fluentd', '--log-opt', 'fluentd-address=127.0.0.1:1', '--log-opt', 'fluentd-async=true', '--log-opt', 'fluentd-retry-wait=100ms', 'busybox', 'echo', 'async'])).trim(), 'async');
    assert.ok(Date.now() - started < 10_000);
  });

  test('after a daemon restart, a running container\'s new lines are shipped again', async () => {
    const got: string[] = [];
    const udp = createSocket('udp4');
    udp.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    closers.push(() => udp.close());
    const id = (await ok(['run', '-d', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${udp.address().port}`, 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 600 ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done'])).trim();
    await eventually(async () => got.length > 0, 10_000, 'first ticks');
    await d.stop();
    await d.start();
    const seen = got.length;
    await eventually(async () => got.length > seen + 3, 10_000, 'ticks after the restart');
    await ok(['rm', '-f', id]);
  });

  test('daemon.json log-driver and log-opts are the default, validated at start', async () => {
    const got: string[] = [];
    const udp = createSocket('udp4');
    udp.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    closers.push(() => udp.close());
    await d.stop();
    await writeFile(join(d.dir, 'daemon.json'), JSON.stringify({ 'log-driver': 'syslog', 'log-opts': { 'syslog-address': `udp://127.0.0.1:${udp.address().port}`, tag: 'dflt' } }));
    try {
      await d.start();
      assert.equal((await ok(['info', '--format', '{{.LoggingDriver}}'])).trim(), 'syslog');
      const id = (await ok(['run', '-d', 'busybox', 'echo', 'from-default'])).trim();
      await eventually(async () => got.some((m) => m.includes('dflt[') && m.endsWith('from-default')), 10_000, 'the default driver');
      assert.equal((await ok(['inspect', '-f', '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "tag"}}', id])).trim(), 'syslog dflt');
      // A container naming another driver does not get the daemon's syslog options.
      assert.equal((await ok(['inspect', '-f', '{{json .HostConfig.LogConfig.Config}}', (await ok(['create', '--log-driver', 'local', 'busybox'])).trim()])).trim(), '{}');
      await d.stop();
      await writeFile(join(d.dir, 'daemon.json'), JSON.stringify({ 'log-driver': 'syslog', 'log-opts': { 'max-size': '1m' } }));
      await assert.rejects(d.start(), /unknown log opt 'max-size' for syslog log driver/);
    } finally {
      await d.stop();
      await writeFile(join(d.dir, 'daemon.json'), '{}\n');
      await d.start();
    }
  });
});

/** `{"ack": chunk}` in msgpack (fixmap 1, fixstr "ack", str8 chunk). */
function ackFrame(chunk: string): Buffer {
  const c = Buffer.from(chunk);
  return Buffer.concat([Buffer.from([0x81, 0xa3]), Buffer.from('ack'), Buffer.from([0xd9, c.length]), c]);
}
