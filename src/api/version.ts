import { InvalidParameterError } from '../common/errors.js';

import { API_VERSION, MIN_API_VERSION } from '../wire/api-version.js';

export { API_VERSION, MIN_API_VERSION };

/** Compares dotted API versions numerically ('1.9' < '1.24'). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Splits `/v1.45/containers/json` into the version and the path. Versions outside
 * [MIN_API_VERSION, API_VERSION] are refused with Docker's messages.
 */
export function splitVersion(path: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(path);
  if (!m) return { version: API_VERSION, path };
  const version = m[1]!;
  if (compareVersions(version, API_VERSION) > 0) {
    throw new InvalidParameterError(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new InvalidParameterError(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return { version, path: m[2] ?? '/' };
}
