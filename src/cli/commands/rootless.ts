/**
 * `berth rootless setup|check` (issue 21): what a non-root user needs to run berthd, checked
 * and, as root, made so. Local only: it never talks to a daemon.
 *
 * - packages: rootlesskit, slirp4netns, uidmap (newuidmap/newgidmap), fuse-overlayfs, installed
 *   with apt-get when missing (root);
 * - /etc/subuid and /etc/subgid: a range of 65536 ids for the user, added with `usermod
 *   --add-subuids/--add-subgids` after the highest range in use (root);
 * - /dev/net/tun (slirp4netns) and /dev/fuse (fuse-overlayfs) usable by users: mode 0666, the
 *   mode Debian's udev rules give them, set where udev does not run (root);
 * - unprivileged user namespaces enabled (checked, not changed);
 * - the cgroup layout: limits need a delegated cgroup v2 subtree (reported, not changed).
 *
 * Without root it only checks, and prints what root must run. Exit status 0 when nothing is
 * missing at the end, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync, statfsSync, chmodSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { CommandModule } from '../command.js';
import { runSubcommand } from './tls.js';
import type { Invocation } from '../invocation.js';
import { StatusError } from '../errors.js';

const PACKAGES: Array<[bin: string, pkg: string]> = [
  ['/usr/bin/rootlesskit', 'rootlesskit'],
  ['/usr/bin/slirp4netns', 'slirp4netns'],
  ['/usr/bin/newuidmap', 'uidmap'],
  ['/usr/bin/fuse-overlayfs', 'fuse-overlayfs'],
];
const SUB_COUNT = 65536;
const SUB_MIN = 100000;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** The user's entry in an /etc/subuid-style file, or undefined. */
export function findSubRange(text: string, user: string, uid: number): { start: number; count: number } | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(uid)) && Number(count) > 0) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

/** The first id after every range in the file (and at least SUB_MIN): where a new range can go. */
export function nextFreeSubStart(text: string): number {
  let next = SUB_MIN;
  for (const line of text.split('\n')) {
    const [, start, count] = line.trim().split(':');
    const end = Number(start) + Number(count);
    if (Number.isFinite(end) && end > next) next = end;
  }
  return next;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function lookupUser(name: string): { name: string; uid: number } | undefined {
  for (const line of readOr('/etc/passwd').split('\n')) {
    const f = line.split(':');
    if (f[0] === name || (/^\d+$/.test(name) && f[2] === name)) return { name: f[0]!, uid: Number(f[2]) };
  }
  return undefined;
}

function othersCanUse(dev: string): boolean {
  try {
    return (statSync(dev).mode & 0o006) === 0o006;
  } catch {
    return false;
  }
}

const setup: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Check and (as root) make what a rootless berthd needs for a user: packages, /etc/subuid and /etc/subgid, /dev/net/tun',
  args: { max: 0 },
  configure(cmd) {
    cmd
      .option('-u, --user <name>', 'The user who will run berthd (default: $SUDO_USER when run through sudo, else the current user)')
      .option('--no-install', 'Do not install missing packages (only report them)');
  },
  async run(ctx, _args, opts) {
    return rootlessSetup(ctx, opts as { user?: string; install?: boolean }, true);
  },
};

const check: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Report what a rootless berthd still needs for a user, changing nothing',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-u, --user <name>', 'The user who will run berthd (default: the current user)');
  },
  async run(ctx, _args, opts) {
    return rootlessSetup(ctx, opts as { user?: string }, false);
  },
};

