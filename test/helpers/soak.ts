/**
 * The soak of issue 17 item 2, shared by the short version in the suite
 * (test/integration/soak.test.ts, 200 containers) and the long one (bench/soak.ts, 2,000):
 * containers made and removed through one daemon in a mix of the ways users do it, then a
 * census of everything a container can leave on the host, compared with the one taken before.
 */
import { readdir, readFile, readlink, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import { runCommand, TEST_CGROUP_PARENT, type TestDaemon } from './daemon.js';

/** A cgroup parent of the soak's own under the tests' one, so the census sees only its containers. */
export function soakCgroupParent(): string {
  return `${TEST_CGROUP_PARENT}/soak-${process.pid}`;
}

/** Removes the soak's cgroup parent from every hierarchy (the daemon never removes a parent). */
export async function removeCgroupParent(parent: string): Promise<void> {
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, parent)).catch(() => {});
  }
}

/** What a daemon holds on the host; two censuses of an idle daemon must be equal. */
export interface Census {
  mounts: string[];
  veths: string[];
  netnsFiles: string[];
  nftRules: number;
  nftSets: number;
  cgroups: string[];
  conmons: number[];
  fds: number;
  /** What each fd of berthd points at, by kind (socket, pipe, anon_inode:…, or the file). */
  fdKinds: Record<string, number>;
  containerRows: number;
  volumeRows: number;
  containerDirs: string[];
  volumeDirs: string[];
  tmpFiles: string[];
  rssKb: number;
}

export interface SoakFigures {
  containers: number;
  ms: number;
  perContainerMs: number;
  errors: string[];
  before: Census;
  after: Census;
  /** berthd's RSS once idle after the soak (it gives memory back after ~5 s idle, src/daemon/idle-trim.ts). */
  idleRssKb: number;
}

