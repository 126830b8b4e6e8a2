/**
 * Image domain objects → Docker Engine API JSON (ImageSummary, ImageInspect,
 * HistoryResponseItem), and the `GET /images/json` filters. Pure: no I/O.
 */
import { InvalidParameterError } from '../../common/errors.js';
import { labelsMatch } from '../../common/labels.js';
import type { HistoryEntry, ImageDetails, ImageSummary } from '../../image/image-service.js';
import type { ImageRunConfig } from '../../oci/image.js';
import { parseNormalizedTagged, familiarName } from '../../oci/reference.js';
import { compareVersions } from '../version.js';
import type { ImageHistoryItem, ImageInspect, ImageSummary as ImageSummaryJson } from '../../wire/api-types.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `GET /images/json` item (API ImageSummary). */
export function imageSummaryJson(s: ImageSummary, apiVersion: string): ImageSummaryJson {
  let repoTags = s.repoTags;
  let repoDigests = s.repoDigests;
  // Before API 1.43, untagged images showed as <none>:<none> (moby router getImagesJSON).
  if (compareVersions(apiVersion, '1.43') < 0 && repoTags.length === 0 && repoDigests.length === 0) {
    repoTags = ['<none>:<none>'];
    repoDigests = ['<none>@<none>'];
  }
  const out: ImageSummaryJson = {
    Containers: -1,
    Created: Math.floor(Date.parse(s.created) / 1000),
    Id: s.id,
    Labels: s.labels,
    ParentId: s.parentId,
    RepoDigests: repoDigests,
    RepoTags: repoTags,
    SharedSize: -1,
    Size: s.size,
  };
  if (compareVersions(apiVersion, '1.44') < 0) out.VirtualSize = s.size;
  return out;
}

/** Docker's image `Config` object: the container.Config shape with the image's values. */
export function imageConfigJson(c: ImageRunConfig | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  const out: Record<string, unknown> = {
    Hostname: '',
    Domainname: '',
    User: cfg.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    Image: '',
    Volumes: cfg.Volumes ?? null,
    WorkingDir: cfg.WorkingDir ?? '',
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: cfg.OnBuild ?? null,
    Labels: cfg.Labels ?? null,
  };
  if (cfg.ExposedPorts) out.ExposedPorts = cfg.ExposedPorts;
  if (cfg.StopSignal) out.StopSignal = cfg.StopSignal;
  if (cfg.Healthcheck) out.Healthcheck = cfg.Healthcheck;
  if (cfg.ArgsEscaped) out.ArgsEscaped = cfg.ArgsEscaped;
  if (cfg.Shell) out.Shell = cfg.Shell;
  return out;
}

/** `GET /images/{name}/json` (API ImageInspect). */
export function imageInspectJson(d: ImageDetails, apiVersion: string): ImageInspect {
  const c = d.config;
  const [top, ...below] = d.layerDirs;
  const layerRoot = top ? top.replace(/\/diff$/, '') : '';
  const graphData: Record<string, string> = {};
  if (below.length) graphData.LowerDir = below.join(':');
  if (top) {
    graphData.MergedDir = `${layerRoot}/merged`;
    graphData.UpperDir = top;
    graphData.WorkDir = `${layerRoot}/work`;
  }
  const out: ImageInspect = {
    Id: d.id,
    RepoTags: d.repoTags,
    RepoDigests: d.repoDigests,
    Parent: d.parentId,
    Comment: c.comment ?? '',
    Created: c.created ?? ZERO_TIME,
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: imageConfigJson(c.config),
    Architecture: c.architecture,
    Os: c.os,
    Size: d.size,
    GraphDriver: { Name: 'overlay2', Data: graphData },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: d.lastTagTime ?? ZERO_TIME },
  };
  if (c.variant) out.Variant = c.variant;
  if (c['os.version']) out.OsVersion = c['os.version'];
  // Dropped from API 1.45, still sent to older clients. ContainerConfig is sent to every
  // version: docker-compose v1 reads it whenever it recreates a container and fails with
  // KeyError on dockerd 25+; one extra field costs newer clients nothing.
  out.ContainerConfig = imageConfigJson(undefined);
  if (compareVersions(apiVersion, '1.45') < 0) out.Container = '';
  if (compareVersions(apiVersion, '1.44') < 0) out.VirtualSize = d.size;
  return out;
}

/** `GET /images/{name}/history` items. */
export function historyJson(entries: HistoryEntry[]): ImageHistoryItem[] {
  return entries.map((h) => ({ Id: h.id, Created: h.created, CreatedBy: h.createdBy, Tags: h.tags, Size: h.size, Comment: h.comment }));
}

const IMAGE_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);

/**
 * Applies `GET /images/json` filters (dangling, label, reference, before, since, until) in
 * Docker's way: a `reference` filter keeps only the matching tags of each image.
 * `resolveCreated` answers the creation time of the image named by before/since.
 */
export function filterImages(
  list: ImageSummary[],
  filters: Map<string, string[]>,
  resolveCreated: (ref: string) => string,
): ImageSummary[] {
  for (const key of filters.keys()) if (!IMAGE_FILTERS.has(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
  let danglingOnly: boolean | undefined;
  for (const v of filters.get('dangling') ?? []) {
    const lv = v.toLowerCase();
    if (lv === 'true' || lv === '1') danglingOnly = true;
    else if (lv === 'false' || lv === '0') danglingOnly = false;
    else throw new InvalidParameterError(`invalid filter 'dangling=${v}'`);
  }
  const before = (filters.get('before') ?? []).map(resolveCreated);
  const since = (filters.get('since') ?? []).map(resolveCreated);
  const until = (filters.get('until') ?? []).map(parseUntil);
  const labels = filters.get('label') ?? [];
  const refs = (filters.get('reference') ?? []).map(globToRegExp);
  const out: ImageSummary[] = [];
  for (const img of list) {
    if (before.some((t) => img.created >= t)) continue;
    if (since.some((t) => img.created <= t)) continue;
    if (until.some((t) => Date.parse(img.created) > t)) continue;
    if (!labelsMatch(img.labels, labels)) continue;
    let s = img;
    if (refs.length) {
      const keep = (r: string): boolean => {
        const name = r.replace(/[:@][^/]*$/, '');
        return refs.some((re) => re.test(r) || re.test(name));
      };
      s = { ...img, repoTags: img.repoTags.filter(keep), repoDigests: img.repoDigests.filter(keep) };
      if (s.repoTags.length === 0 && s.repoDigests.length === 0) continue;
    }
    const dangling = img.repoTags.length === 0 && img.repoDigests.length === 0;
    if (danglingOnly === true && !dangling) continue;
    if (danglingOnly === false && dangling) continue;
    out.push(s);
  }
  return out;
}

function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid filter 'until=${v}'`);
  return t;
}

/** Go's `path.Match` glob as a RegExp (`*` and `?` stop at `/`, `[...]` classes). */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidParameterError(`invalid filter 'reference=${pattern}': syntax error in pattern`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The `repo` + `tag` query parameters of import/tag as one reference string; `repo` may carry a tag that `tag` replaces. */
export function repoTagFromQuery(repo: string | null, tag: string | null): string | undefined {
  if (!repo) return undefined;
  const ref = parseNormalizedTagged(repo);
  if (ref.digest !== undefined) throw new InvalidParameterError('cannot import digest reference');
  if (tag) {
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new InvalidParameterError(`invalid tag format: ${JSON.stringify(tag)}`);
    return `${familiarName(ref)}:${tag}`;
  }
  return `${familiarName(ref)}:${ref.tag}`;
}
