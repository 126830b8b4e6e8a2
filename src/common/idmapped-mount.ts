/**
 * Idmapped bind mounts (mount_setattr(2) with MOUNT_ATTR_IDMAP, Linux 5.12+), for the image
 * layers of containers that run in a user namespace (issue 21): a layer stays one directory on
 * disk, owned by the ids of the image, and each container sees it through a mount that shifts
 * those ids into its own range. overlayfs accepts idmapped lower layers (Linux 5.19+).
 *
 * Why hand-written: Node has no binding for open_tree/mount_setattr/move_mount, util-linux's
 * `mount -o X-mount.idmap` needs util-linux 2.39 (Debian 12 has 2.38), and crun 1.8 idmaps bind
 * mounts inside the container but not the rootfs. The three calls go through koffi (an FFI
 * library; this file is its only importer) to glibc's wrappers (2.36+).
 *
 * Lifecycle: `IdmapUserns.create(mappings)` makes a user namespace that carries the mappings
 * (an `unshare --user` process whose uid_map/gid_map berthd writes, kept by an open
 * /proc/PID/ns/user descriptor once the process is gone); `bind(source, target)` then makes an
 * idmapped bind mount of `source` at `target` in berthd's mount namespace, any number of
 * times; `close()` drops the namespace.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createRequire } from 'node:module';
import { SystemError } from './errors.js';

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOUNT_ATTR_IDMAP = 0x100000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
/** sizeof(struct mount_attr), MOUNT_ATTR_SIZE_VER0. */
const MOUNT_ATTR_SIZE = 32;

interface Syscalls {
  openTree(path: string): number;
  setIdmap(fd: number, usernsFd: number): number;
  moveMount(fd: number, target: string): number;
  errno(): number;
}

let syscalls: Syscalls | undefined;
function load(): Syscalls {
  if (syscalls) return syscalls;
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch (err) {
    throw new SystemError(`idmapped mounts need the koffi package (npm ci): ${(err as Error).message}`, { cause: err });
  }
  let libc: ReturnType<typeof koffi.load>;
  try {
    libc = koffi.load('libc.so.6');
  } catch (err) {
    throw new SystemError(`idmapped mounts: cannot load glibc: ${(err as Error).message}`, { cause: err });
  }
  const MountAttr = koffi.struct('berth_mount_attr', { attr_set: 'uint64', attr_clr: 'uint64', propagation: 'uint64', userns_fd: 'uint64' });
  let openTree, mountSetattr, moveMount;
  try {
    openTree = libc.func('int open_tree(int dfd, const char *path, unsigned int flags)');
    mountSetattr = libc.func('mount_setattr', 'int', ['int', 'const char *', 'unsigned int', koffi.pointer(MountAttr), 'size_t']);
    moveMount = libc.func('int move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags)');
  } catch (err) {
    throw new SystemError(`idmapped mounts need glibc 2.36 or newer (open_tree, mount_setattr, move_mount): ${(err as Error).message}`, { cause: err });
  }
  syscalls = {
    openTree: (path) => openTree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) as number,
    setIdmap: (fd, usernsFd) => mountSetattr(fd, '', AT_EMPTY_PATH, { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: usernsFd }, MOUNT_ATTR_SIZE) as number,
    moveMount: (fd, target) => moveMount(fd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) as number,
    errno: () => koffi.errno(),
  };
  return syscalls;
}

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(osConstants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** The lines of a uid_map/gid_map file. */
export function idMapText(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** A user namespace carrying one uid and gid mapping, to idmap mounts with. */
export class IdmapUserns {
  #fd: number;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Makes the namespace: a short-lived `unshare --user` process, whose maps berthd (root) writes. */
  static async create(uidMappings: readonly IdMapping[], gidMappings: readonly IdMapping[]): Promise<IdmapUserns> {
    load();
    const child = spawn('unshare', ['--user', '--', 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.once('error', () => {});
    try {
      const pid = child.pid;
      if (!pid) throw new SystemError('cannot run unshare (util-linux) to make a user namespace');
      const own = readlinkSync('/proc/self/ns/user');
      // Bounded wait (2 s) until the child has unshared: its ns link then differs from ours.
      const deadline = Date.now() + 2000;
      for (;;) {
        let link: string | undefined;
        try {
          link = readlinkSync(`/proc/${pid}/ns/user`);
        } catch {
          link = undefined;
        }
        if (link && link !== own) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new SystemError(`cannot make a user namespace with unshare: ${stderr.trim() || 'timed out'}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      writeFileSync(`/proc/${pid}/uid_map`, idMapText(uidMappings));
      writeFileSync(`/proc/${pid}/gid_map`, idMapText(gidMappings));
      return new IdmapUserns(openSync(`/proc/${pid}/ns/user`, 'r'));
    } finally {
      child.stdin.end();
      child.kill();
      await exited;
    }
  }

  /** Mounts `source` at `target` (an existing directory), ids shifted by this namespace's mappings. */
  bind(source: string, target: string): void {
    if (this.#fd < 0) throw new SystemError('idmapped mount: the user namespace is closed');
    const s = load();
    const fd = s.openTree(source);
    if (fd < 0) throw new SystemError(`idmapped mount of ${source}: open_tree failed: ${errnoName(s.errno())}`);
    try {
      if (s.setIdmap(fd, this.#fd) !== 0) {
        const e = errnoName(s.errno());
        throw new SystemError(`idmapped mount of ${source}: mount_setattr(MOUNT_ATTR_IDMAP) failed: ${e}${e === 'EINVAL' ? ' (the filesystem may not support idmapped mounts)' : ''}`);
      }
      if (s.moveMount(fd, target) !== 0) throw new SystemError(`idmapped mount of ${source} at ${target}: move_mount failed: ${errnoName(s.errno())}`);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
