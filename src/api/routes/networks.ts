/**
 * Docker's network endpoints: GET /networks, GET /networks/{id}, POST /networks/create,
 * DELETE /networks/{id}, POST /networks/{id}/connect, POST /networks/{id}/disconnect,
 * POST /networks/prune. Shapes as moby's api/swagger.yaml (Network, NetworkCreateRequest).
 */
import { InvalidParameterError } from '../../common/errors.js';
import type { ContainerService } from '../../engine/container-service.js';
import type { NetworkService } from '../../network/network-service.js';
import type { NetworkRecord } from '../../network/types.js';
import { Router, queryFilters, readJson, sendEmpty, sendJson } from '../router.js';

type Json = Record<string, unknown>;

export function networkJson(n: NetworkRecord, containers: Json | undefined): Json {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: n.enableIPv6 ?? false,
    IPAM: {
      Driver: n.ipam.driver,
      Options: Object.keys(n.ipam.options).length ? n.ipam.options : null,
      Config: n.ipam.config.map((c) => ({
        Subnet: c.subnet,
        Gateway: c.gateway,
        ...(c.ipRange ? { IPRange: c.ipRange } : {}),
        ...(c.auxAddresses && Object.keys(c.auxAddresses).length ? { AuxiliaryAddresses: c.auxAddresses } : {}),
      })),
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers ?? {},
    Options: n.options,
    Labels: n.labels,
  };
}

function str(body: Json, key: string, path = ''): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidParameterError(`invalid JSON: field ${path}${key} must be a string`);
  return v;
}

function bool(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidParameterError(`invalid JSON: field ${key} must be a boolean`);
  return v;
}

function strMap(body: Json, key: string, path = ''): Record<string, string> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`invalid JSON: field ${path}${key} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (typeof x !== 'string') throw new InvalidParameterError(`invalid JSON: field ${path}${key}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

