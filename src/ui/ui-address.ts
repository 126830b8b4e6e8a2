/** Parsing and checking the dashboard's listen address (`berthd --ui`, daemon.json "ui"). */
import { isIP } from 'node:net';
import { InvalidParameterError } from '../common/errors.js';

export interface UiAddress {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT` (`127.0.0.1:7681`, `[::1]:7681`, `localhost:7681`; port 0 picks a free
 * one). Without TLS the host must be a loopback address: the token is the only lock, and it
 * travels in clear text. With mutual TLS the listener demands the API's client certificates.
 */
export function parseUiAddress(text: string, options: { tls: boolean }): UiAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.replace(/^https?:\/\//, ''));
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || port > 65535) throw new InvalidParameterError(`invalid --ui address "${text}": expected HOST:PORT, e.g. 127.0.0.1:7681`);
  if (host !== 'localhost' && !isIP(host)) throw new InvalidParameterError(`invalid --ui address "${text}": the host must be an IP address or localhost`);
  if (!options.tls && !isLoopbackHost(host)) {
    throw new InvalidParameterError(`refusing to serve the desktop UI on ${text} without TLS: use a loopback address (127.0.0.1, ::1) or configure --tlsverify`);
  }
  return { host, port };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
