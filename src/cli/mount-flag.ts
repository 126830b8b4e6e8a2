/**
 * `--mount type=…,source=…,target=…`: docker's CSV mount syntax (docker/cli `opts/mount.go`)
 * into one `HostConfig.Mounts` entry. Errors use the docker CLI's wording.
 */
import { StatusError } from './errors.js';

export interface ApiMount {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

function bool(key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  if (/^(1|t|T|true|TRUE|True)$/.test(v)) return true;
  if (/^(0|f|F|false|FALSE|False)$/.test(v)) return false;
  throw new StatusError(125, `invalid argument "${key}=${v}" for "--mount" flag: invalid value for ${key}: ${v}`);
}

/** Docker's RAMInBytes: `64m`, `1g`, `1024`. */
function bytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw new StatusError(125, `invalid argument "tmpfs-size=${v}" for "--mount" flag: invalid size: '${v}'`);
  return Math.floor(Number(m[1]) * 1024 ** ' kmgtp'.indexOf(m[2]!.toLowerCase() || ' '));
}

export function parseMountFlag(value: string): ApiMount {
  const m: ApiMount = { Type: 'volume' };
  const fail = (why: string) => new StatusError(125, `invalid argument "${value}" for "--mount" flag: ${why}`);
  for (const field of value.split(',')) {
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).toLowerCase();
    const val = i < 0 ? undefined : field.slice(i + 1);
    const need = () => {
      if (val === undefined) throw fail(`invalid field '${field}' must be a key=value pair`);
      return val;
    };
    switch (key) {
      case 'type':
        m.Type = need();
        break;
      case 'source':
      case 'src':
        m.Source = need();
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = need();
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        m.Consistency = need();
        break;
      case 'bind-propagation':
        (m.BindOptions ??= {}).Propagation = need();
        break;
      case 'bind-nonrecursive':
        (m.BindOptions ??= {}).NonRecursive = bool(key, val);
        break;
      case 'volume-nocopy':
        (m.VolumeOptions ??= {}).NoCopy = bool(key, val);
        break;
      case 'volume-label': {
        const kv = need();
        const j = kv.indexOf('=');
        ((m.VolumeOptions ??= {}).Labels ??= {})[j < 0 ? kv : kv.slice(0, j)] = j < 0 ? '' : kv.slice(j + 1);
        break;
      }
      case 'volume-driver':
        ((m.VolumeOptions ??= {}).DriverConfig ??= {}).Name = need();
        break;
      case 'volume-opt': {
        const kv = need();
        const j = kv.indexOf('=');
        if (j <= 0) throw fail(`invalid volume-opt '${kv}'`);
        (((m.VolumeOptions ??= {}).DriverConfig ??= {}).Options ??= {})[kv.slice(0, j)] = kv.slice(j + 1);
        break;
      }
      case 'tmpfs-size':
        (m.TmpfsOptions ??= {}).SizeBytes = bytes(need());
        break;
      case 'tmpfs-mode': {
        const mode = Number.parseInt(need(), 8);
        if (Number.isNaN(mode)) throw fail(`invalid value for tmpfs-mode: ${val}`);
        (m.TmpfsOptions ??= {}).Mode = mode;
        break;
      }
      default:
        throw fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.Type === '') throw fail('type is required');
  if (!m.Target) throw fail('target is required');
  return m;
}
