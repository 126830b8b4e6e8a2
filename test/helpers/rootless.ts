/**
 * A rootless berthd for tests and benches (issue 21): an unprivileged system user made for the
 * occasion (its subordinate ids added by `berth rootless setup`), a temp directory with its home
 * and $XDG_RUNTIME_DIR, and berthd started as that user with the rootless defaults. `destroy`
 * removes the containers, stops the daemon, ends anything left running as the user by PID,
 * deletes the directory and the user (and its /etc/subuid and /etc/subgid ranges).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_BIN, BERTHD_BIN, TEST_PREFIX, busyboxTar, requireRoot, runCommand, unmountUnder, type RunResult } from './daemon.js';

// A Debian user's PATH, without the sbin directories (berthd must add them for nft, ip).
const PATH_ENV = '/usr/local/bin:/usr/bin:/bin';
let counter = 0;

export class RootlessDaemon {
  proc?: ChildProcess;
  uid = 0;
  gid = 0;
  /** First id of the user's /etc/subuid range. */
  subStart = 0;
  #userMade = false;

  constructor(
    readonly user: string,
    readonly dir: string,
  ) {}

  get home(): string {
    return join(this.dir, 'home');
  }
  get runDir(): string {
    return join(this.dir, 'run');
  }
  get socket(): string {
    return join(this.runDir, 'berth', 'berth.sock');
  }
  get dataRoot(): string {
    return join(this.home, '.local', 'share', 'berth');
  }
  get logFile(): string {
    return join(this.dir, 'berthd.log');
  }
  env(): Record<string, string> {
    return { HOME: this.home, XDG_RUNTIME_DIR: this.runDir, PATH: PATH_ENV, DOCKER_CONFIG: join(this.home, '.docker'), DOCKER_CLI_HINTS: 'false' };
  }

  /** The argv that runs `cmd` as the user with only the environment a login would give. */
  argv(cmd: string, args: string[], extraEnv: Record<string, string> = {}): string[] {
    const e = Object.entries({ ...this.env(), ...extraEnv }).map(([k, v]) => `${k}=${v}`);
    return ['--reuid', String(this.uid), '--regid', String(this.gid), '--init-groups', '--', 'env', '-i', ...e, cmd, ...args];
  }

  asUser(cmd: string, args: string[], options: { timeoutMs?: number; extraEnv?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
    return runCommand('setpriv', this.argv(cmd, args, options.extraEnv), {}, { timeoutMs: options.timeoutMs ?? 60_000, ...(options.input !== undefined ? { input: options.input } : {}) });
  }

  /** The berth CLI as the user, finding the socket by itself. */
  berth(args: string[], timeoutMs?: number): Promise<RunResult> {
    return this.asUser(BERTH_BIN, args, { timeoutMs });
  }

  /** The docker CLI as the user, with DOCKER_HOST naming the rootless socket. */
  docker(args: string[]): Promise<RunResult> {
    return this.asUser('docker', args, { extraEnv: { DOCKER_HOST: `unix://${this.socket}` } });
  }

  api(method: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socket, method, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Makes the user and its directories (subordinate ids through `berth rootless setup`); returns setup's output. */
  async prepare(): Promise<string> {
    await chmod(this.dir, 0o755);
    // A system user gets no subordinate ids from useradd: `berth rootless setup` must add them.
    const made = await runCommand('useradd', ['--system', '--no-create-home', '--home-dir', this.home, '--shell', '/usr/sbin/nologin', this.user], {});
    assert.equal(made.code, 0, made.stderr);
    this.#userMade = true;
    this.uid = Number((await runCommand('id', ['-u', this.user], {})).stdout.trim());
    this.gid = Number((await runCommand('id', ['-g', this.user], {})).stdout.trim());
    const setup = await runCommand(BERTH_BIN, ['rootless', 'setup', '--user', this.user], {}, { timeoutMs: 300_000 });
    assert.equal(setup.code, 0, `berth rootless setup failed:\n${setup.stdout}${setup.stderr}`);
    const line = (await readFile('/etc/subuid', 'utf8')).split('\n').find((l) => l.startsWith(`${this.user}:`));
    assert.ok(line, 'the user has a /etc/subuid range');
    this.subStart = Number(line.split(':')[1]);
    for (const d of [this.home, this.runDir]) {
      await mkdir(d, { mode: 0o700 });
      await chown(d, this.uid, this.gid);
    }
    return setup.stdout;
  }

  /** Starts berthd as the user with no path flags (the rootless defaults), and waits for /_ping. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    this.proc = spawn('setpriv', this.argv(BERTHD_BIN, [], extraEnv), { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await this.api('GET', '/_ping').then((r) => r.status === 200, () => false);
      if (up) return;
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`rootless berthd did not come up: ${await readFile(this.logFile, 'utf8').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Imports the busybox test image as busybox:latest. */
  async importBusybox(): Promise<void> {
    const tar = join(this.home, 'busybox.tar');
    await copyFile(await busyboxTar(), tar);
    await chown(tar, this.uid, this.gid);
    const r = await this.berth(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    assert.equal(r.code, 0, r.stderr);
  }

  /** SIGTERM to the daemon (by its PID) and wait. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }

  async destroy(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
        const list = await this.api('GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of list?.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : []) await this.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
      }
      await this.stop();
    } finally {
      // Anything still running as the test user (a conmon that outlived a failed test,
      // rootlesskit's slirp4netns) is ended by its PID; nothing else runs as this user.
      if (this.uid) {
        for (let round = 0; round < 3; round++) {
          const pids: number[] = [];
          for (const p of await readdir('/proc')) {
            if (!/^\d+$/.test(p)) continue;
            const st = await stat(`/proc/${p}`).catch(() => undefined);
            if (st?.uid === this.uid) pids.push(Number(p));
          }
          if (!pids.length) break;
          for (const p of pids) {
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      await unmountUnder(this.dir);
      await rm(this.dir, { recursive: true, force: true });
      if (this.#userMade) {
        await runCommand('userdel', [this.user], {});
        // userdel drops the subordinate ranges too; made sure (a range must not outlive its user).
        for (const f of ['/etc/subuid', '/etc/subgid']) {
          const text = await readFile(f, 'utf8').catch(() => '');
          if (text.split('\n').some((l) => l.startsWith(`${this.user}:`))) await writeFile(f, text.split('\n').filter((l) => !l.startsWith(`${this.user}:`)).join('\n'));
        }
      }
    }
  }
}

/** Makes the user and directories of a rootless daemon (not started). */
export async function createRootlessDaemon(name: string): Promise<{ daemon: RootlessDaemon; setupOutput: string }> {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}${name}-`));
  const user = `brl${process.pid.toString(36)}${(counter++).toString(36)}`.slice(0, 20);
  const daemon = new RootlessDaemon(user, dir);
  try {
    const setupOutput = await daemon.prepare();
    return { daemon, setupOutput };
  } catch (err) {
    await daemon.destroy().catch(() => undefined);
    throw err;
  }
}
