import { ApiError } from '../client/errors.js';
import type { Invocation } from './invocation.js';

/**
 * Applies `fn` to each named object in order, printing the name on success (as docker's
 * stop/kill/rm/… do) and `Error response from daemon: …` on failure; the exit code is 1 when
 * any failed. A daemon that cannot be reached fails the whole command at once.
 */
export async function forEachTarget(ctx: Invocation, names: string[], fn: (name: string) => Promise<void>, options: { print?: boolean } = {}): Promise<number> {
  let failed = false;
  for (const name of names) {
    try {
      await fn(name);
      if (options.print !== false) ctx.stdout.write(`${name}\n`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      failed = true;
      ctx.stderr.write(`Error response from daemon: ${err.message}\n`);
    }
  }
  return failed ? 1 : 0;
}
