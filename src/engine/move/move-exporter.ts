/**
 * The source end of a container move (issue 23). `export` writes the stopped container's
 * writable layer and its volumes as tars into a session directory
 * (`<data-root>/move/exports/<session>/`), each with its sha256 and size, so the client can
 * announce them to the target before sending a byte; `part` serves one; `discard` removes the
 * session. A dry run computes the same figures and keeps nothing (and accepts a running
 * container: the figures are then a snapshot). The container itself is never changed here:
 * the client stops it first and removes it only once the target has committed.
 *
 * Leftover sessions (a client that went away) are removed at daemon start (`sweep`) and after
 * an hour without use.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandRunner } from '../../common/command-runner.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../../common/errors.js';
import type { ContainerRecord } from '../types.js';
import { PART_ID, SESSION_ID, type ExportedState, type MovePart } from './move-types.js';
import { packDir } from './tar-part.js';

export interface MoveExporterOptions {
  /** `<data-root>/move/exports`. */
  root: string;
  runner: CommandRunner;
  container(ref: string): ContainerRecord;
  upperDir(id: string): string;
  volume(name: string): { mountpoint: string; driver: string; labels: Record<string, string>; options: Record<string, string> };
}

const IDLE_MS = 60 * 60 * 1000;

export class MoveExporter {
  readonly #o: MoveExporterOptions;

  constructor(options: MoveExporterOptions) {
    this.#o = options;
  }

  /** Removes every session (called at daemon start: no client can still be reading one). */
  async sweep(): Promise<void> {
    await rm(this.#o.root, { recursive: true, force: true });
    await mkdir(this.#o.root, { recursive: true, mode: 0o700 });
  }

  /** Exports `ref`'s state; `volumes` adds the named volumes' data (anonymous volumes always travel). */
  async export(ref: string, options: { volumes?: boolean; dryRun?: boolean; signal?: AbortSignal } = {}): Promise<ExportedState> {
    const rec = this.#o.container(ref);
    if (!options.dryRun && ['running', 'paused', 'restarting'].includes(rec.state.status)) {
      throw new ConflictError(`container ${rec.name} is ${rec.state.status}: stop it before exporting its state`);
    }
    await this.#expire();
    const session = options.dryRun ? undefined : randomBytes(16).toString('hex');
    const dir = session ? join(this.#o.root, session) : undefined;
    if (dir) await mkdir(dir, { recursive: true, mode: 0o700 });
    const warnings: string[] = [];
    const parts: MovePart[] = [];
    try {
      const rw = await packDir(this.#o.upperDir(rec.id), dir && join(dir, 'rw.tar'), { runner: this.#o.runner, signal: options.signal });
      parts.push({ id: 'rw', kind: 'rw', ...rw });
      let n = 0;
      for (const m of rec.mounts ?? []) {
        if (m.type === 'bind') {
          warnings.push(`bind mount ${m.source} -> ${m.destination} is not copied: the target must have ${m.source} itself`);
          continue;
        }
        if (m.type !== 'volume' || !m.name) continue;
        if (!m.anonymous && !options.volumes) {
          warnings.push(`named volume ${m.name} (${m.destination}) is not copied (no --with-volumes): the target uses its own volume of that name`);
          continue;
        }
        const v = this.#o.volume(m.name);
        if (v.options['device'] || (v.options['type'] && v.options['type'] !== 'none')) {
          warnings.push(`volume ${m.name} is backed by ${v.options['type'] ?? ''} ${v.options['device'] ?? ''}: only its options are carried, not its data`.replace(/\s+/g, ' '));
        }
        const id = `vol-${n++}`;
        const root = await lstat(v.mountpoint);
        const packed = v.options['device'] ? await packDir(undefined, dir && join(dir, `${id}.tar`)) : await packDir(v.mountpoint, dir && join(dir, `${id}.tar`), { signal: options.signal });
        parts.push({
          id,
          kind: 'volume',
          ...packed,
          volume: { name: m.name, destination: m.destination, anonymous: !!m.anonymous, driver: v.driver, labels: v.labels, options: v.options, mode: root.mode & 0o7777, uid: root.uid, gid: root.gid },
        });
      }
    } catch (e) {
      if (dir) await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return { ...(session ? { session } : {}), containerId: rec.id, name: rec.name, imageId: rec.imageId, parts, warnings };
  }

  /** The tar of one part of a session. */
  async part(session: string, part: string): Promise<{ stream: Readable; size: number }> {
    if (!SESSION_ID.test(session)) throw new InvalidParameterError(`invalid move session ${JSON.stringify(session)}`);
    if (!PART_ID.test(part)) throw new InvalidParameterError(`invalid move part ${JSON.stringify(part)}`);
    const file = join(this.#o.root, session, `${part}.tar`);
    const st = await stat(file).catch(() => undefined);
    if (!st) throw new NotFoundError(`no such move export: ${session}/${part}`);
    const now = new Date();
    await utimes(join(this.#o.root, session), now, now).catch(() => undefined);
    return { stream: createReadStream(file), size: st.size };
  }

  /** Removes a session (the move finished or was given up). */
  async discard(session: string): Promise<void> {
    if (!SESSION_ID.test(session)) throw new InvalidParameterError(`invalid move session ${JSON.stringify(session)}`);
    const dir = join(this.#o.root, session);
    if (!(await stat(dir).catch(() => undefined))) throw new NotFoundError(`no such move export: ${session}`);
    await rm(dir, { recursive: true, force: true });
  }

  // Sessions nobody read for an hour: their client is gone.
  async #expire(): Promise<void> {
    for (const name of await readdir(this.#o.root).catch(() => [] as string[])) {
      const st = await stat(join(this.#o.root, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > IDLE_MS) await rm(join(this.#o.root, name), { recursive: true, force: true });
    }
  }
}

