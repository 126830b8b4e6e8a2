/**
 * Per-container writable layers on overlayfs, in containerd's snapshot vocabulary.
 *
 * A committed snapshot (`name`) is an image layer: read-only, shared, owned by the layer store.
 * An active snapshot (`key`) is a container's writable layer; its `parent` is the image's top
 * layer, i.e. the stack of lower dirs. Here the key is the container ID:
 *
 *     <root>/<containerId>/upper    the container's changes (overlay upperdir)
 *     <root>/<containerId>/work     overlay's scratch dir (same filesystem as upper)
 *     <root>/<containerId>/merged   the conventional mount point (see `paths`)
 *
 * Lifecycle, as the engine drives it: `prepare(key, lowerDirs)` on container create; `mount`
 * before start (idempotent: a mounted target is left alone); `unmount` after the container
 * stops (falls back to a lazy unmount when busy); `remove` on container removal (unmounts
 * anything still mounted under the key's dir, then deletes it).
 *
 * What it does not do: it does not take references on image layers (the engine holds them
 * through the image service, so the lower dirs outlive the container's use of them), and
 * it keeps no state of its own besides these directories.
 *
 * Mount option length: the kernel takes at most one page (4096 bytes) of mount data. When the
 * absolute paths do not fit, the mount runs in the lower dirs' common ancestor directory with
 * relative paths (Docker's overlay2 does the same with short link names), which fits about 50
 * layers under the default data root; longer stacks fail with a clear error.
 */
import { chown, mkdir, readFile, realpath, rm, access } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, SystemError } from '../common/errors.js';

/** A mount, as containerd's `mount.Mount` (what a runtime spec's `mounts` entry needs). */
export interface OverlayMount {
  type: 'overlay';
  source: 'overlay';
  options: string[];
}

/** Where a container's snapshot lives. */
export interface SnapshotPaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
}

/**
 * Idmapped lower layers (user namespace remapping, issue 21): each lower dir is bind-mounted
 * through `bind` (an idmapped mount, common/idmapped-mount.ts) under the snapshot's dir, the
 * overlay is mounted over those, and the idmapped mounts are detached again (overlay keeps its
 * own private clones of its layers). The upper dir's root is owned by the remapped `root`.
 */
export interface IdmapLayers {
  bind(source: string, target: string): void | Promise<void>;
  root: { uid: number; gid: number };
}

export interface SnapshotterOptions {
  /** Reads the mount table; defaults to `/proc/self/mountinfo` (tests substitute it). */
  readMountInfo?: () => Promise<string>;
  /**
   * fuse-overlayfs (rootless, issue 21): `fallback` mounts with it when the kernel refuses an
   * overlay mount (an older kernel in a user namespace), `always` uses it alone. The binary's path.
   */
  fuseOverlayfs?: { path: string; mode: 'fallback' | 'always' };
}