async function rootlessSetup(ctx: Invocation, o: { user?: string; install?: boolean }, change: boolean): Promise<number> {
  const root = process.getuid?.() === 0;
  const name = o.user ?? (root ? ctx.env.SUDO_USER : undefined) ?? userInfo().username;
  const user = lookupUser(name);
  if (!user) throw new StatusError(1, `no such user: ${name}`);
  if (user.uid === 0) throw new StatusError(1, 'rootless mode is for a non-root user: name one with --user');
  const out = (s: string) => ctx.stdout.write(`${s}\n`);
  const todo: string[] = [];
  const act = change && root;

  // Packages.
  const missing = [...new Set(PACKAGES.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
  if (missing.length && act && o.install !== false) {
    out(`installing ${missing.join(' ')} (apt-get)`);
    let r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing]);
    if (r.code !== 0) {
      await run('apt-get', ['update']);
      r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing]);
    }
    if (r.code !== 0) out(`apt-get install failed: ${r.out.split('\n').slice(-3).join(' ')}`);
  }
  const stillMissing = [...new Set(PACKAGES.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
  if (stillMissing.length) todo.push(`apt-get install ${stillMissing.join(' ')}`);
  else out('ok: rootlesskit, slirp4netns, uidmap and fuse-overlayfs are installed');

  // Subordinate ids.
  for (const [file, flag] of [['/etc/subuid', '--add-subuids'], ['/etc/subgid', '--add-subgids']] as const) {
    const text = readOr(file);
    const have = findSubRange(text, user.name, user.uid);
    if (have && have.count >= SUB_COUNT) {
      out(`ok: ${file} gives ${user.name} ${have.start}-${have.start + have.count - 1}`);
      continue;
    }
    const start = nextFreeSubStart(text);
    const range = `${start}-${start + SUB_COUNT - 1}`;
    if (act) {
      const r = await run('usermod', [flag, range, user.name]);
      if (r.code === 0) out(`added ${user.name}:${start}:${SUB_COUNT} to ${file}`);
      else todo.push(`usermod ${flag} ${range} ${user.name}   (usermod said: ${r.out})`);
    } else todo.push(`usermod ${flag} ${range} ${user.name}`);
  }

  // Device nodes slirp4netns and fuse-overlayfs open.
  for (const dev of ['/dev/net/tun', '/dev/fuse']) {
    if (!existsSync(dev)) {
      todo.push(`${dev} is missing (modprobe ${dev === '/dev/fuse' ? 'fuse' : 'tun'})`);
      continue;
    }
    if (othersCanUse(dev)) {
      out(`ok: ${dev} is usable by users`);
      continue;
    }
    if (act) {
      try {
        chmodSync(dev, 0o666);
        out(`made ${dev} mode 0666 (Debian's udev default; udev is not running here)`);
        continue;
      } catch (err) {
        todo.push(`chmod 0666 ${dev}   (${(err as Error).message})`);
        continue;
      }
    }
    todo.push(`chmod 0666 ${dev}`);
  }

  // Kernel: unprivileged user namespaces.
  const maxNs = Number(readOr('/proc/sys/user/max_user_namespaces').trim() || '0');
  const clone = readOr('/proc/sys/kernel/unprivileged_userns_clone').trim();
  if (maxNs === 0) todo.push('sysctl -w user.max_user_namespaces=28633 (unprivileged user namespaces are off)');
  else if (clone === '0') todo.push('sysctl -w kernel.unprivileged_userns_clone=1');
  else out('ok: unprivileged user namespaces are enabled');

  // cgroups: only reported.
  let v2 = false;
  try {
    v2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;
  } catch {
    /* none */
  }
  if (!v2) out('note: cgroup v1 (or hybrid) here: a rootless berthd runs containers without resource limits and refuses --memory, --cpus, --pids-limit and the like (they need cgroup v2 with a delegated subtree)');
  else out('note: cgroup v2: limits work for a rootless berthd when systemd delegates the user\'s subtree (Delegate=yes for user@.service)');

  try {
    accessSync('/usr/bin/rootlesskit', constants.X_OK);
  } catch {
    /* reported above */
  }
  if (todo.length) {
    out(`\nstill to do${root ? '' : ' (as root)'}:`);
    for (const t of todo) out(`  ${t}`);
    return 1;
  }
  out(`\nready: as ${user.name}, with XDG_RUNTIME_DIR set (e.g. /run/user/${user.uid}), run: berthd`);
  out('then berth finds the daemon at $XDG_RUNTIME_DIR/berth/berth.sock; the docker CLI needs DOCKER_HOST=unix://$XDG_RUNTIME_DIR/berth/berth.sock');
  return 0;
}

const SUBCOMMANDS: Record<string, CommandModule> = { setup, check };

/** `berth rootless COMMAND`: prepare a host and a user for a rootless daemon (docs/rootless.md). */
export const command: CommandModule = {
  usage: 'COMMAND',
  description: 'Prepare this host for a rootless berthd\n\nCommands:\n  setup       Check and (as root) make what a user needs to run berthd\n  check       Report what is still missing, changing nothing',
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'rootless', SUBCOMMANDS, args);
  },
};
