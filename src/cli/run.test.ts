import { EventEmitter } from 'node:events';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { encodeFrame } from '../client/stdcopy.js';
import { FakeDaemon, sendJson, upgradeResponse } from '../client/fake-daemon.js';
import { main } from './main.js';
import { Capture, input } from './test-streams.js';

const ID = 'f'.repeat(64);

async function berth(daemon: FakeDaemon, argv: string[], options: { stdin?: string } = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, stdin: input(options.stdin), env: { BERTH_HOST: daemon.host }, signals: new EventEmitter() });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Scripts a container that prints to stdout and stderr and exits with `status` once started. */
function scriptContainer(daemon: FakeDaemon, status: number, options: { stdinEcho?: boolean } = {}): void {
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  daemon
    .on('POST', '/containers/create', (_req, res) => sendJson(res, 201, { Id: ID, Warnings: [] }))
    .onUpgrade('POST', '/containers/{id}/attach', async (_req, socket: Duplex) => {
      socket.write(upgradeResponse());
      let stdin = '';
      if (options.stdinEcho) {
        socket.on('data', (c: Buffer) => (stdin += c.toString()));
        await new Promise((r) => socket.once('end', r));
      }
      await startedP;
      // Split a frame across writes to exercise reassembly.
      const out = encodeFrame(1, `hello${stdin ? ` ${stdin}` : ''}\n`);
      socket.write(out.subarray(0, 5));
      socket.write(Buffer.concat([out.subarray(5), encodeFrame(2, 'oops\n')]));
      socket.end();
    })
    .on('POST', '/containers/{id}/wait', async (_req, res) => {
      await startedP;
      sendJson(res, 200, { StatusCode: status, Error: null });
    })
    .on('POST', '/containers/{id}/start', (_req, res) => {
      res.writeHead(204).end();
      started();
    });
}