// One page of mount data, less the NUL, less room for anything mount(8) may add.
const MOUNT_DATA_MAX = 4000;
const VALID_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class Snapshotter {
  readonly #root: string;
  readonly #runner: CommandRunner;
  readonly #readMountInfo: () => Promise<string>;
  readonly #fuse: SnapshotterOptions['fuseOverlayfs'];

  /** `root` is the containers' snapshot root (e.g. `<data-root>/containers`). */
  constructor(root: string, runner: CommandRunner, options: SnapshotterOptions = {}) {
    this.#root = resolve(root);
    this.#runner = runner;
    this.#readMountInfo = options.readMountInfo ?? (() => readFile('/proc/self/mountinfo', 'utf8'));
    this.#fuse = options.fuseOverlayfs;
  }

  paths(containerId: string): SnapshotPaths {
    if (!VALID_KEY.test(containerId)) throw new InvalidParameterError(`invalid snapshot key: ${JSON.stringify(containerId)}`);
    const dir = join(this.#root, containerId);
    return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
  }

  /**
   * Creates the active snapshot `containerId` over `lowerDirs` (topmost first) and returns the
   * overlay mount that shows it. Preparing an existing key keeps its upper dir.
   */
  async prepare(containerId: string, lowerDirs: readonly string[]): Promise<OverlayMount> {
    const p = this.paths(containerId);
    await mkdir(p.upper, { recursive: true, mode: 0o755 });
    await mkdir(p.work, { recursive: true, mode: 0o700 });
    return { type: 'overlay', source: 'overlay', options: overlayOptions(await this.#lowers(p, lowerDirs), p.upper, p.work) };
  }

  /** Mounts the container's overlay at `target` (created if missing); a no-op when something is already mounted there. */
  async mount(containerId: string, lowerDirs: readonly string[], target: string, options: { idmap?: IdmapLayers } = {}): Promise<void> {
    const p = this.paths(containerId);
    await access(p.upper).catch(() => {
      throw new InvalidParameterError(`snapshot ${containerId} is not prepared`);
    });
    await mkdir(target, { recursive: true });
    const where = await realpath(target);
    if (await this.isMounted(where)) return;
    let lowers = await this.#lowers(p, lowerDirs);
    if (!options.idmap) return this.#mountOverlay(p, lowers, where);
    const { bind, root } = options.idmap;
    await chown(p.upper, root.uid, root.gid);
    // Short names (l/0, l/1, …) keep the mount data small: the same layer count fits as without idmapping.
    const idmapped = lowers.map((_, i) => join(p.dir, 'l', String(i)));
    const made: string[] = [];
    try {
      for (let i = 0; i < lowers.length; i++) {
        await mkdir(idmapped[i]!, { recursive: true });
        await bind(lowers[i]!, idmapped[i]!);
        made.push(idmapped[i]!);
      }
      lowers = idmapped;
      await this.#mountOverlay(p, lowers, where);
    } finally {
      for (const m of made) await this.#runner.run(['umount', '-l', m], { check: false });
    }
  }

  async #mountOverlay(p: SnapshotPaths, lowers: string[], where: string): Promise<void> {
    for (const d of [...lowers, p.upper, p.work]) {
      if (/[,:\\]/.test(d)) throw new InvalidParameterError(`cannot mount overlay: path ${JSON.stringify(d)} contains ',', ':' or '\\'`);
    }
    let data = overlayOptions(lowers, p.upper, p.work).join(',');
    let cwd: string | undefined;
    if (data.length > MOUNT_DATA_MAX) {
      cwd = commonAncestor([...lowers, p.upper, p.work]);
      const rel = (d: string): string => relative(cwd!, d) || '.';
      data = overlayOptions(lowers.map(rel), rel(p.upper), rel(p.work)).join(',');
      if (data.length > MOUNT_DATA_MAX) {
        throw new InvalidParameterError(`cannot mount overlay: ${lowers.length} layers exceed the kernel's mount option limit (4096 bytes)`);
      }
    }
    const fuse = this.#fuse;
    if (fuse?.mode !== 'always') {
      const r = await this.#runner.run(['mount', '-t', 'overlay', 'overlay', '-o', data, where], { ...(cwd ? { cwd } : {}), check: !fuse });
      if (r.code === 0) return;
    }
    await this.#runner.run([fuse!.path, '-o', data, where], cwd ? { cwd } : {});
  }

  /** Unmounts `target`; lazily (`umount -l`) when it is busy. Not mounted is not an error. */
  async unmount(target: string): Promise<void> {
    const where = await realpath(target).catch(() => resolve(target));
    if (!(await this.isMounted(where))) return;
    const r = await this.#runner.run(['umount', where], { check: false });
    if (r.code === 0 || !(await this.isMounted(where))) return;
    const lazy = await this.#runner.run(['umount', '-l', where], { check: false });
    if (lazy.code !== 0 && (await this.isMounted(where))) {
      throw new SystemError(`cannot unmount ${where}: ${(lazy.stderr || r.stderr).trim()}`);
    }
  }

  /** Unmounts whatever is mounted under the snapshot's dir, then deletes it. */
  async remove(containerId: string): Promise<void> {
    const p = this.paths(containerId);
    const mounts = parseMountInfo(await this.#readMountInfo())
      .filter((m) => m === p.dir || m.startsWith(p.dir + sep))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await this.unmount(m);
    await rm(p.dir, { recursive: true, force: true });
  }

  /** Whether `target` (an absolute, resolved path) is a mount point. */
  async isMounted(target: string): Promise<boolean> {
    return parseMountInfo(await this.#readMountInfo()).includes(target);
  }

  // overlay needs at least one lower dir: an image without layers gets an empty one.
  async #lowers(p: SnapshotPaths, lowerDirs: readonly string[]): Promise<string[]> {
    if (lowerDirs.length > 0) return lowerDirs.map((d) => resolve(d));
    const empty = join(p.dir, 'empty');
    await mkdir(empty, { recursive: true });
    return [empty];
  }
}

function overlayOptions(lowers: readonly string[], upper: string, work: string): string[] {
  return [`lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${work}`];
}

/** Mount points from /proc/self/mountinfo (field 5, octal escapes decoded). */
export function parseMountInfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

function commonAncestor(paths: readonly string[]): string {
  let prefix = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(prefix === sep ? sep : prefix + sep))) prefix = dirname(prefix);
  return prefix;
}