/** EndpointSettings (NetworkingConfig.EndpointsConfig[x], connect's EndpointConfig) → the engine's request. */
export function endpointRequest(ec: Json | undefined): { aliases?: string[]; ipv4Address?: string; ipv6Address?: string; linkLocalIPs?: string[]; macAddress?: string; links?: string[]; driverOpts?: Record<string, string> } {
  if (!ec) return {};
  if (typeof ec !== 'object' || Array.isArray(ec)) throw new InvalidParameterError('invalid JSON: EndpointConfig must be an object');
  const ipam = (ec['IPAMConfig'] ?? undefined) as Json | undefined;
  const aliases = ec['Aliases'];
  if (aliases !== undefined && aliases !== null && (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string'))) {
    throw new InvalidParameterError('invalid JSON: field Aliases must be an array of strings');
  }
  const ip = ipam ? str(ipam, 'IPv4Address', 'IPAMConfig.') : undefined;
  const ip6 = ipam ? str(ipam, 'IPv6Address', 'IPAMConfig.') : undefined;
  const ll = ipam?.['LinkLocalIPs'];
  if (ll !== undefined && ll !== null && (!Array.isArray(ll) || !ll.every((a) => typeof a === 'string'))) {
    throw new InvalidParameterError('invalid JSON: field IPAMConfig.LinkLocalIPs must be an array of strings');
  }
  const mac = str(ec, 'MacAddress');
  const links = ec['Links'];
  if (links !== undefined && links !== null && (!Array.isArray(links) || !links.every((a) => typeof a === 'string'))) {
    throw new InvalidParameterError('invalid JSON: field Links must be an array of strings');
  }
  const driverOpts = strMap(ec, 'DriverOpts');
  return {
    ...(links?.length ? { links: links as string[] } : {}),
    ...(driverOpts && Object.keys(driverOpts).length ? { driverOpts } : {}),
    ...(aliases ? { aliases: aliases as string[] } : {}),
    ...(ip ? { ipv4Address: ip } : {}),
    ...(ip6 ? { ipv6Address: ip6 } : {}),
    ...(Array.isArray(ll) && ll.length ? { linkLocalIPs: ll as string[] } : {}),
    ...(mac ? { macAddress: mac } : {}),
  };
}

export function registerNetworkRoutes(router: Router, deps: { networks: NetworkService; containers: ContainerService }): void {
  const { networks, containers } = deps;

  const containersOf = (n: NetworkRecord): Json => {
    const out: Json = {};
    for (const e of networks.endpointsOf(n)) {
      out[e.containerId] = {
        Name: e.name,
        EndpointID: e.ep.endpointId,
        MacAddress: e.ep.macAddress,
        IPv4Address: `${e.ep.ipAddress}/${e.ep.ipPrefixLen}`,
        IPv6Address: e.ep.globalIPv6Address ? `${e.ep.globalIPv6Address}/${e.ep.globalIPv6PrefixLen}` : '',
      };
    }
    return out;
  };

  router.get('/networks', (ctx) => {
    const list = networks.list(queryFilters(ctx.query));
    sendJson(ctx.res, 200, list.map((n) => networkJson(n, {})));
  });

  router.post('/networks/prune', async (ctx) => {
    const deleted = await networks.prune(queryFilters(ctx.query));
    sendJson(ctx.res, 200, { NetworksDeleted: deleted });
  });

  router.post('/networks/create', async (ctx) => {
    const body = await readJson<Json>(ctx.req);
    const ipam = body['IPAM'] as Json | undefined | null;
    if (ipam !== undefined && ipam !== null && (typeof ipam !== 'object' || Array.isArray(ipam))) throw new InvalidParameterError('invalid JSON: field IPAM must be an object');
    const cfg = ipam?.['Config'];
    if (cfg !== undefined && cfg !== null && (!Array.isArray(cfg) || !cfg.every((c) => c && typeof c === 'object' && !Array.isArray(c)))) {
      throw new InvalidParameterError('invalid JSON: field IPAM.Config must be an array of objects');
    }
    const rec = await networks.create({
      name: str(body, 'Name') ?? '',
      driver: str(body, 'Driver'),
      internal: bool(body, 'Internal'),
      enableIPv6: bool(body, 'EnableIPv6'),
      attachable: bool(body, 'Attachable'),
      labels: strMap(body, 'Labels'),
      options: strMap(body, 'Options'),
      ipam: ipam
        ? {
            driver: str(ipam, 'Driver', 'IPAM.'),
            options: strMap(ipam, 'Options', 'IPAM.'),
            config: ((cfg as Json[] | undefined) ?? []).map((c) => ({
              subnet: str(c, 'Subnet', 'IPAM.Config.'),
              gateway: str(c, 'Gateway', 'IPAM.Config.'),
              ipRange: str(c, 'IPRange', 'IPAM.Config.'),
              auxAddresses: strMap(c, 'AuxiliaryAddresses', 'IPAM.Config.'),
            })),
          }
        : undefined,
    });
    sendJson(ctx.res, 201, { Id: rec.id, Warning: '' });
  });

  router.get('/networks/:id', (ctx) => {
    const n = networks.get(ctx.params['id']!);
    sendJson(ctx.res, 200, networkJson(n, containersOf(n)));
  });

  router.delete('/networks/:id', async (ctx) => {
    await networks.remove(ctx.params['id']!);
    sendEmpty(ctx.res, 204);
  });

  router.post('/networks/:id/connect', async (ctx) => {
    const body = await readJson<Json>(ctx.req);
    const container = str(body, 'Container');
    if (!container) throw new InvalidParameterError('container is required');
    const net = networks.get(ctx.params['id']!);
    await containers.connectNetwork(container, net.id, endpointRequest(body['EndpointConfig'] as Json | undefined));
    sendEmpty(ctx.res, 200);
  });

  router.post('/networks/:id/disconnect', async (ctx) => {
    const body = await readJson<Json>(ctx.req);
    const container = str(body, 'Container');
    if (!container) throw new InvalidParameterError('container is required');
    const net = networks.get(ctx.params['id']!);
    await containers.disconnectNetwork(container, net.id, { force: bool(body, 'Force') });
    sendEmpty(ctx.res, 200);
  });
}
