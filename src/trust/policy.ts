/**
 * containers-policy.json (containers/image `docs/containers-policy.json.5.md`), the policy
 * Podman and skopeo read, parsed and validated:
 *
 *     {"default": [REQ…], "transports": {"docker": {"SCOPE": [REQ…], …}, "docker-archive": {…}}}
 *
 * A requirement list accepts an image when every requirement in it does. berth evaluates the
 * `docker` transport for registry pulls and `docker-archive` for `load`; the scopes of `docker`
 * (and `atomic`, which has the same grammar and is accepted but not used) are, most specific
 * first: `host/repo:tag` or `host/repo@digest`, `host/repo`, each parent namespace, `host`,
 * `*.domain` wildcards, then `""` (the transport's default), then the global `default`.
 *
 * Requirement types: `insecureAcceptAnything`, `reject`, `signedBy` (GPG keys, simple signing),
 * `sigstoreSigned` (a public key; Fulcio and Rekor options are refused with a clear error
 * because berth cannot check them). Unknown fields and types are errors, as in containers/image,
 * so a policy never means less than its author wrote.
 */
import { InvalidPolicyError } from './errors.js';
import { formatReference, parseReference, repositoryName, type Reference } from '../oci/reference.js';

export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; keyPath?: string; keyPaths?: string[]; keyData?: string; signedIdentity: SignedIdentity }
  | { type: 'sigstoreSigned'; keyPath?: string; keyData?: string; signedIdentity: SignedIdentity };

export interface Policy {
  default: Requirement[];
  transports: Record<string, Record<string, Requirement[]>>;
}

/** What applies when no policy file exists: accept anything (berth's behaviour before policies). */
export const ACCEPT_ANYTHING_POLICY: Policy = { default: [{ type: 'insecureAcceptAnything' }], transports: {} };

const KNOWN_TRANSPORTS = new Set(['docker', 'atomic', 'docker-archive', 'docker-daemon', 'oci', 'oci-archive', 'dir', 'containers-storage', 'tarball', 'sif']);

