/**
 * Moves one container from one daemon to another through this client (issue 23): a cold move.
 *
 * 1. Read the container (inspect) and the image's layer list on the source; ask the target which
 *    of the image, its layers (by chainID) and blobs (by digest) it already has.
 * 2. Stop the source container (when running); export its state there (writable layer as an
 *    OCI layer tar with whiteouts, anonymous volumes, named volumes with `withVolumes`), each
 *    part with its sha256 and size.
 * 3. Re-create on the target the user networks it lacks; send the blobs the target lacks and
 *    have it assemble the image; open an import session announcing every part; stream each
 *    part source → target (the target verifies it); commit (the target creates the volumes and
 *    the container, fills them, and only then gives it its name).
 * 4. Only after the target confirmed: remove the source container (unless `keepSource`), start
 *    the target one with `start`.
 *
 * Any failure before the commit answered: the target's session is aborted (it removes its own
 * leftovers, and sweeps them at its next start if it died), networks made for the move are
 * removed, the source's export is discarded and the source container restarted if it was
 * running. The source is never changed but for the stop until the target has the container.
 */
import { Transform, type Readable } from 'node:stream';
import type { ApiClient } from '../../client/client.js';
import { isApiStatus } from '../../client/errors.js';
import { pathPart } from '../../client/client.js';

export interface MoveOptions {
  keepSource?: boolean;
  withVolumes?: boolean;
  start?: boolean;
  dryRun?: boolean;
  /**
   * Named volumes this same operation already moved to the target (`compose move`: services
   * sharing a volume): joined there, not copied again. Moved volumes are added to it.
   */
  volumesOnTarget?: Set<string>;
  /** Aborts the move (Ctrl-C) up to the commit; the source is then restored. After the commit the move completes. */
  signal?: AbortSignal;
  /** Progress lines (per layer, per part) and notices. */
  progress?: MoveProgress;
}

/** Where progress goes: `update` redraws an item (TTY), `done` prints its last line. */
export interface MoveProgress {
  update(id: string, text: string): void;
  done(id: string, text: string): void;
  note(text: string): void;
}

interface WireLayer {
  Digest: string;
  MediaType: string;
  Size: number;
  DiffId: string;
  ChainId: string;
}
interface WirePart {
  Id: string;
  Kind: 'rw' | 'volume';
  Digest: string;
  Size: number;
  Volume?: { Name: string; Destination: string; Anonymous: boolean };
}
interface ExportAnswer {
  Session: string | null;
  ContainerId: string;
  Name: string;
  ImageId: string;
  Parts: WirePart[];
  Warnings: string[];
}

/** One item the move sends (or would send), with its size in bytes. */
export interface PlannedItem {
  what: 'image config' | 'layer' | 'writable layer' | 'volume';
  id: string;
  detail: string;
  size: number;
}

export interface MoveResult {
  name: string;
  targetId?: string;
  /** What was (or, for a dry run, would be) sent to the target, in order. */
  items: PlannedItem[];
  /** Layers the target already had (not sent). */
  skippedLayers: number;
  /** Bytes written to the target: image blobs, writable layer, volumes. */
  bytes: { image: number; rw: number; volumes: number; total: number };
  warnings: string[];
}

const DEFAULT_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

export function humanBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

