export function bytes(n: number | undefined | null): string {
  if (n === undefined || n === null || n < 0) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 && i ? v.toFixed(2) : v < 100 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "5 minutes" for a span in seconds. */
export function duration(d: number): string {
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'}`;
  if (d < 60) return unit(Math.max(0, Math.round(d)), 'second');
  if (d < 3600) return unit(Math.round(d / 60), 'minute');
  if (d < 86400) return unit(Math.round(d / 3600), 'hour');
  return unit(Math.round(d / 86400), 'day');
}

export function ago(seconds: number): string {
  if (!seconds || seconds < 0) return '—'; // no date recorded (e.g. an image config without "created")
  return `${duration(Date.now() / 1000 - seconds)} ago`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function q(params: Record<string, string | number | boolean | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== false) s.set(k, String(v === true ? 1 : v));
  const t = s.toString();
  return t ? `?${t}` : '';
}

export function filters(f: Record<string, string[]>): string {
  return encodeURIComponent(JSON.stringify(f));
}