function fields(v: unknown, allowed: string[], what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidPolicyError(`invalid policy: ${what} is not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidPolicyError(`invalid policy: unknown field ${JSON.stringify(k)} in ${what}`);
  return o;
}

function str(o: Record<string, unknown>, k: string, what: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) throw new InvalidPolicyError(`invalid policy: ${what} needs ${JSON.stringify(k)}`);
    return undefined;
  }
  if (typeof v !== 'string' || !v) throw new InvalidPolicyError(`invalid policy: ${what}.${k} must be a non-empty string`);
  return v;
}

function parseIdentity(v: unknown, what: string): SignedIdentity {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const t = (v as { type?: unknown } | null)?.type;
  switch (t) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      fields(v, ['type'], what);
      return { type: t };
    case 'exactReference': {
      const o = fields(v, ['type', 'dockerReference'], what);
      const r = str(o, 'dockerReference', what, true)!;
      const ref = parseStrict(r, `${what}.dockerReference`);
      if (ref.tag === undefined && ref.digest === undefined) throw new InvalidPolicyError(`invalid policy: ${what}.dockerReference ${JSON.stringify(r)} needs a tag or digest`);
      return { type: t, dockerReference: formatReference(ref) };
    }
    case 'exactRepository': {
      const o = fields(v, ['type', 'dockerRepository'], what);
      const r = str(o, 'dockerRepository', what, true)!;
      const ref = parseStrict(r, `${what}.dockerRepository`);
      if (ref.tag !== undefined || ref.digest !== undefined) throw new InvalidPolicyError(`invalid policy: ${what}.dockerRepository ${JSON.stringify(r)} must be a repository name`);
      return { type: t, dockerRepository: repositoryName(ref) };
    }
    case 'remapIdentity': {
      const o = fields(v, ['type', 'prefix', 'signedPrefix'], what);
      return { type: t, prefix: str(o, 'prefix', what, true)!, signedPrefix: str(o, 'signedPrefix', what, true)! };
    }
    default:
      throw new InvalidPolicyError(`invalid policy: unknown signedIdentity type ${JSON.stringify(t)} in ${what}`);
  }
}

function parseStrict(s: string, what: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new InvalidPolicyError(`invalid policy: ${what}: ${(e as Error).message}`);
  }
}

function parseRequirement(v: unknown, what: string): Requirement {
  const t = (v as { type?: unknown } | null)?.type;
  switch (t) {
    case 'insecureAcceptAnything':
    case 'reject':
      fields(v, ['type'], what);
      return { type: t };
    case 'signedBy': {
      const o = fields(v, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], what);
      if (o.keyType !== 'GPGKeys') throw new InvalidPolicyError(`invalid policy: ${what}.keyType must be "GPGKeys" (got ${JSON.stringify(o.keyType)})`);
      const keyPath = str(o, 'keyPath', what);
      const keyData = str(o, 'keyData', what);
      let keyPaths: string[] | undefined;
      if (o.keyPaths !== undefined) {
        if (!Array.isArray(o.keyPaths) || o.keyPaths.length === 0 || !o.keyPaths.every((p) => typeof p === 'string' && p)) throw new InvalidPolicyError(`invalid policy: ${what}.keyPaths must be a non-empty list of paths`);
        keyPaths = o.keyPaths as string[];
      }
      if ([keyPath, keyPaths, keyData].filter((x) => x !== undefined).length !== 1) throw new InvalidPolicyError(`invalid policy: ${what} needs exactly one of keyPath, keyPaths, keyData`);
      return { type: 'signedBy', keyType: 'GPGKeys', ...(keyPath ? { keyPath } : {}), ...(keyPaths ? { keyPaths } : {}), ...(keyData ? { keyData } : {}), signedIdentity: parseIdentity(o.signedIdentity, `${what}.signedIdentity`) };
    }
    case 'sigstoreSigned': {
      const o = v as Record<string, unknown>;
      for (const k of ['fulcio', 'rekorPublicKeyPath', 'rekorPublicKeyData']) {
        if (k in o) throw new InvalidPolicyError(`invalid policy: ${what}.${k} is not supported by berth (only keyPath/keyData public keys)`);
      }
      fields(v, ['type', 'keyPath', 'keyData', 'signedIdentity'], what);
      const keyPath = str(o, 'keyPath', what);
      const keyData = str(o, 'keyData', what);
      if ((keyPath === undefined) === (keyData === undefined)) throw new InvalidPolicyError(`invalid policy: ${what} needs exactly one of keyPath, keyData`);
      return { type: 'sigstoreSigned', ...(keyPath ? { keyPath } : {}), ...(keyData ? { keyData } : {}), signedIdentity: parseIdentity(o.signedIdentity, `${what}.signedIdentity`) };
    }
    case 'signedBaseLayer':
      throw new InvalidPolicyError(`invalid policy: requirement type "signedBaseLayer" in ${what} is not supported by berth`);
    default:
      throw new InvalidPolicyError(`invalid policy: unknown requirement type ${JSON.stringify(t)} in ${what}`);
  }
}

function parseList(v: unknown, what: string): Requirement[] {
  if (!Array.isArray(v)) throw new InvalidPolicyError(`invalid policy: ${what} must be a list of requirements`);
  if (v.length === 0) throw new InvalidPolicyError(`invalid policy: ${what} is empty (use [{"type":"reject"}] or [{"type":"insecureAcceptAnything"}])`);
  return v.map((r, i) => parseRequirement(r, `${what}[${i}]`));
}

function checkDockerScope(scope: string, what: string): void {
  if (scope === '') return;
  if (/^\*\.[a-z0-9.-]+$/i.test(scope)) return;
  // A host, a namespace, a repository, or a reference with a tag or digest: no normalisation
  // happens here (containers/image wants `docker.io/library/busybox`, not `busybox`).
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(\/[a-z0-9._/-]+)?(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.test(scope)) {
    throw new InvalidPolicyError(`invalid policy: ${what}: invalid scope ${JSON.stringify(scope)}`);
  }
}

/** Parses and validates a policy file's text. */
export function parsePolicy(text: string): Policy {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidPolicyError(`invalid policy: not JSON: ${(e as Error).message}`);
  }
  const o = fields(v, ['default', 'transports'], 'the policy');
  if (o.default === undefined) throw new InvalidPolicyError('invalid policy: "default" is required');
  const policy: Policy = { default: parseList(o.default, 'default'), transports: {} };
  if (o.transports !== undefined) {
    const tr = fields(o.transports, Object.keys(o.transports as object ?? {}), 'transports');
    for (const [name, scopes] of Object.entries(tr)) {
      if (!KNOWN_TRANSPORTS.has(name)) throw new InvalidPolicyError(`invalid policy: unknown transport ${JSON.stringify(name)}`);
      const sc = fields(scopes, Object.keys((scopes as object) ?? {}), `transports.${name}`);
      policy.transports[name] = {};
      for (const [scope, list] of Object.entries(sc)) {
        if (name === 'docker' || name === 'atomic') checkDockerScope(scope, `transports.${name}`);
        policy.transports[name]![scope] = parseList(list, `transports.${name}[${JSON.stringify(scope)}]`);
      }
    }
  }
  return policy;
}

/** The scopes a docker reference is looked up under, most specific first (without "" and default). */
export function dockerScopes(ref: Reference): string[] {
  const out: string[] = [];
  if (ref.digest !== undefined) out.push(`${repositoryName(ref)}@${ref.digest}`);
  else if (ref.tag !== undefined) out.push(`${repositoryName(ref)}:${ref.tag}`);
  const parts = repositoryName(ref).split('/');
  for (let n = parts.length; n >= 1; n--) out.push(parts.slice(0, n).join('/'));
  // *.example.com matches host a.example.com and b.a.example.com (not example.com itself).
  const host = ref.domain.replace(/:\d+$/, '');
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`);
  return out;
}

