/**
 * The behaviour every ContainerRuntime must show (containerd's testsuite pattern): run by
 * unit tests on FakeRuntime and by integration tests on conmon+crun and conmon+runc.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isCategory, isNotFound, ContainerNotRunningError, RuntimeError } from '../common/errors.js';
import { readLogs } from './log-reader.js';
import type { ContainerRuntime, CreateOptions, ExitInfo } from './runtime.js';

export interface ContractHarness {
  runtime: ContainerRuntime;
  /** Prepares a bundle (config.json + rootfs) running `args` and returns the create options. */
  bundle(id: string, args: string[]): Promise<CreateOptions>;
  /** A fresh unique container id. */
  newId(): string;
  cleanup(): Promise<void>;
}

/** Waits for exits reported through watchExits. */
class ExitWaiter {
  private readonly seen = new Map<string, ExitInfo>();
  private readonly waiting = new Map<string, (e: ExitInfo) => void>();
  readonly stop: () => void;
  constructor(runtime: ContainerRuntime) {
    this.stop = runtime.watchExits((id, exit) => {
      this.seen.set(id, exit);
      this.waiting.get(id)?.(exit);
    });
  }
  wait(id: string, timeoutMs = 10000): Promise<ExitInfo> {
    const done = this.seen.get(id);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no exit observed for ${id} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (e) => {
        clearTimeout(t);
        resolve(e);
      });
    });
  }
}

async function collectLogs(path: string): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  for await (const r of readLogs(path)) {
    if (r.stream === 'stdout') stdout += r.data.toString();
    else stderr += r.data.toString();
  }
  return { stdout, stderr };
}

export function runtimeContract(name: string, factory: () => Promise<ContractHarness>): void {
  describe(`ContainerRuntime contract: ${name}`, () => {
    let h: ContractHarness;
    let exits: ExitWaiter;
    const created: string[] = [];

    before(async () => {
      h = await factory();
      exits = new ExitWaiter(h.runtime);
    });
    after(async () => {
      exits?.stop();
      for (const id of created) await h.runtime.delete(id, { force: true }).catch(() => {});
      await h?.cleanup();
    });

    async function createStarted(args: string[]) {
      const id = h.newId();
      const o = await h.bundle(id, args);
      created.push(id);
      const res = await h.runtime.create(o);
      await h.runtime.start(id);
      return { id, o, res };
    }

    it('runs a command to completion: exit code, stdout and stderr in the log', async () => {
      const { id, o } = await createStarted(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const exit = await exits.wait(id);
      assert.equal(exit.exitCode, 3);
      assert.equal(exit.oomKilled, false);
      assert.ok(exit.finishedAt instanceof Date);
      const again = await h.runtime.readExit(id);
      assert.equal(again?.exitCode, 3);
      assert.equal((await h.runtime.state(id)).status, 'stopped');
      const logs = await collectLogs(o.logPath);
      assert.equal(logs.stdout, 'out\n');
      assert.equal(logs.stderr, 'err\n');
      await h.runtime.delete(id);
      assert.equal((await h.runtime.state(id)).status, 'unknown');
    });

    it('create returns the init pid; the container is "created" until started', async () => {
      const id = h.newId();
      const o = await h.bundle(id, ['true']);
      created.push(id);
      const res = await h.runtime.create(o);
      assert.ok(res.pid > 0);
      assert.ok(res.monitorPid > 0);
      const st = await h.runtime.state(id);
      assert.equal(st.status, 'created');
      assert.equal(st.pid, res.pid);
      await h.runtime.start(id);
      assert.equal((await exits.wait(id)).exitCode, 0);
      await h.runtime.delete(id);
    });

    it('kill: PID 1 ignores TERM without a handler; KILL gives 137; kill of a stopped container is a conflict', async () => {
      const { id, res } = await createStarted(['sleep', '100']);
      const st = await h.runtime.state(id);
      assert.equal(st.status, 'running');
      assert.equal(st.pid, res.pid);
      await h.runtime.kill(id, 'TERM');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await h.runtime.state(id)).status, 'running');
      await h.runtime.kill(id, 'SIGKILL');
      const exit = await exits.wait(id);
      assert.equal(exit.exitCode, 137);
      await assert.rejects(h.runtime.kill(id, 'KILL'), (e) => isCategory(e, ContainerNotRunningError));
      await h.runtime.delete(id);
    });

    it('pause and resume', async () => {
      const { id } = await createStarted(['sleep', '100']);
      await h.runtime.pause(id);
      assert.equal((await h.runtime.state(id)).status, 'paused');
      await h.runtime.resume(id);
      assert.equal((await h.runtime.state(id)).status, 'running');
      await h.runtime.delete(id, { force: true });
      assert.equal((await h.runtime.state(id)).status, 'unknown');
    });

    it('delete refuses a running container without force, and force removes it', async () => {
      const { id } = await createStarted(['sleep', '100']);
      await assert.rejects(h.runtime.delete(id), RuntimeError);
      await h.runtime.delete(id, { force: true });
      assert.equal((await h.runtime.state(id)).status, 'unknown');
      assert.equal(await h.runtime.readExit(id), undefined);
    });

    it('a missing executable fails create (or start) with Docker\'s message', async () => {
      const id = h.newId();
      const o = await h.bundle(id, ['nosuchcmd']);
      created.push(id);
      let err: unknown;
      try {
        await h.runtime.create(o);
        await h.runtime.start(id);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof RuntimeError, `expected a RuntimeError, got ${String(err)}`);
      assert.match((err as Error).message, /exec: "nosuchcmd": executable file not found in \$PATH/);
      await h.runtime.delete(id, { force: true });
    });

    it('unknown containers: state unknown, delete is a no-op, kill is not found', async () => {
      const id = h.newId();
      assert.equal((await h.runtime.state(id)).status, 'unknown');
      assert.equal(await h.runtime.readExit(id), undefined);
      await h.runtime.delete(id);
      await assert.rejects(h.runtime.kill(id, 'KILL'), (e) => isNotFound(e));
    });

    it('stats: a running container gives a sample; pid 0 gives the host counters only', async () => {
      const { id, res } = await createStarted(['sleep', '100']);
      const s = await h.runtime.stats(id, res.pid);
      assert.ok(s.sample, 'a sample for a running container');
      assert.ok(s.sample.pidsCurrent >= 1);
      assert.ok(s.systemCpu > 0);
      assert.ok(s.onlineCpus >= 1);
      const host = await h.runtime.stats(id, 0);
      assert.equal(host.sample, undefined);
      assert.ok(host.systemCpu > 0);
      await h.runtime.delete(id, { force: true });
    });

    it('watchExits: a stopped watcher hears nothing more', async () => {
      const heard: string[] = [];
      const stop = h.runtime.watchExits((id) => heard.push(id));
      stop();
      const { id } = await createStarted(['true']);
      await exits.wait(id);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(heard, []);
      await h.runtime.delete(id);
    });
  });
}
