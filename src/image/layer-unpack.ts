/**
 * The one-pass unpack of a pulled layer (LayerStore.prepare), and the worker threads it runs in.
 *
 * `unpackChecked` reads a layer (plain or gzip) once: it gunzips it, hashes the uncompressed
 * stream (diffID), checks every entry header against the hostile-tar rules (archive/checked-tar.ts) and
 * only then writes the entry (layer-extract.ts).
 *
 * Per byte that is most of a pull's CPU (inflate, sha256, the tar parse, the file writes), and
 * on the daemon's main thread it competed with the download of the other layers and with every
 * API request. `unpackInWorker` runs it in a worker thread instead (unpack-worker.ts): the main
 * thread only receives the download, hashes and stores the compressed blob, and hands the bytes
 * on in batches (copied into buffers of their own, whose memory is transferred, not cloned),
 * with a bounded window so a slow unpack slows the download down instead of queueing it in
 * memory. The worker gets bytes and a destination directory and answers with the diffID and
 * what the scan found; the rules are the same code as in-process. Idle workers are kept a
 * while for the next layer (they never keep the process alive).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { DigestMismatchError, InvalidTarError } from '../common/errors.js';
import type { Digest } from '../oci/digest.js';
import { TarReader } from '../archive/tar-reader.js';
import { LayerExtractor } from './layer-extract.js';
import { decompress, ScanState, type LayerTarScan } from '../archive/checked-tar.js';

/** What an unpack found: the diffID and what the whiteout conversion and the layer record need. */
export interface UnpackResult {
  diffId: Digest;
  /** Content bytes (ScanState.size). */
  size: number;
  entries: number;
  plan: Pick<LayerTarScan, 'whiteouts' | 'dropped' | 'opaqueDirs'>;
}

/**
 * Reads a layer once: gunzips it, hashes the uncompressed stream (diffID), checks every header
 * (`ScanState`, archive/checked-tar.ts) and only then writes the entry into `dest` (layer-extract.ts), all
 * in the same synchronous step per chunk, so nothing of a refused entry is ever written. Bytes
 * after the end-of-archive marker are hashed and ignored.
 */
export async function unpackChecked(input: Readable | AsyncIterable<Uint8Array>, dest: string, signal?: AbortSignal): Promise<{ diffId: Digest; state: ScanState }> {
  const hash = createHash('sha256');
  const state = new ScanState();
  const extractor = new LayerExtractor(dest);
  const reader = new TarReader((h) => {
    state.check(h);
    return extractor.entry(h);
  });
  try {
    for await (const chunk of decompress(input, () => {})) {
      signal?.throwIfAborted();
      hash.update(chunk);
      if (!reader.ended) reader.push(chunk);
    }
    reader.end();
    extractor.finish();
  } catch (e) {
    if (e instanceof InvalidTarError || (e as Error).name === 'AbortError' || e instanceof DigestMismatchError) throw e;
    throw new InvalidTarError(`invalid tar archive: ${(e as Error).message}`, { cause: e });
  } finally {
    extractor.close();
  }
  if (state.entries === 0) throw new InvalidTarError('invalid tar archive: no entries (empty or not a tar file)');
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, state };
}

// ---- the worker side of the protocol --------------------------------------------------------

/** Main thread → worker. */
export type ToWorker =
  | { op: 'start'; dest: string }
  | { op: 'data'; chunk: Uint8Array }
  | { op: 'end' }
  | { op: 'abort' };

/** Worker → main thread. */
export type FromWorker =
  | { op: 'ack'; bytes: number }
  | { op: 'done'; result: UnpackResult }
  | { op: 'error'; name: string; message: string; code?: string };

/** One layer at a time; `post` sends to the main thread. Returns the message handler. */
export function workerSide(post: (m: FromWorker) => void): (m: ToWorker) => void {
  interface Job {
    queue: Buffer[];
    ended: boolean;
    wake?: (() => void) | undefined;
    abort: AbortController;
  }
  let job: Job | undefined;
  // Each job reads only its own queue: a generator left suspended by an earlier, refused
  // layer can never take bytes meant for the next one.
  async function* input(j: Job): AsyncGenerator<Buffer> {
    for (;;) {
      j.abort.signal.throwIfAborted();
      const c = j.queue.shift();
      if (c) {
        if (j === job) post({ op: 'ack', bytes: c.length });
        yield c;
        continue;
      }
      if (j.ended) return;
      await new Promise<void>((r) => (j.wake = r));
      j.wake = undefined;
    }
  }
  return (m) => {
    switch (m.op) {
      case 'start': {
        const j: Job = { queue: [], ended: false, abort: new AbortController() };
        job = j;
        unpackChecked(input(j), m.dest, j.abort.signal).then(
          ({ diffId, state }) => post({ op: 'done', result: { diffId, size: state.size, entries: state.entries, plan: state.whiteoutPlan() } }),
          (e: unknown) => {
            const err = e as NodeJS.ErrnoException | undefined;
            post({ op: 'error', name: err?.name ?? 'Error', message: err?.message ?? String(e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) });
          },
        );
        break;
      }
      case 'data':
        if (!job) break;
        job.queue.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
        job.wake?.();
        break;
      case 'end':
        if (!job) break;
        job.ended = true;
        job.wake?.();
        break;
      case 'abort':
        if (!job) break;
        job.abort.abort();
        job.queue = [];
        job.wake?.();
        break;
    }
  };
}