/** The requirements for an image: the most specific scope of the transport, else its "", else default. */
export function requirementsFor(policy: Policy, transport: string, ref: Reference | undefined): { scope: string; requirements: Requirement[] } {
  const scopes = policy.transports[transport];
  if (scopes) {
    if (ref && (transport === 'docker' || transport === 'atomic')) {
      for (const s of dockerScopes(ref)) if (scopes[s]) return { scope: `${transport}:${s}`, requirements: scopes[s]! };
    }
    if (scopes['']) return { scope: `${transport}:""`, requirements: scopes['']! };
  }
  return { scope: 'default', requirements: policy.default };
}

/** Whether `name` starts with `prefix` on a path-component boundary. */
function hasPrefix(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) || (prefix.endsWith('/') && name.startsWith(prefix));
}

/**
 * Whether the identity a signature claims (`signed`, its docker-reference) is acceptable for
 * the image being pulled (`image`), under `rule` (containers-policy.json's signedIdentity).
 */
export function identityMatches(rule: SignedIdentity, image: Reference, signed: string): boolean {
  let sig: Reference;
  try {
    sig = parseReference(signed);
  } catch {
    return false;
  }
  // A signature names a tag or just a repository, never a digest (the digest is in critical.image).
  if (sig.digest !== undefined) return false;
  const exact = (a: Reference, b: Reference) => repositoryName(a) === repositoryName(b) && a.tag === b.tag;
  const repoDigestOrExact = (img: Reference): boolean => {
    if (img.digest !== undefined) return repositoryName(img) === repositoryName(sig);
    if (img.tag !== undefined) return exact(img, sig);
    return false;
  };
  switch (rule.type) {
    case 'matchExact':
      return image.digest === undefined && image.tag !== undefined && exact(image, sig);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(image);
    case 'matchRepository':
      return repositoryName(image) === repositoryName(sig);
    case 'exactReference':
      return formatReference(sig) === rule.dockerReference;
    case 'exactRepository':
      return repositoryName(sig) === rule.dockerRepository;
    case 'remapIdentity': {
      const name = repositoryName(image);
      if (!hasPrefix(name, rule.prefix)) return repoDigestOrExact(image);
      let remapped: Reference;
      try {
        remapped = parseReference(`${rule.signedPrefix}${name.slice(rule.prefix.length)}`);
      } catch {
        return false;
      }
      return repoDigestOrExact({ ...remapped, ...(image.tag !== undefined ? { tag: image.tag } : {}), ...(image.digest !== undefined ? { digest: image.digest } : {}) });
    }
  }
}

/** How a requirement is named in errors: `signedBy (keyPath /etc/pki/a.gpg)`. */
export function describeRequirement(r: Requirement): string {
  switch (r.type) {
    case 'signedBy':
      return `signedBy (${r.keyPath ? `keyPath ${r.keyPath}` : r.keyPaths ? `keyPaths ${r.keyPaths.join(', ')}` : 'keyData'})`;
    case 'sigstoreSigned':
      return `sigstoreSigned (${r.keyPath ? `keyPath ${r.keyPath}` : 'keyData'})`;
    default:
      return r.type;
  }
}
