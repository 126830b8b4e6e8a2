/**
 * Registry credentials on the wire: Docker's AuthConfig and the `X-Registry-Auth` header that
 * carries it (base64url JSON), shared by the client that sends it and the daemon that reads it.
 */

/** Credentials for one registry, in the field names of Docker's AuthConfig. */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** `X-Registry-Auth`: base64url of the AuthConfig JSON, as the docker CLI sends it. */
export function encodeRegistryAuth(auth: AuthConfig): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}

/** Decodes `X-Registry-Auth` (base64 or base64url JSON); an empty or `{}` header is anonymous. */
export function decodeRegistryAuth(header: string | undefined): AuthConfig | undefined {
  if (!header) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw Object.assign(new Error('invalid X-Registry-Auth header: not base64-encoded JSON'), { invalidParameter: true });
  }
  if (!v || typeof v !== 'object') return undefined;
  const a = v as AuthConfig;
  if (!a.username && !a.password && !a.identitytoken && !a.registrytoken && !a.auth) return undefined;
  if (a.auth && !a.username) {
    const d = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = d.indexOf(':');
    if (i > 0) return { ...a, username: d.slice(0, i), password: d.slice(i + 1) };
  }
  return a;
}
