/**
 * The target end of a container move (issue 23), all or nothing.
 *
 * Lifecycle: `begin` checks what can be checked before any byte travels (the name is free, the
 * image is here, no named volume to be made exists) and opens a session directory
 * (`<data-root>/move/imports/<session>/`, `session.json`); `receive` takes one part (a tar),
 * hashing it as it is written and keeping it only when it matches the digest and size
 * announced at `begin`; `commit` then, only when every part arrived: creates the named volumes
 * and fills them, creates the container under a staging name (`berth-move-<session>`), fills
 * its anonymous volumes and its writable layer, and renames it to its own name, the last step.
 * Every tar is unpacked through the layer store's validated import (layer-store.ts `prepare`:
 * hostile-tar rules, OCI whiteouts → overlay whiteouts), never by hand.
 *
 * Failure at any point removes what the session made: `commit` rolls back in-process; a daemon
 * killed meanwhile finds the session at its next start (`sweep`): the staging container (by its
 * name) and the volumes the journal (`commit.json`) lists are removed with the directory.
 * `abort` drops a session a client gives up. Nothing here touches the source daemon.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandRunner } from '../../common/command-runner.js';
import { ConflictError, DigestMismatchError, InvalidParameterError, NotFoundError } from '../../common/errors.js';
import { faultPoint } from '../../common/fault-point.js';
import type { Logger } from '../../common/logger.js';
import type { ContainerRecord, ContainerSpec } from '../types.js';
import { PART_ID, SESSION_ID, type MovePart } from './move-types.js';

/** The engine and store operations an import needs (adapted by daemon.ts). */
export interface MoveImporterOptions {
  /** `<data-root>/move/imports`. */
  root: string;
  runner: CommandRunner;
  log: Logger;
  containers: {
    find(name: string): ContainerRecord | undefined;
    /** By ID, or undefined. */
    get(id: string): ContainerRecord | undefined;
    create(spec: ContainerSpec): Promise<{ id: string; warnings: string[] }>;
    remove(ref: string): Promise<void>;
    rename(ref: string, name: string): void;
  };
  upperDir(id: string): string;
  /** The image ID `ref` names here, or undefined. */
  imageId(ref: string): string | undefined;
  hasImage(id: string): boolean;
  volumes: {
    exists(name: string): boolean;
    create(req: { name: string; driver: string; labels: Record<string, string>; options: Record<string, string> }): Promise<{ mountpoint: string; created: boolean }>;
    mountpoint(name: string): string;
    remove(name: string): Promise<void>;
  };
  /** Unpacks a tar through the layer store's validated import into a private dir. */
  unpack(tar: Readable): Promise<{ dir: string; abort(): Promise<void> }>;
}

export interface ImportRequest {
  name: string;
  spec: ContainerSpec;
  imageId: string;
  parts: MovePart[];
}

interface SessionFile extends ImportRequest {
  created: string;
}

interface Journal {
  volumes: string[];
  /** The container made, once made (removed by a sweep whatever its name: see `sweep`). */
  container?: string;
}

const IDLE_MS = 60 * 60 * 1000;

export class MoveImporter {
  readonly #o: MoveImporterOptions;
  /** Sessions in a commit (one at a time each). */
  readonly #busy = new Set<string>();

  constructor(options: MoveImporterOptions) {
    this.#o = options;
  }

