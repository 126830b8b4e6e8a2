/** Errors the API client raises; callers test `instanceof`/`statusCode`, never messages. */

/** The daemon answered with an error status; `message` is the daemon's `{"message"}`. */
export class ApiError extends Error {
  readonly code = 'BERTH_ERR_API';
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
  }
  /** Docker's client-side wording: `Error response from daemon: <message>`. */
  override toString(): string {
    return `Error response from daemon: ${this.message}`;
  }
}

/** The daemon could not be reached at all (no socket, refused, no permission). */
export class DaemonUnreachableError extends Error {
  readonly code = 'BERTH_ERR_DAEMON_UNREACHABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonUnreachableError';
  }
  override toString(): string {
    return this.message;
  }
}

/** Whether `err` is an API error with this HTTP status. */
export function isApiStatus(err: unknown, status: number): err is ApiError {
  return err instanceof ApiError && err.statusCode === status;
}

/** The error of a failed API answer: the JSON `message`, else the body as it came. */
export function errorFromBody(status: number, buf: Buffer): ApiError {
  const text = buf.toString('utf8').trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not JSON (a proxy, or a daemon bug): show the body as it came.
  }
  if (!message) message = `${status} ${status === 404 ? 'page not found' : 'error'}`;
  return new ApiError(status, message);
}
