/**
 * The runtime layer on the real thing: conmon + crun and conmon + runc, a busybox rootfs, a
 * private runtime root and exec root per run. Needs root; fails (never skips) without it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SpawnRunner } from '../../src/common/command-runner.js';
import { ensureCgroupLayout } from '../../src/runtime/cgroup-setup.js';
import { ConmonRuntime } from '../../src/runtime/conmon-runtime.js';
import { readLogs } from '../../src/runtime/log-reader.js';
import { runtimeContract } from '../../src/runtime/runtime-contract.js';
import type { ExitInfo } from '../../src/runtime/runtime.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { makeBusyboxRootfs } from '../fixtures/busybox-rootfs.js';

if (process.getuid?.() !== 0) {
  throw new Error('test/integration/runtime.test.ts needs root (real crun, conmon, cgroups, namespaces)');
}

const RUN = `${process.pid}-${Date.now().toString(36)}`;
const CGROUP_PARENT = `/berth-test-${RUN}`;
let work: string;
let rootfs: string;
let seq = 0;

before(async () => {
  await ensureCgroupLayout(new SpawnRunner());
  work = await mkdtemp(join(tmpdir(), 'berth-rt-it-'));
  rootfs = join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  // the runtime removes each container's cgroup; remove our parent in every hierarchy
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    await rmdir(join('/sys/fs/cgroup', h, CGROUP_PARENT)).catch(() => {});
  }
  await rmdir(join('/sys/fs/cgroup', CGROUP_PARENT)).catch(() => {});
});

function newRuntime(kind: 'crun' | 'runc'): ConmonRuntime {
  return new ConmonRuntime({ runtime: kind, runtimeRoot: join(work, 'exec', kind), execRoot: join(work, 'exec') });
}

async function writeBundle(id: string, args: string[], extra: Partial<SpecInput> = {}) {
  const bundleDir = join(work, 'bundles', id);
  await mkdir(bundleDir, { recursive: true });
  const spec = buildSpec({ args, rootfs, hostname: 'berthtest', cgroupsPath: `${CGROUP_PARENT}/${id}`, ...extra });
  await writeFile(join(bundleDir, 'config.json'), JSON.stringify(spec));
  return { id, bundleDir, logPath: join(bundleDir, 'ctr.log'), terminal: false, stdin: false };
}

for (const kind of ['crun', 'runc'] as const) {
  runtimeContract(`conmon+${kind}`, async () => ({
    runtime: newRuntime(kind),
    newId: () => `it-${kind}-${RUN}-${++seq}`,
    bundle: (id, args) => writeBundle(id, args),
    cleanup: async () => {},
  }));
}

describe('conmon+crun: isolation and privileges', () => {
  let rt: ConmonRuntime;
  let stopWatch: () => void;
  const waiting = new Map<string, (e: ExitInfo) => void>();
  const ids: string[] = [];

  before(() => {
    rt = newRuntime('crun');
    stopWatch = rt.watchExits((id, e) => waiting.get(id)?.(e));
  });
  after(async () => {
    stopWatch?.();
    for (const id of ids) await rt.delete(id, { force: true }).catch(() => {});
  });

  async function run(args: string[], extra: Partial<SpecInput> = {}) {
    const id = `iso-${RUN}-${++seq}`;
    ids.push(id);
    const o = await writeBundle(id, args, extra);
    const exited = new Promise<ExitInfo>((r) => waiting.set(id, r));
    const t0 = performance.now();
    await rt.create(o);
    const t1 = performance.now();
    await rt.start(id);
    const t2 = performance.now();
    const exit = await exited;
    const t3 = performance.now();
    let stdout = '';
    let stderr = '';
    for await (const r of readLogs(o.logPath)) {
      if (r.stream === 'stdout') stdout += r.data.toString();
      else stderr += r.data.toString();
    }
    await rt.delete(id);
    return { exit, stdout, stderr, ms: { create: t1 - t0, start: t2 - t1, exit: t3 - t2 } };
  }

  it('PID 1 is the command, the hostname is set, host processes are invisible', async () => {
    const r = await run(['sh', '-c', 'echo pid1=$(cat /proc/1/comm); hostname; ps -o pid,comm | wc -l; echo $$']);
    assert.equal(r.exit.exitCode, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'pid1=sh');
    assert.equal(lines[1], 'berthtest');
    assert.ok(Number(lines[2]) <= 5, `ps shows ${lines[2]} lines`);
    assert.equal(lines[3], '1');
  });

  it('without privileges, mount and writes to /proc/sys fail', async () => {
    const r = await run(['sh', '-c', 'mount -t tmpfs x /mnt && echo MOUNTED; echo 1 > /proc/sys/kernel/domainname && echo WROTE; true']);
    assert.equal(r.exit.exitCode, 0);
    assert.doesNotMatch(r.stdout, /MOUNTED|WROTE/);
  });

  it('privileged: mount and /proc/sys writes succeed, all of the daemon\'s capabilities', async () => {
    const r = await run(['sh', '-c', 'mount -t tmpfs x /mnt && echo MOUNTED; echo 1 > /proc/sys/kernel/domainname && echo WROTE; grep CapEff /proc/self/status'], {
      privileged: true,
    });
    assert.equal(r.exit.exitCode, 0, r.stderr);
    assert.match(r.stdout, /MOUNTED/);
    assert.match(r.stdout, /WROTE/);
  });

  it('SIGTERM through an init (catatonit, like --init) gives 143', async () => {
    const id = `term-${RUN}-${++seq}`;
    ids.push(id);
    const o = await writeBundle(id, ['/sbin/berth-init', '--', 'sleep', '100'], {
      mounts: [{ destination: '/sbin/berth-init', type: 'bind', source: '/usr/bin/catatonit', options: ['rbind', 'ro'] }],
    });
    const exited = new Promise<ExitInfo>((r) => waiting.set(id, r));
    await rt.create(o);
    await rt.start(id);
    await new Promise((r) => setTimeout(r, 100));
    await rt.kill(id, 'SIGTERM');
    assert.equal((await exited).exitCode, 143);
    await rt.delete(id);
  });

  it('the container survives the exit of the process that created it', async () => {
    const id = `survive-${RUN}-${++seq}`;
    ids.push(id);
    const o = await writeBundle(id, ['sleep', '100']);
    const script = `
      import { ConmonRuntime } from ${JSON.stringify(fileURLToPath(new URL('../../src/runtime/conmon-runtime.js', import.meta.url)))};
      const rt = new ConmonRuntime({ runtime: 'crun', runtimeRoot: ${JSON.stringify(join(work, 'exec', 'crun'))}, execRoot: ${JSON.stringify(join(work, 'exec'))} });
      const r = await rt.create(${JSON.stringify(o)});
      await rt.start(${JSON.stringify(id)});
      console.log(JSON.stringify(r));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
    const { pid, monitorPid } = JSON.parse(out) as { pid: number; monitorPid: number };
    const st = await rt.state(id);
    assert.equal(st.status, 'running');
    assert.equal(st.pid, pid);
    process.kill(monitorPid, 0); // conmon is alive
    const exited = new Promise<ExitInfo>((r) => waiting.set(id, r));
    await rt.kill(id, 'KILL');
    assert.equal((await exited).exitCode, 137);
    await rt.delete(id);
  });

  it('latency of create, start and exit (reported, not asserted)', async () => {
    for (const kind of ['crun', 'runc'] as const) {
      const r2 = newRuntime(kind);
      const w = new Map<string, (e: ExitInfo) => void>();
      const stop = r2.watchExits((id, e) => w.get(id)?.(e));
      const samples: { create: number; start: number; exit: number; delete: number }[] = [];
      for (let i = 0; i < 7; i++) {
        const id = `lat-${kind}-${RUN}-${++seq}`;
        ids.push(id);
        const o = await writeBundle(id, ['true']);
        const exited = new Promise<ExitInfo>((r) => w.set(id, r));
        const t0 = performance.now();
        await r2.create(o);
        const t1 = performance.now();
        await r2.start(id);
        const t2 = performance.now();
        await exited;
        const t3 = performance.now();
        await r2.delete(id);
        samples.push({ create: t1 - t0, start: t2 - t1, exit: t3 - t2, delete: performance.now() - t3 });
      }
      stop();
      const med = (k: keyof (typeof samples)[0]) => [...samples.map((s) => s[k])].sort((a, b) => a - b)[samples.length >> 1]!.toFixed(1);
      console.log(`# ${kind} median ms: create ${med('create')} start ${med('start')} exit ${med('exit')} delete ${med('delete')}`);
    }
  });
});