  /** Removes whatever an interrupted move left (daemon start). Returns the sessions swept. */
  async sweep(): Promise<string[]> {
    await mkdir(this.#o.root, { recursive: true, mode: 0o700 });
    const swept: string[] = [];
    for (const session of await readdir(this.#o.root)) {
      if (!SESSION_ID.test(session)) {
        await rm(join(this.#o.root, session), { recursive: true, force: true });
        continue;
      }
      await this.#rollback(session).catch((err: unknown) => this.#o.log.warn({ err, session }, 'move: cleaning an interrupted import failed'));
      swept.push(session);
    }
    return swept;
  }

  /** Opens an import session; throws before anything is written when the target cannot take the container. */
  async begin(req: ImportRequest): Promise<{ session: string }> {
    const name = req.name.replace(/^\//, '');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const clash = this.#o.containers.find(name);
    if (clash) {
      throw new ConflictError(`Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    if (!this.#o.hasImage(req.imageId)) throw new NotFoundError(`image ${req.imageId} is not on this daemon: send it first (POST /berth/images/assemble)`);
    const ids = new Set<string>();
    const rw = req.parts.filter((p) => p.kind === 'rw');
    if (rw.length !== 1) throw new InvalidParameterError('a move needs exactly one writable-layer part (rw)');
    for (const p of req.parts) {
      if (!PART_ID.test(p.id) || ids.has(p.id)) throw new InvalidParameterError(`invalid or repeated move part ${JSON.stringify(p.id)}`);
      ids.add(p.id);
      if (!/^sha256:[a-f0-9]{64}$/.test(p.digest) || !Number.isSafeInteger(p.size) || p.size < 0) throw new InvalidParameterError(`move part ${p.id}: invalid digest or size`);
      if (p.kind === 'volume') {
        if (!p.volume) throw new InvalidParameterError(`move part ${p.id}: volume details missing`);
        if (!p.volume.anonymous && this.#o.volumes.exists(p.volume.name)) {
          throw new ConflictError(`volume ${p.volume.name} already exists on this daemon: remove it first, or move without its data`);
        }
      }
    }
    await this.#expire();
    const session = randomBytes(16).toString('hex');
    const dir = join(this.#o.root, session);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file: SessionFile = { ...req, name, created: new Date().toISOString() };
    await writeFile(join(dir, 'session.json'), JSON.stringify(file));
    return { session };
  }

  /** Receives one part; it is kept only when its bytes match the digest and size announced. */
  async receive(session: string, part: string, body: Readable, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
    const s = await this.#session(session);
    const want = s.parts.find((p) => p.id === part);
    if (!want) throw new NotFoundError(`move session ${session} has no part ${JSON.stringify(part)}`);
    if (this.#busy.has(session)) throw new ConflictError(`move session ${session} is being committed`);
    const file = join(this.#o.root, session, `${part}.tar`);
    const tmp = `${file}.partial`;
    const hash = createHash('sha256');
    let size = 0;
    let first = true;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        if (size > want.size) return cb(new DigestMismatchError(`move part ${part}: more than the ${want.size} bytes announced`));
        cb(null, chunk);
        // Crash testing (issue 23): the daemon dies while a volume streams in.
        if (first && want.kind === 'volume') {
          first = false;
          faultPoint('move-import-volume');
        }
      },
    });
    try {
      await rm(tmp, { force: true });
      if (signal) await pipeline(body, tap, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal });
      else await pipeline(body, tap, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      const digest = `sha256:${hash.digest('hex')}`;
      if (size !== want.size || digest !== want.digest) {
        throw new DigestMismatchError(`move part ${part}: received ${size} bytes of digest ${digest}, expected ${want.size} bytes of ${want.digest}`);
      }
      await rename(tmp, file);
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Makes the container from the parts received; all or nothing (see the module comment). */
  async commit(session: string): Promise<{ id: string; warnings: string[] }> {
    const s = await this.#session(session);
    if (this.#busy.has(session)) throw new ConflictError(`move session ${session} is being committed`);
    for (const p of s.parts) {
      if (!(await stat(join(this.#o.root, session, `${p.id}.tar`)).catch(() => undefined))) throw new ConflictError(`move session ${session}: part ${p.id} has not arrived`);
    }
    this.#busy.add(session);
    const dir = join(this.#o.root, session);
    const journal: Journal = { volumes: [] };
    const writeJournal = (): Promise<void> => writeFile(join(dir, 'commit.json'), JSON.stringify(journal));
    try {
      await writeJournal();
      // Named volumes first: the container's create then finds them.
      for (const p of s.parts) {
        const v = p.volume;
        if (p.kind !== 'volume' || !v || v.anonymous) continue;
        journal.volumes.push(v.name);
        await writeJournal();
        const made = await this.#o.volumes.create({ name: v.name, driver: v.driver, labels: v.labels, options: v.options });
        if (!made.created) {
          journal.volumes.pop();
          await writeJournal();
          throw new ConflictError(`volume ${v.name} was created on this daemon meanwhile`);
        }
        await this.#fill(join(dir, `${p.id}.tar`), made.mountpoint, v);
      }
      const staging = stagingName(session);
      const { id, warnings } = await this.#o.containers.create({ ...s.spec, name: staging, image: this.#o.imageId(s.spec.image) === s.imageId ? s.spec.image : s.imageId });
      journal.container = id;
      await writeJournal();
      const rec = this.#o.containers.find(staging);
      if (!rec) throw new NotFoundError(`move: the staging container ${staging} vanished`);
      for (const p of s.parts) {
        const v = p.volume;
        if (p.kind !== 'volume' || !v || !v.anonymous) continue;
        const m = (rec.mounts ?? []).find((x) => x.type === 'volume' && x.anonymous && x.destination === v.destination && x.name);
        if (!m) throw new InvalidParameterError(`move: the container made here has no anonymous volume at ${v.destination}`);
        await this.#fill(join(dir, `${p.id}.tar`), this.#o.volumes.mountpoint(m.name!), v);
      }
      await this.#fill(join(dir, 'rw.tar'), this.#o.upperDir(id));
      faultPoint('move-import-before-rename');
      this.#o.containers.rename(id, s.name);
      // The commit point: once the session is gone, the container is the client's. A daemon
      // killed before this line (even after the rename) removes the container at its next start,
      // since the client, without an answer, gave the container back to the source.
      await rm(dir, { recursive: true, force: true });
      return { id, warnings };
    } catch (e) {
      await this.#rollback(session).catch((err: unknown) => this.#o.log.warn({ err, session }, 'move: rolling back an import failed'));
      throw e;
    } finally {
      this.#busy.delete(session);
    }
  }

  /** Gives up a session (not one being committed). */
  async abort(session: string): Promise<void> {
    await this.#session(session);
    if (this.#busy.has(session)) throw new ConflictError(`move session ${session} is being committed`);
    await this.#rollback(session);
  }

  async #session(session: string): Promise<SessionFile> {
    if (!SESSION_ID.test(session)) throw new InvalidParameterError(`invalid move session ${JSON.stringify(session)}`);
    const text = await readFile(join(this.#o.root, session, 'session.json'), 'utf8').catch(() => undefined);
    if (text === undefined) throw new NotFoundError(`no such move session: ${session}`);
    return JSON.parse(text) as SessionFile;
  }

  // Unpacks a part (validated, whiteouts converted) and moves its entries into `dest`.
  async #fill(tarFile: string, dest: string, root?: { mode: number; uid: number; gid: number }): Promise<void> {
    const { createReadStream } = await import('node:fs');
    const unpacked = await this.#o.unpack(createReadStream(tarFile));
    try {
      for (const name of await readdir(unpacked.dir)) {
        const to = join(dest, name);
        await rm(to, { recursive: true, force: true });
        try {
          await rename(join(unpacked.dir, name), to);
        } catch (e) {
          // The layer store on another filesystem than the containers or volumes.
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          await this.#o.runner.run(['cp', '-a', join(unpacked.dir, name), to]);
        }
      }
    } finally {
      await unpacked.abort();
    }
    if (root) {
      await chown(dest, root.uid, root.gid);
      await chmod(dest, root.mode);
    }
  }

  // Removes what a session made: the staging container, the volumes the journal lists, the dir.
  async #rollback(session: string): Promise<void> {
    const dir = join(this.#o.root, session);
    const journal = await readFile(join(dir, 'commit.json'), 'utf8').then((t) => JSON.parse(t) as Journal, () => undefined);
    const staging = this.#o.containers.find(stagingName(session));
    if (staging) await this.#o.containers.remove(staging.id);
    else if (journal?.container && this.#o.containers.get(journal.container)) await this.#o.containers.remove(journal.container);
    for (const v of journal?.volumes ?? []) {
      if (this.#o.volumes.exists(v)) await this.#o.volumes.remove(v);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async #expire(): Promise<void> {
    for (const name of await readdir(this.#o.root).catch(() => [] as string[])) {
      if (this.#busy.has(name)) continue;
      const st = await lstat(join(this.#o.root, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > IDLE_MS) await this.#rollback(name).catch(() => undefined);
    }
  }
}

/** The name a moved container has until its commit's last step. */
export function stagingName(session: string): string {
  return `berth-move-${session.slice(0, 16)}`;
}
