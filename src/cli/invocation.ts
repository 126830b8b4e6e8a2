import type { Readable, Writable } from 'node:stream';
import type { ApiClient } from '../client/client.js';

/**
 * One invocation of the CLI: what a command runs with (the streams, the environment and a
 * lazily created API client). Tests build one around in-memory streams and a fake daemon's
 * socket. (Named so that "context" means a Docker context only, as in `berth context`; a
 * build's files are the "build context".)
 */
export interface Invocation {
  /** Program name used in messages (`berth`). */
  readonly prog: string;
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  /**
   * Writes text to standard output: straight to fd 1 when that is the process's own stdout
   * (no stream is made; once `stdout` was used, through it, so that output stays in order).
   */
  writeOut?(text: string): void;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  /** The daemon address in use (after -H / BERTH_HOST / DOCKER_HOST resolution). */
  readonly host: string;
  /** Global `-D/--debug`. */
  readonly debug: boolean;
  /** The context in use (`--context`, BERTH_CONTEXT/DOCKER_CONTEXT, config.json; `default` when absent). */
  readonly contextName?: string;
  /** docker's config directory (`--config`, DOCKER_CONFIG, ~/.docker), home of the context store. */
  readonly configDir?: string;
  /** The API client; created on first use so commands that need no daemon load no HTTP code. */
  client(): Promise<ApiClient>;
  /** Milliseconds since the epoch (a seam for tests of "5 seconds ago"). */
  now(): number;
  /** Registers a handler for SIGINT/SIGTERM while a container is attached; returns an unsubscribe. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}
