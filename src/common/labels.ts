/**
 * Docker's `label` filter: each `key` must be present and each `key=value` must match;
 * `label!=…` entries must all not match. One rule for containers, images and events.
 */
export function labelsMatch(labels: Record<string, string>, want: readonly string[], notWant: readonly string[] = []): boolean {
  const has = (f: string) => {
    const i = f.indexOf('=');
    return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
  };
  return want.every(has) && !notWant.some(has);
}
