/**
 * Build history (issue 19): what each build that went through `POST /build` did — when it
 * started, how long it took, how it ended, its tags, and every step with its instruction, its
 * time and whether the step cache served it. The dashboard reads it through the berth
 * extension `GET /berth/builds` (Docker keeps no such record for the legacy builder; BuildKit
 * keeps its own in buildx history).
 *
 * Steps are read from the builder's own output (the `out` callback the API route already
 * passes), so the builder needs no hook: a `Step N/M : INSTRUCTION` message starts a step, a
 * ` ---> Using cache` message marks it as served by the cache, and the next step or the end of
 * the build ends it. Times are when the output reached the route: exact for a single stage;
 * the builder holds back the output of stages that run in parallel until the stages before
 * them are done, so such a stage's steps then show the time their output waited, not their own.
 *
 * Bounded (the newest `limit` builds, 100 by default) and kept as one JSON file under the
 * builder's root, written atomically after each build; a lost or corrupt file only loses the
 * history, never a build.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/fs-util.js';

export interface BuildStepRecord {
  /** The step's number as the build printed it (`Step 3/5`: 3). */
  Number: number;
  /** The instruction as written in the Dockerfile. */
  Instruction: string;
  /** RFC 3339 start time. */
  Started: string;
  /** Milliseconds from this step's start to the next step (or the end of the build). */
  DurationMs: number;
  /** The step cache served this step (`Using cache`). */
  Cached: boolean;
}

export interface BuildRecord {
  ID: string;
  Started: string;
  /** Set when the build ended. */
  Finished?: string;
  DurationMs?: number;
  /** `running` while the build runs, then `ok` or `error`. */
  Result: 'running' | 'ok' | 'error';
  /** The error the client was sent, for a failed build. */
  Error?: string;
  Tags: string[];
  Dockerfile: string;
  /** The built image, for a build that succeeded. */
  ImageID?: string;
  /** Steps in the total the build announced (`Step 1/5`: 5). */
  TotalSteps: number;
  Steps: BuildStepRecord[];
}

/** One build being recorded: feed it the builder's output, then end it. */
export interface BuildRecorder {
  readonly id: string;
  /** A piece of the builder's output, as the route's `out` callback receives it. */
  output(text: string): void;
  ok(imageId: string): Promise<void>;
  failed(message: string): Promise<void>;
}

// The instruction may span lines (heredocs).
const STEP = /^Step (\d+)\/(\d+) : ([\s\S]*?)\n?$/;
/** Longer instructions are cut (a heredoc can carry a whole script): the file stays small. */
const MAX_INSTRUCTION = 2000;
const DEFAULT_LIMIT = 100;

export class BuildHistory {
  readonly #file: string;
  readonly #limit: number;
  readonly #now: () => number;
  readonly #onSaveError: (err: unknown) => void;
  /** Oldest first. */
  #records: BuildRecord[] = [];
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string, options: { limit?: number; now?: () => number; onSaveError?: (err: unknown) => void } = {}) {
    this.#file = file;
    this.#onSaveError = options.onSaveError ?? (() => undefined);
    this.#limit = Math.max(1, options.limit ?? DEFAULT_LIMIT);
    this.#now = options.now ?? Date.now;
  }

  /** Reads the saved history; builds that were running when the daemon stopped are marked failed. */
  async load(): Promise<void> {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(this.#file, 'utf8'));
    } catch {
      return; // absent or unreadable: start empty
    }
    if (!Array.isArray(data)) return;
    this.#records = (data as BuildRecord[])
      .filter((r) => r && typeof r.ID === 'string' && typeof r.Started === 'string' && Array.isArray(r.Steps))
      .slice(-this.#limit)
      .map((r) => (r.Result === 'running' ? { ...r, Result: 'error', Error: 'the daemon stopped during the build' } : r));
  }

  /** Newest first. */
  list(): BuildRecord[] {
    return this.#records.slice().reverse();
  }

  get(id: string): BuildRecord | undefined {
    return this.#records.find((r) => r.ID === id);
  }

  /** Starts recording a build. */
  start(o: { tags: string[]; dockerfile: string }): BuildRecorder {
    const started = this.#now();
    const rec: BuildRecord = {
      ID: randomBytes(12).toString('hex'), Started: new Date(started).toISOString(), Result: 'running', Tags: o.tags, Dockerfile: o.dockerfile, TotalSteps: 0, Steps: [],
    };
    this.#records.push(rec);
    this.#trim();
    let stepStart = started;
    const closeStep = (at: number) => {
      const last = rec.Steps[rec.Steps.length - 1];
      if (last) last.DurationMs = Math.max(0, at - stepStart);
    };
    const end = async (patch: Partial<BuildRecord>) => {
      if (rec.Result !== 'running') return;
      const at = this.#now();
      closeStep(at);
      Object.assign(rec, patch, { Finished: new Date(at).toISOString(), DurationMs: Math.max(0, at - started) });
      await this.#save();
    };
    return {
      id: rec.ID,
      output: (text) => {
        if (rec.Result !== 'running') return;
        const m = STEP.exec(text);
        const last = rec.Steps[rec.Steps.length - 1];
        // The builder prints steps in order (parallel stages' output is held back in order), so
        // a `Step N/M` that does not follow is a RUN step's own output, not a step.
        if (m && Number(m[1]) > (last?.Number ?? 0) && Number(m[1]) <= Number(m[2]) && (!rec.TotalSteps || Number(m[2]) === rec.TotalSteps)) {
          const at = this.#now();
          closeStep(at);
          stepStart = at;
          rec.TotalSteps = Number(m[2]);
          const ins = m[3]!.length > MAX_INSTRUCTION ? `${m[3]!.slice(0, MAX_INSTRUCTION)}…` : m[3]!;
          rec.Steps.push({ Number: Number(m[1]), Instruction: ins, Started: new Date(at).toISOString(), DurationMs: 0, Cached: false });
        } else if (text.startsWith(' ---> Using cache')) {
          if (last) last.Cached = true;
        }
      },
      ok: (imageId) => end({ Result: 'ok', ImageID: imageId }),
      failed: (message) => end({ Result: 'error', Error: message }),
    };
  }

  #trim(): void {
    if (this.#records.length > this.#limit) this.#records.splice(0, this.#records.length - this.#limit);
  }

  /** Writes are chained: the file always ends with the newest state. */
  #save(): Promise<void> {
    this.#writing = this.#writing.then(() => writeFileAtomic(this.#file, JSON.stringify(this.#records), 0o600)).catch(this.#onSaveError);
    return this.#writing;
  }
}