describe('berth run', () => {
  let daemon: FakeDaemon;
  beforeEach(async () => {
    daemon = new FakeDaemon();
    await daemon.listen();
  });
  const closeDaemon = async () => daemon?.close();
  after(closeDaemon);

  it('creates, attaches, waits, starts and exits with the container status', async () => {
    scriptContainer(daemon, 3);
    const r = await berth(daemon, ['run', '--name', 'web', '-e', 'A=1', '-l', 'x=y', 'busybox', 'echo', 'hello', '-n']);
    await daemon.close();
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.code, 3);
    assert.deepEqual(daemon.calls(), [
      'POST /containers/create?name=web',
      `POST /containers/${ID}/attach?stream=1&stdout=1&stderr=1`,
      `POST /containers/${ID}/wait?condition=next-exit`,
      `POST /containers/${ID}/start`,
    ]);
    const attach = daemon.requests[1]!;
    assert.equal(attach.headers.upgrade, 'tcp');
    assert.equal(attach.headers.connection, 'Upgrade');
    const body = JSON.parse(daemon.requests[0]!.body.toString());
    assert.equal(body.Image, 'busybox');
    assert.deepEqual(body.Cmd, ['echo', 'hello', '-n']);
    assert.deepEqual(body.Env, ['A=1']);
    assert.deepEqual(body.Labels, { x: 'y' });
    assert.equal(body.AttachStdout, true);
    assert.equal(body.AttachStdin, false);
    assert.equal(body.HostConfig.AutoRemove, false);
  });

  it('waits for removal with --rm and sends stdin with -i', async () => {
    scriptContainer(daemon, 0, { stdinEcho: true });
    const r = await berth(daemon, ['run', '--rm', '-i', 'busybox', 'cat'], { stdin: 'from-stdin' });
    await daemon.close();
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'hello from-stdin\n');
    assert.ok(daemon.calls().includes(`POST /containers/${ID}/wait?condition=removed`));
    assert.ok(daemon.calls().includes(`POST /containers/${ID}/attach?stream=1&stdin=1&stdout=1&stderr=1`));
    const body = JSON.parse(daemon.requests[0]!.body.toString());
    assert.equal(body.HostConfig.AutoRemove, true);
    assert.equal(body.OpenStdin, true);
    assert.equal(body.StdinOnce, true);
  });

  it('-d prints the full ID after create and start', async () => {
    scriptContainer(daemon, 0);
    const r = await berth(daemon, ['run', '-d', '--restart', 'on-failure:3', '--init', '--cap-add', 'NET_ADMIN', '--privileged', 'busybox']);
    await daemon.close();
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${ID}\n`);
    assert.deepEqual(daemon.calls(), ['POST /containers/create', `POST /containers/${ID}/start`]);
    const body = JSON.parse(daemon.requests[0]!.body.toString());
    assert.equal(body.Cmd, null);
    assert.equal(body.AttachStdout, false);
    assert.deepEqual(body.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.equal(body.HostConfig.Init, true);
    assert.deepEqual(body.HostConfig.CapAdd, ['NET_ADMIN']);
    assert.equal(body.HostConfig.Privileged, true);
  });

  it('pulls on a 404 and reports the daemon error with exit 125', async () => {
    daemon
      .on('POST', '/containers/create', (_req, res) => sendJson(res, 404, { message: 'No such image: busybox:latest' }))
      .on('POST', '/images/create', (_req, res) =>
        sendJson(res, 404, { message: "pull access denied for busybox, repository does not exist or may require 'docker login'" }),
      );
    const r = await berth(daemon, ['run', 'busybox']);
    await daemon.close();
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      "Unable to find image 'busybox:latest' locally\n" +
        "berth: Error response from daemon: pull access denied for busybox, repository does not exist or may require 'docker login'.\n" +
        "See 'berth run --help'.\n",
    );
    assert.deepEqual(daemon.calls(), ['POST /containers/create', 'POST /images/create?fromImage=busybox&tag=latest']);
  });

  it('retries create after a successful pull and shows an error from the progress stream', async () => {
    let creates = 0;
    daemon
      .on('POST', '/containers/create', (_req, res) =>
        ++creates === 1 ? sendJson(res, 404, { message: 'No such image: app:1' }) : sendJson(res, 201, { Id: ID }),
      )
      .on('POST', '/images/create', (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"status":"Pulling from library/app","id":"1"}\n{"status":"Status: Downloaded newer image for app:1"}\n');
      })
      .on('POST', '/containers/{id}/start', (_req, res) => void res.writeHead(204).end());
    const ok = await berth(daemon, ['run', '-d', 'app:1']);
    assert.equal(ok.code, 0);
    assert.equal(ok.stderr, "Unable to find image 'app:1' locally\n1: Pulling from library/app\nStatus: Downloaded newer image for app:1\n");
    assert.equal(creates, 2);

    daemon.on('POST', '/images/create', (_req, res) => {
      res.writeHead(200).end('{"errorDetail":{"message":"registry unreachable"},"error":"registry unreachable"}\n');
    });
    creates = 0;
    const bad = await berth(daemon, ['run', '-q', 'app:1']);
    await daemon.close();
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /berth: Error response from daemon: registry unreachable\.\nSee 'berth run --help'\.\n$/);
  });

  it('maps start errors to 127 (not found) and 126 (cannot invoke)', async () => {
    for (const [message, code] of [
      ['failed to create task: exec: "nope": executable file not found in $PATH: unknown', 127],
      ['exec: "/etc": permission denied', 126],
      ['cgroup trouble', 125],
    ] as const) {
      daemon
        .on('POST', '/containers/create', (_req, res) => sendJson(res, 201, { Id: ID }))
        .onUpgrade('POST', '/containers/{id}/attach', (_req, socket) => void socket.write(upgradeResponse()))
        .on('POST', '/containers/{id}/wait', () => {})
        .on('POST', '/containers/{id}/start', (_req, res) => sendJson(res, 400, { message }));
      const r = await berth(daemon, ['run', 'busybox', 'nope']);
      assert.equal(r.code, code, message);
      assert.equal(r.stderr, `berth: Error response from daemon: ${message}.\n`);
    }
    await daemon.close();
  });

  it('reports an unreachable daemon', async () => {
    await daemon.close();
    const r = await berth(daemon, ['run', 'busybox']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^berth: Cannot connect to the berth daemon at unix:\/\/.*\. Is the berth daemon running\?\.?\nSee 'berth run --help'\.\n$/);
  });
});

describe('flag errors', () => {
  let daemon: FakeDaemon;
  before(async () => {
    daemon = new FakeDaemon();
    await daemon.listen();
  });
  after(async () => daemon.close());

  it('unknown flags and commands exit 125 in docker wording', async () => {
    let r = await berth(daemon, ['run', '--foo', 'busybox']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "unknown flag: --foo\nSee 'berth run --help'.\n");
    r = await berth(daemon, ['ps', '-Z']);
    assert.equal(r.stderr, "unknown shorthand flag: 'Z' in -Z\nSee 'berth ps --help'.\n");
    r = await berth(daemon, ['run', '-e']);
    assert.equal(r.stderr, "flag needs an argument: 'e' in -e\nSee 'berth run --help'.\n");
    r = await berth(daemon, ['stop', '-t', 'abc', 'x']);
    assert.equal(r.stderr, 'invalid argument "abc" for "-t, --timeout" flag: strconv.ParseInt: parsing "abc": invalid syntax\nSee \'berth stop --help\'.\n');
    r = await berth(daemon, ['frobnicate']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "berth: 'frobnicate' is not a berth command.\nSee 'berth --help'\n");
    assert.deepEqual(daemon.requests, []);
  });

  it('options after the image belong to the container command', async () => {
    daemon.on('POST', '/containers/create', (_req, res) => sendJson(res, 201, { Id: ID })).on('POST', '/containers/{id}/start', (_req, res) => void res.writeHead(204).end());
    const r = await berth(daemon, ['run', '-d', 'busybox', 'ls', '--foo', '-d']);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(daemon.requests.at(-2)!.body.toString()).Cmd, ['ls', '--foo', '-d']);
  });

  it('prints help with docker layout and exits 0', async () => {
    const r = await berth(daemon, ['stop', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\nUsage:  berth stop \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]\n\nStop one or more running containers\n/);
    assert.match(r.stdout, /\n  -t, --timeout int     Seconds to wait before killing the container\n/);
  });

  it('checks argument counts', async () => {
    const r = await berth(daemon, ['tag', 'a']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^"berth tag" requires exactly 2 arguments\.\nSee 'berth tag --help'\./);
  });
});
