/**
 * The outer half of a rootless berthd (issue 21): a non-root user's `berthd` re-executes itself
 * under rootlesskit, as dockerd-rootless.sh does for dockerd. rootlesskit makes a user namespace
 * mapped from /etc/subuid and /etc/subgid (newuidmap/newgidmap), a mount namespace (with /etc
 * and /run copied up so the daemon may write them), and a network namespace reached through
 * slirp4netns; inside, berthd is "root" in those namespaces and makes its bridges, nftables
 * tables and DNS servers there. Published ports are exposed on the host through rootlesskit's
 * builtin port driver (src/network/ports/rootlesskit-ports.ts).
 *
 * This process stays in the host's namespaces for the daemon's life: it forwards SIGTERM/SIGINT,
 * serves the host-loopback dialer (host-loopback-dialer.ts) and exits with the daemon's code.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { DaemonConfig } from '../config.js';
import { serveHostLoopbackDialer } from './host-loopback-dialer.js';

/** Env var naming the dialer socket for the inner daemon. */
export const DIALER_ENV = 'BERTH_ROOTLESS_DIALER';

/** The state directory of rootlesskit for a daemon (its API socket is `api.sock` in it). */
export function rootlesskitStateDir(execRoot: string): string {
  return join(execRoot, 'rootlesskit');
}

function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** First `/etc/subuid`-style entry for the user (by name or uid): `[start, count]`. */
export function subIdRange(text: string, user: string, uid: number): [number, number] | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(uid)) && Number(count) > 0) return [Number(start), Number(count)];
  }
  return undefined;
}

/**
 * What is missing for a rootless daemon on this host, each with what fixes it; empty when
 * nothing is. `berth rootless setup` (run as root) fixes all of these.
 */
export function rootlessPrerequisites(): string[] {
  const problems: string[] = [];
  const pkgFor: Record<string, string> = { rootlesskit: 'rootlesskit', slirp4netns: 'slirp4netns', newuidmap: 'uidmap', newgidmap: 'uidmap' };
  for (const [bin, pkg] of Object.entries(pkgFor)) {
    if (!findBinary(bin)) problems.push(`${bin} is not installed (apt-get install ${pkg})`);
  }
  const { username, uid } = userInfo();
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      /* missing file: no entry */
    }
    const r = subIdRange(text, username, uid);
    if (!r) problems.push(`${file} has no range for ${username} (as root: berth rootless setup --user ${username})`);
    else if (r[1] < 65536) problems.push(`${file} gives ${username} ${r[1]} ids; at least 65536 are needed`);
  }
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    problems.push('/dev/net/tun is not usable by this user (slirp4netns needs it; as root: chmod 0666 /dev/net/tun, the mode udev gives it)');
  }
  return problems;
}

/**
 * Containers a previous rootless berthd left running (it was killed: a clean shutdown stops
 * them) live in namespaces that ended with its rootlesskit: no network, no published port, and
 * the new daemon's runtime cannot reach them. Their conmon is found by its exit dir; its child
 * (the container's init) is killed, so conmon writes the exit file and the daemon's restore
 * records them exited. Runs in the host's namespaces, where /proc shows them. Returns their ids.
 */
export async function reapOrphanContainers(execRoot: string): Promise<string[]> {
  const ctrDir = join(execRoot, 'ctr');
  const ids = await readdir(ctrDir).catch(() => [] as string[]);
  const reaped: string[] = [];
  for (const id of ids) {
    const conmon = Number((await readFile(join(ctrDir, id, 'conmon.pid'), 'utf8').catch(() => '')).trim());
    if (!conmon) continue;
    const cmdline = (await readFile(`/proc/${conmon}/cmdline`, 'utf8').catch(() => '')).split('\0');
    // The pid may have been reused: only this exec root's conmon of this container counts.
    if (!cmdline[0]?.endsWith('conmon') || !cmdline.includes(id) || !cmdline.includes(join(execRoot, 'exits'))) continue;
    const children = (await readFile(`/proc/${conmon}/task/${conmon}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    for (const c of children) {
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // conmon writes the exit file and exits once its child is gone (bounded wait).
    for (let i = 0; i < 50 && existsSync(`/proc/${conmon}`); i++) await new Promise((r) => setTimeout(r, 100));
    reaped.push(id);
  }
  return reaped;
}

/** A user's PATH often lacks the sbin directories, where nft, ip and runc live on Debian. */
export function withSbin(path: string | undefined): string {
  const dirs = (path ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(':');
}

/** Whether another berthd holds the pid file (so the state dir must not be touched). */
async function pidfileHeld(path: string): Promise<number | undefined> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (!pid || pid === process.pid) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('berthd') ? pid : undefined;
}

/**
 * Runs the daemon under rootlesskit with the same arguments and resolves with its exit code.
 * Throws (before starting anything) when a prerequisite is missing.
 */
export async function runUnderRootlesskit(argv: string[], config: DaemonConfig): Promise<number> {
  const problems = rootlessPrerequisites();
  if (problems.length) throw new Error(`cannot start a rootless daemon:\n  - ${problems.join('\n  - ')}\nsee docs/rootless.md`);
  const held = await pidfileHeld(config.pidfile);
  if (held) throw new Error(`pid file found, ensure berthd is not running or delete ${config.pidfile} (pid ${held} is alive)`);
  await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
  const reaped = await reapOrphanContainers(config.execRoot);
  if (reaped.length) process.stderr.write(`berthd: ended ${reaped.length} container(s) a previous rootless berthd left running in its ended namespaces: ${reaped.map((id) => id.slice(0, 12)).join(', ')}\n`);
  const stateDir = rootlesskitStateDir(config.execRoot);
  // rootlesskit refuses a state dir that holds a previous run's files.
  await rm(stateDir, { recursive: true, force: true });
  const dialerPath = join(config.execRoot, 'host-loopback.sock');
  const dialer = await serveHostLoopbackDialer(dialerPath);
  const script = process.argv[1]!;
  const args = [
    '--net=slirp4netns',
    '--mtu=65520',
    '--slirp4netns-sandbox=auto',
    '--slirp4netns-seccomp=auto',
    // Containers must not reach the host's loopback services through 10.0.2.2; the daemon's own
    // loopback registry traffic goes through the dialer instead.
    '--disable-host-loopback',
    '--port-driver=builtin',
    '--copy-up=/etc',
    '--copy-up=/run',
    '--propagation=rslave',
    `--state-dir=${stateDir}`,
    process.execPath,
    ...process.execArgv,
    script,
    ...argv,
  ];
  const child = spawn(findBinary('rootlesskit')!, args, {
    stdio: 'inherit',
    env: { ...process.env, PATH: withSbin(process.env['PATH']), [DIALER_ENV]: dialerPath },
  });
  const forward = (sig: NodeJS.Signals) => () => {
    if (child.pid) process.kill(child.pid, sig);
  };
  const onTerm = forward('SIGTERM');
  const onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const code = await new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`berthd: starting rootlesskit failed: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1)));
  });
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  await dialer.close();
  await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  return code;
}
