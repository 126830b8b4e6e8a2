/**
 * Image reference helpers for messages and pull queries (docker's reference.FamiliarString /
 * TagNameOnly): `busybox` → `busybox:latest`; digests are kept; no registry normalisation.
 */

/** `{name, tag, digest}` of a reference such as `localhost:5000/app:1` or `app@sha256:…`. */
export function parseReference(ref: string): { name: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

/** The reference with `:latest` added when it has neither tag nor digest. */
export function withDefaultTag(ref: string): string {
  const r = parseReference(ref);
  if (r.tag || r.digest) return ref;
  return `${r.name}:latest`;
}

/** Whether a string looks like an image ID (full or short hex, optionally `sha256:`). */
export function looksLikeId(ref: string): boolean {
  return /^(sha256:)?[0-9a-f]{12,64}$/.test(ref);
}