function bar(cur: number, total: number): string {
  const width = 40;
  const n = total > 0 ? Math.min(width, Math.floor((cur / total) * width)) : width;
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? '>' : ''}${' '.repeat(width - n)}] ${humanBytes(cur)}/${humanBytes(total)}`;
}

/** Counts bytes through a stream and reports them. */
function counter(onBytes: (n: number) => void): Transform {
  let n = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        onBytes(n);
      }
      cb(null, chunk);
    },
    flush(cb) {
      onBytes(n);
      cb();
    },
  });
}

/**
 * The create body that makes the same container: the inspected Config and HostConfig, and the
 * networks with their aliases (without the source's short ID, which Docker adds by itself).
 */
export function createBodyFromInspect(inspect: Record<string, any>): Record<string, unknown> {
  const shortId = String(inspect['Id'] ?? '').slice(0, 12);
  const endpoints: Record<string, unknown> = {};
  for (const [net, ep] of Object.entries((inspect['NetworkSettings']?.['Networks'] ?? {}) as Record<string, any>)) {
    const aliases = ((ep?.['Aliases'] ?? []) as string[]).filter((a) => a !== shortId);
    endpoints[net] = {
      ...(aliases.length ? { Aliases: aliases } : {}),
      ...(ep?.['IPAMConfig'] ? { IPAMConfig: ep['IPAMConfig'] } : {}),
      ...(ep?.['Links'] ? { Links: ep['Links'] } : {}),
      ...(ep?.['DriverOpts'] ? { DriverOpts: ep['DriverOpts'] } : {}),
    };
  }
  return { ...(inspect['Config'] as object), HostConfig: inspect['HostConfig'], NetworkingConfig: { EndpointsConfig: endpoints } };
}

export class MoveError extends Error {
  override readonly name = 'MoveError';
}

/**
 * Containers a move cannot carry as they are: refused before anything changes. One started with
 * `--rm` would be removed by the stop; one sharing another container's namespaces or volumes,
 * or linked to one, names a container the target does not have.
 */
export function refuseUnmovable(inspect: Record<string, any>, name: string, running: boolean): void {
  const hc = (inspect['HostConfig'] ?? {}) as Record<string, any>;
  if (hc['AutoRemove'] && running) throw new MoveError(`container ${name} runs with --rm: stopping it for the move would remove it (stop it yourself first if its state does not matter, or re-create it without --rm)`);
  for (const key of ['NetworkMode', 'PidMode', 'IpcMode']) {
    const v = String(hc[key] ?? '');
    if (v.startsWith('container:')) throw new MoveError(`container ${name} shares the ${key.replace('Mode', '').toLowerCase()} namespace of ${v.slice(10)}: move cannot carry that; re-create it without ${key} or move it as part of a compose project`);
  }
  if ((hc['VolumesFrom'] ?? []).length) throw new MoveError(`container ${name} uses --volumes-from ${(hc['VolumesFrom'] as string[]).join(', ')}: those volumes belong to other containers; move cannot carry that`);
  if ((hc['Links'] ?? []).length) throw new MoveError(`container ${name} has legacy --link links: move cannot carry them (use a user network and aliases)`);
}

/** Moves container `ref` from `source` to `target` (see the module comment). */
export async function moveContainer(source: ApiClient, target: ApiClient, ref: string, options: MoveOptions = {}): Promise<MoveResult> {
  const p = options.progress;
  const inspect = (await source.containerInspect(ref)) as Record<string, any>;
  const name = String(inspect['Name'] ?? '').replace(/^\//, '');
  const id = String(inspect['Id']);
  const imageId = String(inspect['Image']);
  const state = (inspect['State'] ?? {}) as { Running?: boolean; Paused?: boolean; Restarting?: boolean };
  const wasRunning = !!(state.Running || state.Paused || state.Restarting);
  refuseUnmovable(inspect, name, wasRunning);
  const signal = options.signal;

  // The target must not have a container of that name (the import checks it again).
  try {
    const other = (await target.containerInspect(name)) as Record<string, any>;
    if (String(other['Name']).replace(/^\//, '') === name) throw new MoveError(`the target already has a container named "${name}" (${String(other['Id']).slice(0, 12)}): remove or rename it first`);
  } catch (e) {
    if (!isApiStatus(e, 404)) throw e;
  }

  // What the target lacks of the image.
  const image = await source.json<{ Id: string; ConfigSize: number; Layers: WireLayer[]; RepoTags: string[] }>('GET', `/berth/images/${pathPart(imageId)}/layers`);
  const presence = await target.json<{ Image: boolean; Config: boolean; Layers: boolean[]; Blobs: boolean[] }>('POST', '/berth/images/presence', {
    body: { Id: image.Id, Layers: image.Layers.map((l) => ({ ChainId: l.ChainId, Digest: l.Digest })) },
  });
  const items: PlannedItem[] = [];
  let skippedLayers = 0;
  const sendLayers: WireLayer[] = [];
  if (!presence.Image) {
    if (!presence.Config) items.push({ what: 'image config', id: image.Id.slice(7, 19), detail: image.Id, size: image.ConfigSize });
    image.Layers.forEach((l, i) => {
      if (presence.Layers[i] || presence.Blobs[i]) skippedLayers++;
      else {
        sendLayers.push(l);
        items.push({ what: 'layer', id: l.Digest.slice(7, 19), detail: l.Digest, size: l.Size });
      }
    });
  } else skippedLayers = image.Layers.length;

  const partItems = (parts: WirePart[]): PlannedItem[] =>
    parts.map((x) => (x.Kind === 'rw' ? { what: 'writable layer' as const, id: x.Id, detail: 'changes since the image', size: x.Size } : { what: 'volume' as const, id: x.Id, detail: `${x.Volume?.Anonymous ? 'anonymous volume' : `volume ${x.Volume?.Name}`} at ${x.Volume?.Destination}`, size: x.Size }));
  const sum = (list: PlannedItem[], whats: PlannedItem['what'][]) => list.filter((i) => whats.includes(i.what)).reduce((n, i) => n + i.size, 0);
  const result = (all: PlannedItem[], warnings: string[], targetId?: string): MoveResult => {
    const img = sum(all, ['image config', 'layer']);
    const rw = sum(all, ['writable layer']);
    const vols = sum(all, ['volume']);
    return { name, ...(targetId ? { targetId } : {}), items: all, skippedLayers, bytes: { image: img, rw, volumes: vols, total: img + rw + vols }, warnings };
  };

  if (options.dryRun) {
    const plan = await source.json<ExportAnswer>('POST', `/containers/${pathPart(id)}/export-state`, { query: { volumes: !!options.withVolumes, dryRun: true } });
    const joined = options.volumesOnTarget;
    const parts = plan.Parts.filter((x) => x.Kind !== 'volume' || !x.Volume || x.Volume.Anonymous || !joined?.has(x.Volume.Name));
    for (const x of parts) if (x.Kind === 'volume' && x.Volume && !x.Volume.Anonymous) joined?.add(x.Volume.Name);
    return result([...items, ...partItems(parts)], plan.Warnings);
  }

  // ---- the move: from here on, every failure restores the source ----
  let stopped = false;
  let exportSession: string | undefined;
  let importSession: string | undefined;
  const madeNetworks: string[] = [];
  let committed = false;
  try {
    if (wasRunning) {
      p?.note(`Stopping ${name} on the source`);
      if (state.Paused) await source.containerUnpause(id);
      await source.containerStop(id);
      stopped = true;
    }
    signal?.throwIfAborted();
    const exported = await source.json<ExportAnswer>('POST', `/containers/${pathPart(id)}/export-state`, { query: { volumes: !!options.withVolumes }, ...(signal ? { signal } : {}) });
    exportSession = exported.Session ?? undefined;
    if (!exportSession) throw new MoveError('the source daemon did not open an export session');
    const joined = options.volumesOnTarget ?? new Set<string>();
    exported.Parts = exported.Parts.filter((x) => {
      if (x.Kind !== 'volume' || !x.Volume || x.Volume.Anonymous || !joined.has(x.Volume.Name)) return true;
      p?.note(`Volume ${x.Volume.Name} is already on the target (moved with an earlier container): joined`);
      return false;
    });
    const all = [...items, ...partItems(exported.Parts)];
    for (const w of exported.Warnings) p?.note(`Warning: ${w}`);

    // Networks: joined by name on the target, made there (same driver and options) when missing.
    const nets = Object.keys((inspect['NetworkSettings']?.['Networks'] ?? {}) as object).filter((n) => !DEFAULT_NETWORKS.has(n));
    for (const net of nets) {
      try {
        await target.networkInspect(net);
      } catch (e) {
        if (!isApiStatus(e, 404)) throw e;
        const src = (await source.networkInspect(net)) as Record<string, any>;
        await target.networkCreate({
          Name: net,
          Driver: src['Driver'] ?? 'bridge',
          Options: src['Options'] ?? {},
          Labels: src['Labels'] ?? {},
          Internal: !!src['Internal'],
          Attachable: !!src['Attachable'],
          EnableIPv6: !!src['EnableIPv6'],
        });
        madeNetworks.push(net);
        p?.note(`Created network ${net} on the target`);
      }
    }

    // The image: only the blobs the target lacks, each verified by digest on arrival.
    if (!presence.Image) {
      const blobs = [...(presence.Config ? [] : [{ digest: image.Id, size: image.ConfigSize, label: `${image.Id.slice(7, 19)} (config)` }]), ...sendLayers.map((l) => ({ digest: l.Digest, size: l.Size, label: l.Digest.slice(7, 19) }))];
      for (const b of blobs) await relay(source, target, `/berth/blobs/${b.digest}`, `/berth/blobs/${b.digest}`, b.size, b.label, p, signal, { size: b.size });
      image.Layers.forEach((l, i) => {
        if (presence.Layers[i] || presence.Blobs[i]) p?.done(l.Digest.slice(7, 19), 'Already exists');
      });
      await target.json('POST', '/berth/images/assemble', { body: { Id: image.Id, Layers: image.Layers, RepoTags: image.RepoTags } });
    } else p?.note(`The target already has image ${image.Id.slice(7, 19)}`);

    const begun = await target.json<{ Session: string }>('POST', '/berth/move/imports', {
      body: { Name: name, Config: createBodyFromInspect(inspect), ImageId: imageId, Parts: exported.Parts },
    });
    importSession = begun.Session;
    for (const part of exported.Parts) {
      const label = part.Kind === 'rw' ? 'writable layer' : `${part.Volume?.Anonymous ? 'anonymous volume' : `volume ${part.Volume?.Name}`} ${part.Volume?.Destination}`;
      await relay(source, target, `/berth/move/exports/${exportSession}/${part.Id}`, `/berth/move/imports/${importSession}/${part.Id}`, part.Size, label, p, signal);
    }
    // The last moment an interruption gives the container back to the source; the commit itself
    // is not interrupted (the target would finish it anyway), and what follows completes the move.
    signal?.throwIfAborted();
    const made = await target.json<{ Id: string; Warnings: string[] | null }>('POST', `/berth/move/imports/${importSession}/commit`);
    committed = true;
    importSession = undefined;
    for (const x of exported.Parts) if (x.Kind === 'volume' && x.Volume && !x.Volume.Anonymous) options.volumesOnTarget?.add(x.Volume.Name);
    p?.note(`Created ${name} on the target (${made.Id.slice(0, 12)})`);

    // The target has the container: now, and only now, the source goes.
    await source.send('DELETE', `/berth/move/exports/${exportSession}`).catch(() => undefined);
    exportSession = undefined;
    if (options.keepSource) {
      if (wasRunning) await source.containerStart(id);
    } else {
      await source.containerRemove(id, { volumes: true });
      p?.note(`Removed ${name} from the source`);
      // Named volumes may serve other containers there: they stay, and the user is told.
      for (const x of exported.Parts) if (x.Kind === 'volume' && x.Volume && !x.Volume.Anonymous) p?.note(`Volume ${x.Volume.Name} stays on the source (its data is on the target now)`);
    }
    if (options.start) await target.containerStart(made.Id);
    return result(all, [...exported.Warnings, ...(made.Warnings ?? [])], made.Id);
  } catch (err) {
    if (!committed) {
      if (importSession) await target.send('DELETE', `/berth/move/imports/${importSession}`).catch(() => undefined);
      for (const net of madeNetworks.reverse()) await target.networkRemove(net).catch(() => undefined);
      if (exportSession) await source.send('DELETE', `/berth/move/exports/${exportSession}`).catch(() => undefined);
      if (stopped) await source.containerStart(id).catch(() => undefined);
    }
    throw err;
  }
}

/** Streams one blob or part from the source to the target, with progress. */
async function relay(source: ApiClient, target: ApiClient, from: string, to: string, size: number, label: string, p: MoveProgress | undefined, signal: AbortSignal | undefined, query?: Record<string, number>): Promise<void> {
  const res = await source.request('GET', from, signal ? { signal } : {});
  const body: Readable = res.pipe(counter((n) => p?.update(label, `Sending ${bar(n, size)}`)));
  res.on('error', (e) => body.destroy(e));
  try {
    await target.json('PUT', to, { body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size }, ...(query ? { query } : {}), ...(signal ? { signal } : {}) });
  } catch (e) {
    res.destroy();
    throw e;
  }
  p?.done(label, `Sent ${humanBytes(size)}`);
}
