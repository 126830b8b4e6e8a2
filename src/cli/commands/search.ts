import { collect, type CommandModule } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { ellipsis } from '../format/row-views.js';
import { renderList } from '../format/formatter.js';
import { GO_TYPE } from '../format/template.js';
import { StatusError } from '../errors.js';
import { parseFilters } from '../filters.js';

const DEFAULT_TABLE = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
const HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' };

interface SearchResult {
  name: string;
  description?: string;
  star_count?: number;
  is_official?: boolean;
  is_automated?: boolean;
}

/**
 * `berth search TERM`: GET /images/search?term=&limit=&filters= as the docker CLI does; the
 * daemon asks the registry named in TERM (Docker Hub by default) with the registry search API
 * (`GET /v1/search`). When the daemon has no search endpoint, the CLI asks the registry itself.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] TERM',
  description: 'Search Docker Hub for images',
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('-f, --filter <filter>', 'Filter output based on conditions provided', collect);
    cmd.option('--format <string>', 'Pretty-print search using a Go template');
    cmd.option('--limit <int>', 'Max number of search results', (v: string) => {
      if (!/^-?\d+$/.test(v)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
      return Number(v);
    });
    cmd.option('--no-trunc', "Don't truncate output");
  },
  async run(ctx, args, opts) {
    const o = opts as { filter?: string[]; format?: string; limit?: number; trunc: boolean };
    const term = args[0]!;
    const filters = parseFilters(o.filter);
    for (const [k, v] of filters) {
      if (k === 'stars' && !/^\d+$/.test(v)) throw new StatusError(1, `Error response from daemon: invalid filter 'stars=${v}'`);
      if (!['stars', 'is-official', 'is-automated'].includes(k)) throw new StatusError(1, `Error response from daemon: invalid filter '${k}'`);
    }
    const client = await ctx.client();
    let results: SearchResult[];
    try {
      results = await client.json<SearchResult[]>('GET', '/images/search', { query: { term, limit: o.limit || undefined, filters: encodeFilters(filters) } });
    } catch (err) {
      const e = err as { name?: string; statusCode?: number; message?: string };
      if (e.name !== 'ApiError' || e.statusCode !== 404 || !/page not found/i.test(e.message ?? '')) throw err;
      results = applyFilters(await searchRegistry(term, o.limit || 25), filters);
    }
    const rows = results.map((r) => ({
      [GO_TYPE]: 'formatter.searchContext',
      Name: r.name,
      Description: o.trunc ? ellipsis((r.description ?? '').replace(/\n/g, ' '), 45) : (r.description ?? '').replace(/\n/g, ' '),
      StarCount: String(r.star_count ?? 0),
      IsOfficial: r.is_official ? '[OK]' : '',
      IsAutomated: r.is_automated ? '[OK]' : '',
    }));
    ctx.stdout.write(renderList({ format: o.format === 'json' ? '{{json .}}' : (o.format ?? ''), defaultTable: DEFAULT_TABLE, headers: HEADERS }, rows));
    return 0;
  },
};

function applyFilters(list: SearchResult[], filters: Array<[string, string]>): SearchResult[] {
  return list.filter((r) =>
    filters.every(([k, v]) => {
      if (k === 'stars') return (r.star_count ?? 0) >= Number(v);
      if (k === 'is-official') return !!r.is_official === /^(1|true)$/i.test(v);
      if (k === 'is-automated') return !!r.is_automated === /^(1|true)$/i.test(v);
      return true;
    }),
  );
}

/**
 * The registry's search API, asked from the CLI (the daemon has none): `GET /v1/search?q=&n=`
 * on the registry named by TERM's first component (`localhost:5000/foo`), index.docker.io
 * otherwise. Loopback registries over plain HTTP, others over HTTPS.
 */
async function searchRegistry(term: string, limit: number): Promise<SearchResult[]> {
  const slash = term.indexOf('/');
  const first = slash > 0 ? term.slice(0, slash) : '';
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = isHost ? first : 'index.docker.io';
  const q = isHost ? term.slice(slash + 1) : term;
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  const url = `${loopback ? 'http' : 'https'}://${host}/v1/search?q=${encodeURIComponent(q)}&n=${limit}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new StatusError(1, `Error response from daemon: cannot search ${host}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is the registry reachable from here?)`);
  }
  if (res.status === 404 || res.status === 405) {
    throw new StatusError(1, `Error response from daemon: registry ${host} does not support search (GET /v1/search answered ${res.status})`);
  }
  if (!res.ok) throw new StatusError(1, `Error response from daemon: unexpected status from ${url}: ${res.status} ${res.statusText}`);
  const body = (await res.json()) as { results?: SearchResult[] };
  return (body.results ?? []).slice(0, limit).map((r) => ({ ...r, name: isHost ? `${host}/${r.name}` : r.name }));
}