// ---- the main-thread side -------------------------------------------------------------------

/** Bytes handed to a worker in one message. */
const BATCH = 512 << 10;
/** Bytes sent and not yet taken by the worker before the sender waits. */
const WINDOW = 4 << 20;
/** Idle workers kept, and for how long. */
const MAX_IDLE = 3;
const IDLE_MS = 120_000;
const WORKER_URL = new URL('./unpack-worker.js', import.meta.url);

interface PooledWorker {
  worker: Worker;
  listener?: ((m: FromWorker) => void) | undefined;
  onExit?: ((e: Error) => void) | undefined;
  timer?: NodeJS.Timeout | undefined;
}

const idle: PooledWorker[] = [];

function newWorker(): PooledWorker {
  const pw: PooledWorker = { worker: new Worker(WORKER_URL) };
  pw.worker.on('message', (m: FromWorker) => pw.listener?.(m));
  const gone = (e: Error): void => {
    const i = idle.indexOf(pw);
    if (i >= 0) idle.splice(i, 1);
    if (pw.timer) clearTimeout(pw.timer);
    pw.onExit?.(e);
  };
  pw.worker.on('error', gone);
  pw.worker.on('exit', (code) => gone(new Error(`layer unpack worker exited (${code})`)));
  return pw;
}

function acquire(): PooledWorker {
  const pw = idle.pop() ?? newWorker();
  if (pw.timer) clearTimeout(pw.timer);
  pw.timer = undefined;
  pw.worker.ref();
  return pw;
}

function release(pw: PooledWorker): void {
  pw.listener = undefined;
  pw.onExit = undefined;
  if (idle.length >= MAX_IDLE) {
    void pw.worker.terminate();
    return;
  }
  pw.worker.unref();
  pw.timer = setTimeout(() => {
    const i = idle.indexOf(pw);
    if (i >= 0) idle.splice(i, 1);
    void pw.worker.terminate();
  }, IDLE_MS);
  pw.timer.unref();
  idle.push(pw);
}

function rebuildError(m: { name: string; message: string; code?: string }): Error {
  if (m.name === 'InvalidTarError') return new InvalidTarError(m.message);
  if (m.name === 'DigestMismatchError') return new DigestMismatchError(m.message);
  const e = new Error(m.message) as NodeJS.ErrnoException;
  e.name = m.name;
  if (m.code) e.code = m.code;
  return e;
}

/**
 * `unpackChecked` in a worker thread. Reads `input` until the worker has its answer (it stops
 * reading early when the archive is refused), and returns only once the worker is done with `dest`,
 * so the caller may remove `dest` at once.
 */
export async function unpackInWorker(input: Readable | AsyncIterable<Uint8Array>, dest: string, signal?: AbortSignal): Promise<UnpackResult> {
  signal?.throwIfAborted();
  const pw = acquire();
  let inflight = 0;
  let wakeSender: (() => void) | undefined;
  let finished = false;
  let healthy = true;
  const answer = new Promise<UnpackResult>((resolve, reject) => {
    pw.listener = (m) => {
      if (m.op === 'ack') {
        inflight -= m.bytes;
        if (inflight <= WINDOW) wakeSender?.();
        return;
      }
      finished = true;
      wakeSender?.();
      if (m.op === 'done') resolve(m.result);
      else reject(rebuildError(m));
    };
    pw.onExit = (e) => {
      healthy = false;
      finished = true;
      wakeSender?.();
      reject(e);
    };
  });
  answer.catch(() => undefined);
  const post = (m: ToWorker, transfer?: ArrayBuffer[]): void => pw.worker.postMessage(m, transfer);
  const onAbort = (): void => post({ op: 'abort' });
  signal?.addEventListener('abort', onAbort, { once: true });
  post({ op: 'start', dest });
  let batch: Buffer | undefined;
  let used = 0;
  const send = (): void => {
    if (!batch || used === 0) return;
    inflight += used;
    post({ op: 'data', chunk: new Uint8Array(batch.buffer, batch.byteOffset, used) }, [batch.buffer as ArrayBuffer]);
    batch = undefined;
    used = 0;
  };
  const it = (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  try {
    try {
      while (!finished) {
        const r = await it.next();
        if (r.done || finished) break;
        let chunk: Uint8Array = r.value;
        while (chunk.length) {
          // allocUnsafeSlow: memory of its own (not a slice of the shared pool), so it can be transferred.
          batch ??= Buffer.allocUnsafeSlow(BATCH);
          const n = Math.min(chunk.length, batch.length - used);
          batch.set(n === chunk.length ? chunk : chunk.subarray(0, n), used);
          used += n;
          chunk = chunk.subarray(n);
          if (used === batch.length) send();
        }
        while (inflight > WINDOW && !finished) await new Promise<void>((r) => (wakeSender = r));
        wakeSender = undefined;
      }
      if (!finished) {
        send();
        post({ op: 'end' });
      } else await it.return?.();
    } catch (e) {
      // The input failed (a broken download, an abort): the worker's tar must end before we throw.
      if (!finished) post({ op: 'abort' });
      await answer.catch(() => undefined);
      throw e;
    }
    return await answer.catch((e: unknown) => {
      if (signal?.aborted) throw signal.reason;
      throw e;
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (healthy) release(pw);
  }
}
