import type { ContainerSummary, ImageSummary, Port } from '../../wire/api-types.js';
import { GO_TYPE } from './template.js';
import { humanDuration, humanSize } from '../../common/units.js';

/**
 * The per-row objects `--format` templates see for `ps` and `images`, mirroring docker/cli's
 * `formatter.ContainerContext` and `formatter.ImageContext` (row views here: in berth a
 * "context" is a Docker context only): the same field names, the same
 * strings, the same headers. They are Go structs to the template engine (GO_TYPE), so an
 * unknown field is an error, and `toJSON` gives what `{{json .}}` / `--format json` print.
 */

/** stringid.TruncateID: drop an algorithm prefix, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}

/** docker/cli formatter.Ellipsis for ASCII-width text: cut to `max` with a trailing "…". */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (max <= 0) return '';
  if (chars.length <= max) return s;
  if (max === 1) return chars[0]!;
  return chars.slice(0, max - 1).join('') + '…';
}

/** Go's time.Time.String() for a Unix time: `2006-01-02 15:04:05 -0700 MST`. */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const offsetMin = -d.getTimezoneOffset();
  const pad = (n: number, w = 2): string => String(Math.trunc(Math.abs(n))).padStart(w, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const off = `${sign}${pad(offsetMin / 60)}${pad(offsetMin % 60)}`;
  let zone = 'UTC';
  if (offsetMin !== 0) {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
    zone = part?.value && !part.value.startsWith('GMT') ? part.value : off;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${off} ${zone}`;
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** docker/cli DisplayablePorts: sorted, consecutive ports grouped into ranges, mappings last. */
export function displayablePorts(ports: Port[]): string {
  const sorted = [...ports].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    if ((a.IP ?? '') !== (b.IP ?? '')) return (a.IP ?? '') < (b.IP ?? '') ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, first: number, last: number): string => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip) group = `${ip}:${group}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(formGroup(key, g.first, g.last));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

function labelsString(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** One `ps` row (docker/cli formatter.ContainerContext). */
export class ContainerRow {
  readonly [GO_TYPE] = '*formatter.ContainerContext';
  static readonly HEADERS: Record<string, string> = {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Command: 'COMMAND',
    CreatedAt: 'CREATED AT',
    RunningFor: 'CREATED',
    Ports: 'PORTS',
    State: 'STATE',
    Status: 'STATUS',
    Size: 'SIZE',
    Names: 'NAMES',
    Labels: 'LABELS',
    Label: 'LABEL',
    Mounts: 'MOUNTS',
    LocalVolumes: 'LOCAL VOLUMES',
    Networks: 'NETWORKS',
  };
  readonly #c: ContainerSummary;
  readonly #trunc: boolean;
  readonly #now: number;

  constructor(c: ContainerSummary, options: { trunc: boolean; now: number }) {
    this.#c = c;
    this.#trunc = options.trunc;
    this.#now = options.now;
  }

  get ID(): string {
    return this.#trunc ? truncateId(this.#c.Id) : this.#c.Id;
  }
  get Names(): string {
    const names: string[] = [];
    for (const name of this.#c.Names ?? []) {
      if (this.#trunc) {
        // Link names ("/other/alias") are hidden unless --no-trunc.
        const parts = name.split('/');
        if (parts.length === 2) names.push(parts[1]!);
      } else {
        names.push(name.slice(1));
      }
    }
    return names.join(',');
  }
  get Image(): string {
    let image = this.#c.Image ?? '';
    if (!image) return '<no image>';
    if (this.#trunc) {
      const t = truncateId(image);
      if (this.#c.ImageID && truncateId(this.#c.ImageID) === t) image = t;
      // A digested reference shows as its name only, as docker's does.
      const at = image.indexOf('@');
      if (at > 0) image = image.slice(0, at);
    }
    return image;
  }
  get Command(): string {
    const cmd = this.#c.Command ?? '';
    return JSON.stringify(this.#trunc ? ellipsis(cmd, 20) : cmd);
  }
  get CreatedAt(): string {
    return goTimeString(this.#c.Created ?? 0);
  }
  get RunningFor(): string {
    return `${humanDuration(this.#now - (this.#c.Created ?? 0) * 1000)} ago`;
  }
  get Ports(): string {
    return displayablePorts(this.#c.Ports ?? []);
  }
  get State(): string {
    return this.#c.State ?? '';
  }
  get Status(): string {
    return this.#c.Status ?? '';
  }
  get Size(): string {
    const rw = humanSize(this.#c.SizeRw ?? 0, 3);
    if ((this.#c.SizeRootFs ?? 0) > 0) return `${rw} (virtual ${humanSize(this.#c.SizeRootFs!, 3)})`;
    return rw;
  }
  get Labels(): string {
    return labelsString(this.#c.Labels);
  }
  Label(name: string): string {
    return this.#c.Labels?.[name] ?? '';
  }
  get Mounts(): string {
    return (this.#c.Mounts ?? [])
      .map((m) => {
        const name = m.Name || m.Source || '';
        return this.#trunc ? ellipsis(name, 15) : name;
      })
      .join(',');
  }
  get LocalVolumes(): string {
    return String((this.#c.Mounts ?? []).filter((m) => m.Type === 'volume').length);
  }
  get Networks(): string {
    return Object.keys(this.#c.NetworkSettings?.Networks ?? {}).sort().join(',');
  }
  toJSON(): Record<string, string> {
    return {
      Command: this.Command,
      CreatedAt: this.CreatedAt,
      ID: this.ID,
      Image: this.Image,
      Labels: this.Labels,
      LocalVolumes: this.LocalVolumes,
      Mounts: this.Mounts,
      Names: this.Names,
      Networks: this.Networks,
      Ports: this.Ports,
      RunningFor: this.RunningFor,
      Size: this.Size,
      State: this.State,
      Status: this.Status,
    };
  }
}

/** One `images` row (docker/cli formatter.ImageContext): one per repository tag. */
export class ImageRow {
  readonly [GO_TYPE] = '*formatter.ImageContext';
  static readonly HEADERS: Record<string, string> = {
    ID: 'IMAGE ID',
    Repository: 'REPOSITORY',
    Tag: 'TAG',
    Digest: 'DIGEST',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    Size: 'SIZE',
    Containers: 'CONTAINERS',
    VirtualSize: 'VIRTUAL SIZE',
    SharedSize: 'SHARED SIZE',
    UniqueSize: 'UNIQUE SIZE',
  };
  readonly #i: ImageSummary;
  readonly #trunc: boolean;
  readonly #now: number;
  readonly Repository: string;
  readonly Tag: string;
  readonly Digest: string;

  constructor(i: ImageSummary, row: { repository: string; tag: string; digest: string }, options: { trunc: boolean; now: number }) {
    this.#i = i;
    this.#trunc = options.trunc;
    this.#now = options.now;
    this.Repository = row.repository;
    this.Tag = row.tag;
    this.Digest = row.digest;
  }

  get ID(): string {
    return this.#trunc ? truncateId(this.#i.Id) : this.#i.Id;
  }
  get CreatedSince(): string {
    if (!this.#i.Created) return 'N/A';
    return `${humanDuration(this.#now - this.#i.Created * 1000)} ago`;
  }
  get CreatedAt(): string {
    return goTimeString(this.#i.Created ?? 0);
  }
  get Size(): string {
    return humanSize(this.#i.Size ?? 0, 3);
  }
  get Containers(): string {
    const n = this.#i.Containers ?? -1;
    return n === -1 ? 'N/A' : String(n);
  }
  get VirtualSize(): string {
    return humanSize(this.#i.VirtualSize ?? this.#i.Size ?? 0, 3);
  }
  get SharedSize(): string {
    const s = this.#i.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSize(s, 3);
  }
  get UniqueSize(): string {
    const s = this.#i.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSize((this.#i.Size ?? 0) - s, 3);
  }
  toJSON(): Record<string, string> {
    return {
      Containers: this.Containers,
      CreatedAt: this.CreatedAt,
      CreatedSince: this.CreatedSince,
      Digest: this.Digest,
      ID: this.ID,
      Repository: this.Repository,
      SharedSize: this.SharedSize,
      Size: this.Size,
      Tag: this.Tag,
      UniqueSize: this.UniqueSize,
      VirtualSize: this.VirtualSize,
    };
  }
}

/** Splits `repo:tag` at the tag colon (a colon after the last slash). */
export function splitRepoTag(ref: string): { repository: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: '<none>' };
}

/** The `images` rows for one image, as docker lists them: one per tag, or `<none>` rows. */
export function imageRows(i: ImageSummary): Array<{ repository: string; tag: string; digest: string }> {
  const tags = (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  const digests = (i.RepoDigests ?? []).filter((d) => d !== '<none>@<none>');
  const digestFor = (repo: string): string => {
    const d = digests.find((x) => x.startsWith(`${repo}@`));
    return d ? d.slice(d.indexOf('@') + 1) : '<none>';
  };
  if (tags.length > 0) return tags.map((t) => ({ ...splitRepoTag(t), digest: digestFor(splitRepoTag(t).repository) }));
  if (digests.length > 0) {
    return digests.map((d) => ({ repository: d.slice(0, d.indexOf('@')), tag: '<none>', digest: d.slice(d.indexOf('@') + 1) }));
  }
  return [{ repository: '<none>', tag: '<none>', digest: '<none>' }];
}
