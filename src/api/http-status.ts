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
