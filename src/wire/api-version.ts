/**
 * The Docker Engine API version berth speaks: the newest version berthd serves (and reports in
 * `/version` and the `Api-Version` header) and the version the berth client puts in its URLs.
 * One value for both sides: the client uses nothing whose meaning changed between 1.45 and
 * 1.47, and berthd answers 1.45 and 1.47 alike (its version gates are all below 1.45), so the
 * client follows the daemon here. `BERTH_API_VERSION` / `DOCKER_API_VERSION` pin an older one
 * for a Docker engine that predates it (dockerd < 27.3), as with the docker CLI.
 */
export const API_VERSION = '1.47';

/** The oldest client version berthd accepts (Docker's own minimum). */
export const MIN_API_VERSION = '1.24';
