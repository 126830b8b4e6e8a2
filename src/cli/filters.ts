import { StatusError } from './errors.js';

/** Parses repeated `--filter name=value` flags (docker's opts.FilterOpt). */
export function parseFilters(list: string[] | undefined): Array<[string, string]> {
  return (list ?? []).map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new StatusError(125, `invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    return [f.slice(0, eq).trim().toLowerCase(), f.slice(eq + 1).trim()];
  });
}
