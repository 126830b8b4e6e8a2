/** The berth API client: talks to berthd (or dockerd) over the Docker Engine API. */
export { ApiClient, API_VERSION, encodeFilters, pathPart } from './client.js';
export type { HijackedStream, Query, RequestOptions } from './client.js';
export { ApiError, DaemonUnreachableError, isApiStatus } from './errors.js';
export { DEFAULT_HOST, InvalidHostError, parseHost, resolveHost } from './transport.js';
export type { Transport, TransportOptions } from './transport.js';
export { copyRaw, demultiplex, encodeFrame, StreamError } from './stdcopy.js';
export { readJsonMessages } from './json-messages.js';
export type * from '../wire/api-types.js';
