/**
 * Docker's `X-Docker-Container-Path-Stat` header (HEAD/GET /containers/{id}/archive): a
 * base64 JSON object with Go's os.FileMode bits. Made by the daemon (volume/, api/) and read by
 * `berth cp` (cli/), which may not import each other, hence here.
 */

/** The path stat as Docker's API sends it. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits (what the docker CLI decodes). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

// Go's os.FileMode type bits (above the permission bits; beyond 2^31, so no bitwise ops).
export const GO_DIR = 2 ** 31;
export const GO_SYMLINK = 2 ** 27;
export const GO_DEVICE = 2 ** 26;
export const GO_PIPE = 2 ** 25;
export const GO_SOCKET = 2 ** 24;
export const GO_SETUID = 2 ** 23;
export const GO_SETGID = 2 ** 22;
export const GO_CHARDEV = 2 ** 21;
export const GO_STICKY = 2 ** 20;

/** The header value for a stat. */
export function encodePathStat(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

/** A header value back to the stat. */
export function decodePathStat(header: string): PathStat {
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
}
