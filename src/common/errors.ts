/**
 * Error categories, in the spirit of containerd/moby errdefs. Every error berth raises
 * extends one category; `api/http-status.ts` maps categories to HTTP status codes, and
 * helpers such as `isNotFound` walk the `cause` chain so callers test categories, never
 * message strings.
 */
export class BerthError extends Error {
  /** Stable machine-readable code. */
  readonly code: string = 'BERTH_ERR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidParameterError extends BerthError {
  override readonly code: string = 'BERTH_ERR_INVALID_PARAMETER';
}
export class UnauthorizedError extends BerthError {
  override readonly code: string = 'BERTH_ERR_UNAUTHORIZED';
}
export class ForbiddenError extends BerthError {
  override readonly code: string = 'BERTH_ERR_FORBIDDEN';
}
export class NotFoundError extends BerthError {
  override readonly code: string = 'BERTH_ERR_NOT_FOUND';
}
export class ConflictError extends BerthError {
  override readonly code: string = 'BERTH_ERR_CONFLICT';
}
export class NotModifiedError extends BerthError {
  override readonly code: string = 'BERTH_ERR_NOT_MODIFIED';
}
export class NotImplementedError extends BerthError {
  override readonly code: string = 'BERTH_ERR_NOT_IMPLEMENTED';
}
export class UnavailableError extends BerthError {
  override readonly code: string = 'BERTH_ERR_UNAVAILABLE';
}
export class SystemError extends BerthError {
  override readonly code: string = 'BERTH_ERR_SYSTEM';
}

// The catalogue of specific errors (libpod define/errors.go style). Messages follow Docker's
// wording where Docker has one, because clients match on them.

export class NoSuchContainerError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_CONTAINER';
  constructor(ref: string) {
    super(`No such container: ${ref}`);
  }
}
export class NoSuchImageError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_IMAGE';
  constructor(ref: string) {
    super(`No such image: ${ref}`);
  }
}
export class NoSuchExecError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_EXEC';
  constructor(ref: string) {
    super(`No such exec instance: ${ref}`);
  }
}
export class NameConflictError extends ConflictError {
  override readonly code = 'BERTH_ERR_NAME_CONFLICT';
  constructor(name: string, id: string) {
    super(
      `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }
}
export class ContainerRunningError extends ConflictError {
  override readonly code = 'BERTH_ERR_CONTAINER_RUNNING';
}
export class ContainerNotRunningError extends ConflictError {
  override readonly code = 'BERTH_ERR_CONTAINER_NOT_RUNNING';
}
export class ImageInUseError extends ConflictError {
  override readonly code = 'BERTH_ERR_IMAGE_IN_USE';
}
export class AmbiguousReferenceError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_AMBIGUOUS';
}
export class InvalidTarError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_INVALID_TAR';
}
export class DigestMismatchError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_DIGEST_MISMATCH';
}
export class RuntimeError extends SystemError {
  override readonly code = 'BERTH_ERR_RUNTIME';
}

type Category = abstract new (...args: never[]) => BerthError;

/** True when `err`, or any error in its `cause` chain, is an instance of `category`. */
export function isCategory(err: unknown, category: Category): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 16; depth++) {
    if (e instanceof category) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export const isNotFound = (err: unknown): boolean => isCategory(err, NotFoundError);
export const isConflict = (err: unknown): boolean => isCategory(err, ConflictError);
export const isInvalidParameter = (err: unknown): boolean => isCategory(err, InvalidParameterError);
export const isNotModified = (err: unknown): boolean => isCategory(err, NotModifiedError);
