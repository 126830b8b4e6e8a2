import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ConflictError, ForbiddenError, InvalidParameterError, NotFoundError, NotImplementedError,
  NotModifiedError, UnauthorizedError, UnavailableError, isCategory,
} from '../common/errors.js';

const TABLE: [abstract new (...args: never[]) => Error, number][] = [
  [NotModifiedError, 304],
  [InvalidParameterError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [NotImplementedError, 501],
  [UnavailableError, 503],
];

/**
 * The single error → HTTP status mapping (moby's httpstatus.FromError). Anything that is not
 * a known category is an internal fault: 500.
 */
export function statusFromError(err: unknown): number {
  for (const [category, status] of TABLE) if (isCategory(err, category as never)) return status;
  return 500;
}

/**
 * The message a client gets for `err`. SQLite reports a full disk as "database or disk is
 * full"; clients get the wording every other full-disk error has, and what was being written.
 */
export function messageFromError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'SQLITE_FULL') return 'write berth.db: no space left on device (the state database could not record the change)';
  // Node's recursive mkdir reports ENOSPC as ENOENT (it retries the parents and keeps the last
  // error): a missing parent that is in fact there, on a full filesystem, was a full disk.
  if (e?.code === 'ENOENT' && e.syscall === 'mkdir' && typeof e.path === 'string' && diskFullAt(e.path)) return `mkdir ${e.path}: no space left on device`;
  return e?.message || 'internal error';
}

function diskFullAt(path: string): boolean {
  try {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if (existsSync(dir)) return statfsSync(dir).bavail === 0;
      if (dir === dirname(dir)) return false;
    }
  } catch {
    return false;
  }
}