/** One container's life, chosen by its index, through the Engine API as SDKs drive it. */
async function life(d: TestDaemon, i: number, userNet: string): Promise<void> {
  const name = `soak-${i}`;
  const kind = i % 5;
  const body: Record<string, unknown> = { Image: 'busybox', Cmd: ['sleep', '30'], HostConfig: {} };
  const host = body['HostConfig'] as Record<string, unknown>;
  if (kind === 0) {
    // run --rm on the default bridge, exits by itself
    body['Cmd'] = ['true'];
    host['AutoRemove'] = true;
  } else if (kind === 1) {
    // a user network and a published port, stopped then removed
    host['NetworkMode'] = userNet;
    host['PortBindings'] = { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] };
    body['ExposedPorts'] = { '80/tcp': {} };
  } else if (kind === 2) {
    // a named volume (shared by several), killed with SIGKILL
    host['Binds'] = [`soakvol${i % 3}:/data`];
  } else if (kind === 3) {
    // an anonymous volume, removed with -v
    body['Volumes'] = { '/data': {} };
  } else {
    // no network at all, published port on the default bridge for the others
    host['PortBindings'] = { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] };
    body['ExposedPorts'] = { '8080/tcp': {} };
  }
  const created = await d.api('POST', `/containers/create?name=${name}`, body);
  if (created.status !== 201) throw new Error(`${name}: create ${created.status} ${created.body}`);
  const id = created.json().Id as string;
  if (kind === 0) {
    const wait = d.api('POST', `/containers/${id}/wait?condition=removed`);
    const s = await d.api('POST', `/containers/${id}/start`);
    if (s.status !== 204) throw new Error(`${name}: start ${s.status} ${s.body}`);
    const w = await wait;
    if (w.status !== 200) throw new Error(`${name}: wait ${w.status} ${w.body}`);
    return;
  }
  const s = await d.api('POST', `/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`${name}: start ${s.status} ${s.body}`);
  if (kind === 2) {
    const k = await d.api('POST', `/containers/${id}/kill?signal=SIGKILL`);
    if (k.status !== 204) throw new Error(`${name}: kill ${k.status} ${k.body}`);
  } else {
    const st = await d.api('POST', `/containers/${id}/stop?t=0`);
    if (st.status !== 204 && st.status !== 304) throw new Error(`${name}: stop ${st.status} ${st.body}`);
  }
  const rm = await d.api('DELETE', `/containers/${id}?v=1&force=1`);
  if (rm.status !== 204) throw new Error(`${name}: rm ${rm.status} ${rm.body}`);
}

/** Runs `count` container lives, `parallel` at a time; returns timings and both censuses. */
export async function soak(d: TestDaemon, options: { count: number; parallel?: number; deadlineMs: number; cgroupParent: string }): Promise<SoakFigures> {
  const userNet = 'soaknet';
  const mk = await d.api('POST', '/networks/create', { Name: userNet });
  if (mk.status !== 201 && mk.status !== 409) throw new Error(`network create ${mk.status} ${mk.body}`);
  // Warm-up: the first containers load code, get it optimised and fill caches; none of that is a
  // leak. Then both figures are taken the same way: once berthd has been idle long enough to give
  // memory back (src/daemon/idle-trim.ts: 5 s, then three GCs a second apart).
  for (let i = 0; i < 30; i++) await life(d, 100_000 + i, userNet);
  for (let v = 0; v < 3; v++) await d.api('DELETE', `/volumes/soakvol${v}`);
  await census(d, options.cgroupParent);
  await new Promise((r) => setTimeout(r, 9000));
  const before = await census(d, options.cgroupParent);
  before.rssKb = await rssKb(d.proc!.pid!);
  const errors: string[] = [];
  const started = Date.now();
  const deadline = started + options.deadlineMs;
  let next = 0;
  const worker = async () => {
    while (next < options.count && Date.now() < deadline) {
      const i = next++;
      await life(d, i, userNet).catch((err: Error) => errors.push(err.message));
    }
  };
  await Promise.all(Array.from({ length: options.parallel ?? 4 }, worker));
  const ms = Date.now() - started;
  for (let v = 0; v < 3; v++) {
    const r = await d.api('DELETE', `/volumes/soakvol${v}`);
    if (r.status !== 204 && r.status !== 404) errors.push(`volume rm soakvol${v}: ${r.status} ${r.body}`);
  }
  const after = await census(d, options.cgroupParent);
  // Idle: poll for up to 15 s for RSS to come back within 10% of before (the trim runs after 5 s).
  let idleRssKb = after.rssKb;
  for (const until = Date.now() + 15_000; Date.now() < until && idleRssKb > before.rssKb * 1.1; ) {
    await new Promise((r) => setTimeout(r, 500));
    idleRssKb = await rssKb(d.proc!.pid!);
  }
  return { containers: next, ms, perContainerMs: ms / Math.max(1, next), errors, before, after, idleRssKb };
}

/** Everything a container could leave behind, as seen from the host. */
/** `cgroupParent`: the daemon's own --cgroup-parent (soaks run with one of their own, see SOAK_CGROUP_PARENT). */
export async function census(d: TestDaemon, cgroupParent: string): Promise<Census> {
  const pid = d.proc!.pid!;
  // The client's keep-alive sockets are the test's, not a leak of berthd's: close them first.
  http.globalAgent.destroy();
  await new Promise((r) => setTimeout(r, 300));
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo.split('\n').filter((l) => l.includes(d.dir)).map((l) => l.split(' ')[4]!).sort();
  const links = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter((l) => l.includes(`alias berth:${d.dataRoot}`));
  const veths = links.map((l) => l.split(':')[1]!.trim().split('@')[0]!).filter((n) => n !== d.net?.bridge && !n.startsWith('br-')).sort();
  const netnsFiles = (await readdir(join(d.execRoot, 'netns')).catch(() => [] as string[])).sort();
  let nftRules = 0;
  let nftSets = 0;
  for (const table of [d.net!.nftTable, `${d.net!.nftTable}_ports`]) {
    const text = (await runCommand('nft', ['-a', 'list', 'table', 'ip', table], {})).stdout;
    nftRules += (text.match(/# handle \d+/g) ?? []).length;
    nftSets += (text.match(/^\s*(set|map) /gm) ?? []).length;
  }
  const cgroups: string[] = [];
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    for (const c of await readdir(join('/sys/fs/cgroup', hierarchy, cgroupParent), { withFileTypes: true }).catch(() => [])) {
      if (c.isDirectory()) cgroups.push(`${hierarchy}/${c.name}`);
    }
  }
  const conmons: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('conmon\0') || cmd.includes('/conmon\0')) {
      if (cmd.includes(d.execRoot) || cmd.includes(d.dataRoot)) conmons.push(Number(p));
    }
  }
  const fdNames = await readdir(`/proc/${pid}/fd`);
  const fds = fdNames.length;
  const fdKinds: Record<string, number> = {};
  for (const fd of fdNames) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => 'gone');
    const kind = target.replace(/:\[\d+\]$/, '').replace(/^\/.*\/(containers|volumes|image|tmp)\/.*$/, '<data-root>/$1/…');
    fdKinds[kind] = (fdKinds[kind] ?? 0) + 1;
  }
  const containers = await d.api('GET', '/containers/json?all=1');
  const volumes = await d.api('GET', '/volumes');
  const containerDirs = (await readdir(join(d.dataRoot, 'containers')).catch(() => [] as string[])).sort();
  const volumeDirs = (await readdir(join(d.dataRoot, 'volumes')).catch(() => [] as string[])).filter((n) => n !== 'metadata.db').sort();
  const tmpFiles = (await readdir(join(d.dataRoot, 'tmp')).catch(() => [] as string[])).sort();
  return {
    mounts,
    veths,
    netnsFiles,
    nftRules,
    nftSets,
    cgroups: cgroups.sort(),
    conmons: conmons.sort(),
    fds,
    fdKinds,
    containerRows: (containers.json() as unknown[]).length,
    volumeRows: ((volumes.json() as { Volumes: unknown[] | null }).Volumes ?? []).length,
    containerDirs,
    volumeDirs,
    tmpFiles,
    rssKb: await rssKb(pid),
  };
}


async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}
