/**
 * `berth system df [-v] [--format]`: GET /system/df, shown as docker's `system df`
 * (cli/command/system/df.go and formatter/disk_usage.go): a summary table per type with
 * TOTAL, ACTIVE, SIZE and RECLAIMABLE, or with -v the images, containers and volumes one by one.
 */
import type { CommandModule } from '../command.js';
import { compileListFormat, renderList } from '../format/formatter.js';
import { humanSize as humanSize4 } from '../../common/units.js';

/** `docker system df` prints sizes with 3 significant digits (go-units HumanSizeWithPrecision(n, 3)). */
const humanSize = (n: number): string => humanSize4(n, 3);
import { truncateId } from '../format/row-views.js';

type Json = Record<string, unknown>;

const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function since(now: number, created: number): string {
  const s = Math.max(0, Math.floor(now / 1000 - created));
  if (s < 60) return s <= 1 ? 'Less than a second ago' : `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'About a minute ago' : `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h < 48) return h === 1 ? 'About an hour ago' : `${h} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function pct(part: number, total: number): string {
  return total > 0 ? ` (${Math.floor((part * 100) / total)}%)` : '';
}

export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Show berth disk usage',
  args: { exact: 0 },
  configure(cmd) {
    cmd.option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'");
    cmd.option('-v, --verbose', 'Show detailed information on space usage');
  },
  async run(ctx, _args, opts) {
    const o = opts as { format?: string; verbose?: boolean };
    const spec = { format: o.format ?? '', defaultTable: SUMMARY_TABLE, headers: HEADERS };
    if (!o.verbose) compileListFormat(spec);
    const client = await ctx.client();
    const df = await client.json<Json>('GET', '/system/df');
    const images = (df['Images'] as Json[] | null) ?? [];
    const containers = (df['Containers'] as Json[] | null) ?? [];
    const volumes = (df['Volumes'] as Json[] | null) ?? [];
    const cache = (df['BuildCache'] as Json[] | null) ?? [];
    const now = ctx.now();
    if (o.verbose) {
      let out = 'Images space usage:\n\n';
      out += renderList({ format: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', defaultTable: '', headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Created: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' } },
        images.flatMap((i) => {
          const tags = ((i['RepoTags'] as string[] | null) ?? []).filter((t) => t !== '<none>:<none>');
          const size = num(i['Size']);
          const shared = num(i['SharedSize']);
          const base = { ID: truncateId(String(i['Id'] ?? '')), Created: since(now, num(i['Created'])), Size: humanSize(size), SharedSize: humanSize(shared), UniqueSize: humanSize(size - shared), Containers: String(num(i['Containers'])) };
          if (!tags.length) return [{ Repository: '<none>', Tag: '<none>', ...base }];
          return tags.map((t) => {
            const k = t.lastIndexOf(':');
            return { Repository: t.slice(0, k), Tag: t.slice(k + 1), ...base };
          });
        }));
      out += '\nContainers space usage:\n\n';
      out += renderList({ format: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.Created}}\t{{.Status}}\t{{.Names}}', defaultTable: '', headers: { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', Created: 'CREATED', Status: 'STATUS', Names: 'NAMES' } },
        containers.map((c) => {
          const cmd = String(c['Command'] ?? '');
          return {
            ID: truncateId(String(c['Id'] ?? '')),
            Image: String(c['Image'] ?? ''),
            Command: JSON.stringify(cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd),
            LocalVolumes: String(((c['Mounts'] as Json[] | null) ?? []).filter((m) => m['Type'] === 'volume').length),
            Size: humanSize(num(c['SizeRw'])),
            Created: since(now, num(c['Created'])),
            Status: String(c['Status'] ?? ''),
            Names: ((c['Names'] as string[] | null) ?? []).map((n) => n.replace(/^\//, '')).join(','),
          };
        }));
      out += '\nLocal Volumes space usage:\n\n';
      out += renderList({ format: 'table {{.Name}}\t{{.Links}}\t{{.Size}}', defaultTable: '', headers: { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' } },
        volumes.map((v) => {
          const u = (v['UsageData'] as Json | null) ?? {};
          return { Name: String(v['Name'] ?? ''), Links: String(num(u['RefCount'])), Size: num(u['Size']) < 0 ? 'N/A' : humanSize(num(u['Size'])) };
        }));
      out += '\nBuild cache usage: 0B\n\n';
      out += renderList({ format: 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', defaultTable: '', headers: { ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' } }, []);
      ctx.stdout.write(out);
      return 0;
    }
    // Summary, as formatter.DiskUsage: reclaimable images are those no container uses.
    const imgTotal = num(df['LayersSize']);
    let imgActive = 0;
    let imgReclaim = imgTotal;
    for (const i of images) {
      if (num(i['Containers']) > 0) {
        imgActive++;
        imgReclaim -= num(i['Size']) - num(i['SharedSize']);
      }
    }
    // Shared layers of used images are not reclaimable either (counted once).
    const usedShared = images.filter((i) => num(i['Containers']) > 0).reduce((m, i) => Math.max(m, num(i['SharedSize'])), 0);
    imgReclaim = Math.max(0, imgReclaim - usedShared);
    let ctrSize = 0;
    let ctrReclaim = 0;
    let ctrActive = 0;
    for (const c of containers) {
      ctrSize += num(c['SizeRw']);
      if (c['State'] === 'running' || c['State'] === 'paused' || c['State'] === 'restarting') ctrActive++;
      else ctrReclaim += num(c['SizeRw']);
    }
    let volSize = 0;
    let volReclaim = 0;
    let volActive = 0;
    for (const v of volumes) {
      const u = (v['UsageData'] as Json | null) ?? {};
      const size = Math.max(0, num(u['Size']));
      volSize += size;
      if (num(u['RefCount']) > 0) volActive++;
      else volReclaim += size;
    }
    const cacheSize = cache.reduce((n, c) => n + num(c['Size']), 0);
    const cacheReclaim = cache.filter((c) => c['InUse'] !== true).reduce((n, c) => n + num(c['Size']), 0);
    const rows = [
      { Type: 'Images', TotalCount: String(images.length), Active: String(imgActive), Size: humanSize(imgTotal), Reclaimable: `${humanSize(imgReclaim)}${pct(imgReclaim, imgTotal)}` },
      { Type: 'Containers', TotalCount: String(containers.length), Active: String(ctrActive), Size: humanSize(ctrSize), Reclaimable: `${humanSize(ctrReclaim)}${pct(ctrReclaim, ctrSize)}` },
      { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(volActive), Size: humanSize(volSize), Reclaimable: `${humanSize(volReclaim)}${pct(volReclaim, volSize)}` },
      { Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((c) => c['InUse'] === true).length), Size: humanSize(cacheSize), Reclaimable: humanSize(cacheReclaim) },
    ];
    ctx.stdout.write(renderList(spec, rows));
    return 0;
  },
};
