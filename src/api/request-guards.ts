import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ForbiddenError, InvalidParameterError } from '../common/errors.js';

/**
 * Two guards against a web page in a local browser driving the API (issue 24 item 4):
 *
 * - JSON bodies must say `Content-Type: application/json` (Docker's CheckForJSON rule). A page
 *   can send a cross-origin "simple" POST (text/plain, no preflight) to a loopback TCP
 *   listener; requiring the JSON type forces a CORS preflight, which berthd never answers.
 * - On TCP listeners the Host header must be an IP literal, a loopback name, this machine's
 *   name or a configured one (`api-allowed-hosts`, and the names in the TLS certificate).
 *   DNS rebinding points an attacker's name at 127.0.0.1 after the page loaded: the browser
 *   then sends that name as Host, which is refused here. UNIX sockets are not reachable from a
 *   browser and are not checked.
 */

/** Docker's check: no Content-Type is fine without a body, otherwise it must be application/json. */
export function checkJsonContentType(req: IncomingMessage, hasBody: boolean): void {
  const ct = req.headers['content-type'];
  if (!ct && !hasBody) return;
  const mediaType = (ct ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new InvalidParameterError(`unsupported Content-Type header (${ct ?? ''}): must be 'application/json'`);
  }
}

/** The host part of a Host header (`name:port`, `[v6]:port`), lower-cased; undefined when absent or malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(h);
  if (v6) return v6[1];
  const m = /^([a-z0-9._-]+)(?::\d+)?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : undefined;
}

/**
 * A Host check for a TCP listener. `names` are the extra names allowed (machine name,
 * configured names, certificate names); IP literals and loopback names always pass, since a
 * rebinding attack needs a DNS name of the attacker's.
 */
export function makeHostCheck(names: Iterable<string>): (req: IncomingMessage) => void {
  const allowed = new Set([...names].map((n) => n.toLowerCase().replace(/\.$/, '')));
  return (req) => {
    const header = req.headers.host;
    const name = hostName(header);
    if (name !== undefined && (isIP(name) || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name))) return;
    throw new ForbiddenError(
      `Host header ${JSON.stringify(header ?? '')} is not allowed on this TCP listener: use an IP address, localhost or a name listed in api-allowed-hosts (DNS rebinding protection)`,
    );
  };
}

/** The DNS names in a certificate's subjectAltName ("DNS:a, IP Address:1.2.3.4" → ["a"]). */
export function certificateNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}
