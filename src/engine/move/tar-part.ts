/**
 * A directory as a move part (issue 23): its tar (image/diff-layer.ts: overlay whiteouts become
 * OCI `.wh.` entries, opaque dirs `.wh..wh..opq`), hashed while it is written, so the target can
 * verify every byte it receives against the digest the source computed.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandRunner } from '../../common/command-runner.js';
import tarStream from 'tar-stream';
import type { Readable } from 'node:stream';
import { diffLayer } from '../../archive/diff-layer.js';

/** Writes the tar of `dir` to `file` (or nowhere, for a dry run); returns its digest and size. */
export async function packDir(dir: string | undefined, file: string | undefined, options: { runner?: CommandRunner; signal?: AbortSignal } = {}): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const tar = dir === undefined ? emptyTar() : diffLayer(dir, { ...(options.runner ? { runner: options.runner } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const tmp = file ? `${file}.partial` : undefined;
  const sink = tmp
    ? createWriteStream(tmp, { flags: 'wx', mode: 0o600 })
    : new Writable({
        write(_c, _e, cb) {
          cb();
        },
      });
  try {
    if (options.signal) await pipeline(tar, tap, sink, { signal: options.signal });
    else await pipeline(tar, tap, sink);
    if (tmp && file) await rename(tmp, file);
  } catch (e) {
    if (tmp) await rm(tmp, { force: true });
    throw e;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** An archive with no entries (a volume whose data is not carried). */
function emptyTar(): Readable {
  const pack = tarStream.pack();
  pack.finalize();
  return pack as unknown as Readable;
}
