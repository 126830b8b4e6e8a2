/**
 * Human-readable durations and sizes with docker/go-units semantics (`HumanDuration`,
 * `HumanSizeWithPrecision`, `BytesSize`), so berth's tables read exactly like docker's.
 */

/** go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks". */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<precision>g`: significant digits, trailing zeros dropped. */
function formatG(value: number, precision: number): string {
  const s = value.toPrecision(precision);
  if (s.includes('e')) {
    const [mant, exp] = s.split('e') as [string, string];
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const e = Number(exp);
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function customSize(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatG(size, precision)}${units[i]}`;
}

/** go-units HumanSizeWithPrecision: decimal (1000-based) units, e.g. "4.19MB". */
export function humanSize(bytes: number, precision = 4): string {
  return customSize(bytes, 1000, DECIMAL_UNITS, precision);
}

/** go-units BytesSize: binary (1024-based) units, e.g. "1.944GiB". */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 1024, BINARY_UNITS, 4);
}
