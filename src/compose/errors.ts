/**
 * The compose library's failures. Each carries the exit code `berth compose` ends with, as
 * Docker Compose v2 does (1 for most; 14 when there is no project to act on: no compose file
 * found, or an invalid project name), so the CLI maps an error to its code by class, never by
 * name or message.
 */
export abstract class ComposeFailure extends Error {
  abstract readonly code: string;
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Docker Compose's exit code when there is no project to act on. */
export const EXIT_NO_PROJECT = 14;
