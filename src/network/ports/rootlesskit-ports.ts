/**
 * Host ports of a rootless daemon (issue 21). berthd runs in rootlesskit's network namespace, so
 * its DNAT rules (ruleset.ts) only see traffic inside that namespace; the host's port is opened
 * by rootlesskit's builtin port driver, asked over its REST API (`<state-dir>/api.sock`,
 * `POST /v1/ports`, `DELETE /v1/ports/{id}`), as Docker's rootlesskit-docker-proxy does. The
 * driver accepts on the host and dials `childIP:childPort` inside the namespace, where the
 * ports table's `output` chain sends it on to the container.
 *
 * The port publisher calls `expose` after its rules are in place and `unexpose` when a
 * container's ports go; this module keeps the ids rootlesskit gave.
 * Hand-written over node:http: the API is three calls on a UNIX socket.
 */
import http from 'node:http';
import type { Logger } from '../../common/logger.js';
import { ConflictError, InvalidParameterError } from '../../common/errors.js';
import type { PortMapping } from './ruleset.js';

/** Opens and closes host ports for published container ports (absent: the kernel rules are enough). */
export interface HostPortExposer {
  /** Called once per container start with its mappings; on failure nothing of this call stays open. */
  expose(containerId: string, mappings: PortMapping[]): Promise<void>;
  /** Closes what `expose` opened for the container; a no-op for one that has none. */
  unexpose(containerId: string): Promise<void>;
}

interface PortSpec {
  proto: string;
  parentIP: string;
  parentPort: number;
  childIP: string;
  childPort: number;
}

export class RootlesskitPorts implements HostPortExposer {
  readonly #socket: string;
  readonly #log: Logger;
  readonly #ids = new Map<string, number[]>();

  constructor(options: { apiSocket: string; log: Logger }) {
    this.#socket = options.apiSocket;
    this.#log = options.log;
  }

  async expose(containerId: string, mappings: PortMapping[]): Promise<void> {
    const ids: number[] = [];
    try {
      for (const m of mappings) {
        if (m.proto === 'sctp') throw new InvalidParameterError('rootless berthd cannot publish sctp ports (rootlesskit\'s builtin port driver has tcp and udp)');
        const wildcard = m.hostIp === '' || m.hostIp === '0.0.0.0';
        const loopback = m.hostIp.startsWith('127.') || m.hostIp === '::1';
        if (!wildcard && !loopback) {
          throw new InvalidParameterError(`rootless berthd publishes ports on 0.0.0.0 or a loopback address only, not ${m.hostIp}`);
        }
        const spec: PortSpec = {
          proto: m.proto,
          parentIP: wildcard ? '0.0.0.0' : m.hostIp,
          parentPort: m.hostPort,
          // The kernel rule for a wildcard binding matches any local address; an explicit one
          // matches its own address, which exists in the namespace for loopback addresses.
          childIP: wildcard ? '127.0.0.1' : m.hostIp,
          childPort: m.hostPort,
        };
        const res = await this.#call('POST', '/v1/ports', spec);
        if (res.status !== 200 && res.status !== 201) {
          const text = res.body.toString('utf8').trim();
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            /* plain text */
          }
          throw new ConflictError(`failed to expose ${spec.parentIP}:${spec.parentPort}/${m.proto} on the host through rootlesskit: ${message}`);
        }
        ids.push((JSON.parse(res.body.toString('utf8')) as { id: number }).id);
      }
      this.#ids.set(containerId, [...(this.#ids.get(containerId) ?? []), ...ids]);
    } catch (err) {
      for (const id of ids) await this.#remove(id);
      throw err;
    }
  }

  async unexpose(containerId: string): Promise<void> {
    const ids = this.#ids.get(containerId) ?? [];
    this.#ids.delete(containerId);
    for (const id of ids) await this.#remove(id);
  }

  async #remove(id: number): Promise<void> {
    const res = await this.#call('DELETE', `/v1/ports/${id}`).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message) }));
    if (res.status >= 300 || res.status === 0) this.#log.warn({ id, status: res.status, body: res.body.toString('utf8') }, 'rootlesskit did not remove a port');
  }

  #call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({ socketPath: this.#socket, method, path, headers: { host: 'rootlesskit', ...(payload ? { 'content-type': 'application/json' } : {}) }, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('rootlesskit API timed out')));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
