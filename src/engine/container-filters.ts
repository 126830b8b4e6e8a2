/**
 * `docker ps` filters over container records (`id`, `name`, `status`, `health`, `exited`,
 * `label`, `network`, `ancestor`, `before`, `since`), Docker's order (newest first) and `limit`.
 * Pure: the records and a lookup by reference come from the container service.
 */
import { InvalidParameterError } from '../common/errors.js';
import { labelsMatch } from '../common/labels.js';
import type { ContainerRecord } from './types.js';

export interface ListOptions {
  all?: boolean;
  limit?: number;
  filters?: Map<string, string[]>;
}

/** The records `options` selects; without `all` (or a status/exited filter) only running ones. */
export function filterContainers(records: ContainerRecord[], options: ListOptions, get: (ref: string) => ContainerRecord): ContainerRecord[] {
  let out = records;
  const filters = options.filters ?? new Map<string, string[]>();
  const running = (r: ContainerRecord) => r.state.status === 'running' || r.state.status === 'paused' || r.state.status === 'restarting';
  if (!options.all && !filters.has('status') && !filters.has('exited')) out = out.filter(running);
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    switch (key) {
      case 'id':
        out = out.filter((r) => values.some((v) => r.id.startsWith(v)));
        break;
      case 'name':
        out = out.filter((r) => values.some((v) => r.name.includes(v.replace(/^\//, ''))));
        break;
      case 'status':
        for (const v of values) {
          if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(v)) {
            throw new InvalidParameterError(`invalid filter 'status=${v}'`);
          }
        }
        out = out.filter((r) => values.includes(r.state.status));
        break;
      case 'health':
        // Docker's values (container.IsValidHealthString); a container without a healthcheck is "none".
        for (const v of values) {
          if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) throw new InvalidParameterError(`Unrecognised filter value for health: ${v}`);
        }
        out = out.filter((r) => values.includes(r.state.health?.status ?? 'none'));
        break;
      case 'exited':
        out = out.filter((r) => r.state.status === 'exited' && values.includes(String(r.state.exitCode)));
        break;
      case 'label':
        out = out.filter((r) => labelsMatch(r.config.labels, values));
        break;
      case 'network':
        // Docker's `ps --filter network=`: a network's name or ID (prefix) among the container's endpoints.
        out = out.filter((r) => Object.values(r.network?.endpoints ?? {}).some((e) => values.some((v) => e.networkName === v || (v.length > 0 && e.networkId.startsWith(v)))));
        break;
      case 'ancestor':
        out = out.filter((r) => values.some((v) => r.image === v || r.imageId === v || r.imageId.replace('sha256:', '').startsWith(v.replace('sha256:', ''))));
        break;
      case 'before': {
        const ref = get(values[0]!);
        out = out.filter((r) => r.created < ref.created);
        break;
      }
      case 'since': {
        const ref = get(values[0]!);
        out = out.filter((r) => r.created > ref.created);
        break;
      }
      default:
        throw new InvalidParameterError(`invalid filter '${key}'`);
    }
  }
  out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  if (options.limit !== undefined && options.limit > 0) out = out.slice(0, options.limit);
  return out;
}
