/**
 * Docker image references, after the grammar of `distribution/reference` (regexp.go,
 * normalize.go):
 *
 *     reference        := name [ ":" tag ] [ "@" digest ]
 *     name             := [domain '/'] remote-name
 *     domain           := host [':' port-number]
 *     remote-name      := path-component ['/' path-component]*
 *     path-component   := [a-z0-9]+ ( ( [._] | "__" | [-]+ ) [a-z0-9]+ )*
 *     tag              := [\w][\w.-]{0,127}
 *     digest           := algorithm ":" hex{32,}
 *
 * berth keeps references internally in the normalised form (`docker.io/library/busybox:latest`)
 * and shows them to users in Docker's familiar form (`busybox:latest`). Errors use Docker's
 * wording (`invalid reference format…`) because clients show them as they are.
 */
import { InvalidParameterError } from '../common/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;

/** The error raised for a malformed reference; a 400 with Docker's message. */
export class InvalidReferenceError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_INVALID_REFERENCE';
}

/** A parsed, normalised reference. */
export interface Reference {
  /** `docker.io`, `localhost:5000`, … */
  domain: string;
  /** The repository path without the domain: `library/busybox`, `a/b`. */
  path: string;
  tag?: string;
  digest?: string;
}

/** `domain/path`: the repository, as Docker's `reference.Named.Name()`. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The normalised string: `docker.io/library/busybox:latest`, `host/a@sha256:…`. */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Docker's familiar name: `busybox` for `docker.io/library/busybox`, `user/app` for `docker.io/user/app`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX) && !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return ref.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return ref.path;
}

/** Docker's familiar string (`reference.FamiliarString`): `busybox:latest`, `busybox@sha256:…`. */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/**
 * Parses a user-given reference and normalises it (`ParseNormalizedNamed`): `busybox` →
 * docker.io/library/busybox. The tag stays absent when not given; see `withDefaultTag`.
 */
export function parseReference(s: string): Reference {
  if (ANCHORED_ID_RE.test(s)) {
    throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidReferenceError(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const ref = parseAny(`${domain}/${remainder}`, s);
  return ref;
}

/** `parseReference`, adding the `latest` tag when neither tag nor digest was given (`TagNameOnly`). */
export function parseNormalizedTagged(s: string): Reference {
  return withDefaultTag(parseReference(s));
}

/** The reference with `latest` when it has neither tag nor digest. */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/** Checks a tag on its own (as given to `docker tag`'s `tag` query parameter). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Parses a fully-qualified reference (`reference.Parse`), without Docker Hub normalisation. */
function parseAny(s: string, original: string): Reference {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (original === '') throw new InvalidReferenceError('invalid reference format: repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) {
      throw new InvalidReferenceError('invalid reference format: repository name must be lowercase');
    }
    throw new InvalidReferenceError('invalid reference format');
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(`invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const slash = name.indexOf('/');
  const ref: Reference = { domain: name.slice(0, slash), path: name.slice(slash + 1) };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    const digest = m[3];
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new InvalidReferenceError('invalid reference format: invalid checksum digest length');
    }
    if (!digest.startsWith('sha256:') && !/^sha(384|512):/.test(digest)) {
      throw new InvalidReferenceError('invalid reference format: unsupported digest algorithm');
    }
    ref.digest = digest;
  }
  return ref;
}

// normalize.go splitDockerDomain: the first component is a domain only if it looks like one
// (contains `.` or `:`, or is `localhost`, or has upper-case letters).
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i >= 0 ? name.slice(0, i) : '';
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}
