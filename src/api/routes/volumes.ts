import { InvalidParameterError } from '../../common/errors.js';
import type { VolumeRecord, VolumeService } from '../../volume/volume-service.js';
import { Router, queryBool, queryFilters, readJson, sendEmpty, sendJson } from '../router.js';
import { compareVersions } from '../version.js';

export interface VolumeRouteDeps {
  volumes: VolumeService;
}

type Json = Record<string, unknown>;

/** A volume as Docker's API shows it (`Volume` in the Engine API). */
export function volumeJson(v: VolumeRecord): Json {
  return {
    CreatedAt: v.created,
    Driver: v.driver,
    Labels: Object.keys(v.labels).length ? v.labels : null,
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: Object.keys(v.options).length ? v.options : null,
    Scope: 'local',
  };
}

function stringMap(body: Json, key: string): Record<string, string> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new InvalidParameterError(`invalid JSON: field ${key} must be an object of strings`);
  }
  return v as Record<string, string>;
}

/** GET/POST/DELETE /volumes…: Docker's local volumes. */
export function registerVolumeRoutes(router: Router, deps: VolumeRouteDeps): void {
  const { volumes } = deps;

  router.get('/volumes', (ctx) => {
    sendJson(ctx.res, 200, { Volumes: volumes.list(queryFilters(ctx.query)).map(volumeJson), Warnings: [] });
  });

  router.post('/volumes/create', async (ctx) => {
    const body = await readJson(ctx.req);
    for (const k of ['Name', 'Driver']) {
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw new InvalidParameterError(`invalid JSON: field ${k} must be a string`);
    }
    const { volume } = await volumes.create({
      name: (body['Name'] as string | undefined) || undefined,
      driver: (body['Driver'] as string | undefined) || undefined,
      labels: stringMap(body, 'Labels'),
      options: stringMap(body, 'DriverOpts'),
    });
    sendJson(ctx.res, 201, volumeJson(volume));
  });

  router.post('/volumes/prune', async (ctx) => {
    const filters = queryFilters(ctx.query);
    // API 1.42 changed prune to anonymous volumes only; older clients still prune every unused one.
    if (ctx.apiVersion && compareVersions(ctx.apiVersion, '1.42') < 0 && !filters.has('all')) filters.set('all', ['true']);
    const { deleted, reclaimed } = await volumes.prune(filters);
    sendJson(ctx.res, 200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
  });

  router.get('/volumes/:name', (ctx) => {
    sendJson(ctx.res, 200, volumeJson(volumes.get(ctx.params.name!)));
  });

  router.delete('/volumes/:name', async (ctx) => {
    await volumes.remove(ctx.params.name!, { force: queryBool(ctx.query, 'force') });
    sendEmpty(ctx.res, 204);
  });
}
