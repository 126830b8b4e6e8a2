import type { Writable } from 'node:stream';
import type { ApiClient } from '../client/client.js';
import { encodeFilters } from '../client/client.js';
import { ApiError, isApiStatus } from '../client/errors.js';
import type { ContainerSummary } from '../wire/api-types.js';
import { COMPOSE_VERSION, LABEL, configHash, createBody, endpointConfig, serviceImage } from './convert.js';
import { ComposeFailure } from './errors.js';
import type { Project, Service } from './model.js';

/**
 * Runs a loaded compose project against a Docker-API daemon through the client: creates the
 * project's networks and volumes, converges containers to the model (create, recreate on a
 * changed config hash or image, scale up and down, start in `depends_on` order honouring the
 * conditions), and the other lifecycle verbs. Builds, pulls and pushes are hooks the CLI
 * supplies (they reuse `berth build/pull/push`). Progress goes to a Reporter in Docker
 * Compose v2's words (`Container p-web-1  Started`).
 */

export class ComposeError extends ComposeFailure {
  readonly code = 'BERTH_ERR_COMPOSE';
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = 'ComposeError';
  }
}

export interface Hooks {
  build(project: Project, service: Service, options: { noCache?: boolean; pull?: boolean; quiet?: boolean }): Promise<void>;
  pull(ref: string, options: { quiet?: boolean }): Promise<void>;
  push(ref: string): Promise<void>;
}

/** Progress lines: ` Container p-web-1  Started` (plain) or ` ✔ Container p-web-1  Started` (TTY). */
export class Reporter {
  constructor(readonly out: Writable, readonly tty: boolean) {}
  event(kind: 'Container' | 'Network' | 'Volume' | 'Image' | 'Service', name: string, status: string): void {
    const done = /^(Started|Created|Recreated|Running|Stopped|Removed|Healthy|Exited|Killed|Restarted|Paused|Unpaused|Built|Pulled|Pushed|Skipped)$/.test(status);
    const label = kind === 'Volume' ? `Volume "${name}"` : `${kind} ${name}`;
    if (this.tty) {
      if (done) this.out.write(` \u001b[32m\u2714\u001b[0m ${label}  \u001b[34m${status}\u001b[0m\n`);
      else if (/Error|failed/.test(status)) this.out.write(` \u001b[31m\u2718\u001b[0m ${label}  ${status}\n`);
    } else {
      this.out.write(` ${label}  ${status}\n`);
    }
  }
  warn(message: string): void {
    this.out.write(`WARN[0000] ${message}\n`);
  }
}

export interface ProjectContainer {
  id: string;
  name: string;
  service: string;
  number: number;
  oneoff: boolean;
  state: string;
  summary: ContainerSummary;
}

function summaryOf(c: ContainerSummary): ProjectContainer {
  const labels = c.Labels ?? {};
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    service: labels[LABEL.service] ?? '',
    number: Number(labels[LABEL.number] ?? 0),
    oneoff: labels[LABEL.oneoff] === 'True',
    state: c.State ?? '',
    summary: c,
  };
}

/** Orders services so that dependencies come first; throws on a cycle. */
export function dependencyOrder(services: Record<string, Service>, names?: string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, path: string[]): void => {
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'visiting') throw new ComposeError(`dependency cycle detected: ${[...path, n].join(' -> ')}`);
    state.set(n, 'visiting');
    for (const dep of Object.keys(services[n]?.depends_on ?? {})) if (services[dep]) visit(dep, [...path, n]);
    state.set(n, 'done');
    order.push(n);
  };
  for (const n of (names ?? Object.keys(services)).slice().sort()) visit(n, []);
  return order;
}

export interface UpOptions {
  services?: string[];
  build?: boolean;
  noBuild?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noDeps?: boolean;
  noStart?: boolean;
  scale?: Record<string, number>;
  removeOrphans?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  timeout?: number;
  quietPull?: boolean;
}

export class ComposeRunner {
  readonly #client: ApiClient;
  readonly project: Project;
  readonly #hooks: Hooks;
  readonly reporter: Reporter;
  #networksSupported: boolean | undefined;

  constructor(client: ApiClient, project: Project, options: { hooks: Hooks; reporter: Reporter }) {
    this.#client = client;
    this.project = project;
    this.#hooks = options.hooks;
    this.reporter = options.reporter;
  }

  get client(): ApiClient {
    return this.#client;
  }

  /** The project's containers (one-off ones too when `oneoff`), sorted by service and number. */
  async containers(options: { all?: boolean; services?: string[]; oneoff?: boolean } = {}): Promise<ProjectContainer[]> {
    const filters: Array<[string, string]> = [['label', `${LABEL.project}=${this.project.name}`]];
    if (!options.oneoff) filters.push(['label', `${LABEL.oneoff}=False`]);
    const list = await this.#client.containerList({ all: options.all ?? true, filters: encodeFilters(filters) });
    return list
      .map(summaryOf)
      .filter((c) => !options.services?.length || options.services.includes(c.service))
      .sort((a, b) => a.service.localeCompare(b.service) || a.number - b.number || a.name.localeCompare(b.name));
  }

  /** Service names given on the command line, checked against the model. */
  selectServices(names: string[] | undefined): string[] {
    if (this.project.fromLabels) {
      if (names?.length) throw new ComposeError('no configuration file provided: not found');
      return [];
    }
    if (!names?.length) return Object.keys(this.project.services);
    for (const n of names) {
      if (!this.project.services[n]) {
        if (this.project.disabledServices[n]) throw new ComposeError(`service ${JSON.stringify(n)} is not enabled by the active profiles`);
        throw new ComposeError(`no such service: ${n}`);
      }
    }
    return names;
  }

  /** Whether the daemon serves /networks; compose falls back to the default network when not. */
  async networksSupported(): Promise<boolean> {
    if (this.#networksSupported !== undefined) return this.#networksSupported;
    try {
      await this.#client.networkList();
      this.#networksSupported = true;
    } catch (err) {
      if (!(err instanceof ApiError) || (err.statusCode !== 404 && err.statusCode !== 501)) throw err;
      this.#networksSupported = false;
      this.reporter.warn('the daemon does not support networks (GET /networks answered ' + err.statusCode + '): services run on its default network and cannot resolve each other by name');
    }
    return this.#networksSupported;
  }

  async ensureNetworks(services: string[]): Promise<void> {
    const used = new Set<string>();
    for (const s of services) for (const n of Object.keys(this.project.services[s]?.networks ?? {})) used.add(n);
    if (used.size === 0 || !(await this.networksSupported())) return;
    for (const key of [...used].sort()) {
      const net = this.project.networks[key]!;
      let existing: { Name: string; Labels?: Record<string, string> | null } | undefined;
      try {
        existing = await this.#client.networkInspect(net.name);
      } catch (err) {
        if (!isApiStatus(err, 404)) throw err;
      }
      if (net.external) {
        if (!existing) throw new ComposeError(`network ${net.name} declared as external, but could not be found`);
        continue;
      }
      if (existing) {
        const p = existing.Labels?.[LABEL.project];
        if (p !== this.project.name) this.reporter.warn(`a network with name ${net.name} exists but was not created for project "${this.project.name}".\nSet \`external: true\` to use an existing network`);
        continue;
      }
      this.reporter.event('Network', net.name, 'Creating');
      const labels = labelMap(net.labels);
      await this.#client.networkCreate({
        Name: net.name,
        Driver: net.driver ?? 'bridge',
        CheckDuplicate: true,
        Internal: !!net.internal,
        Attachable: !!net.attachable,
        EnableIPv6: !!net.enable_ipv6,
        Options: net.driver_opts ?? {},
        ...(net.ipam ? { IPAM: { Driver: net.ipam.driver ?? 'default', Config: (net.ipam.config ?? []).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })) } } : {}),
        Labels: { ...labels, [LABEL.project]: this.project.name, [LABEL.network]: key, [LABEL.version]: COMPOSE_VERSION },
      });
      this.reporter.event('Network', net.name, 'Created');
    }
  }

  async ensureVolumes(services: string[]): Promise<void> {
    const used = new Set<string>();
    for (const s of services) for (const v of this.project.services[s]?.volumes ?? []) if (v.type === 'volume' && v.source) used.add(v.source);
    for (const key of [...used].sort()) {
      const vol = this.project.volumes[key]!;
      let existing: { Name: string; Labels?: Record<string, string> | null } | undefined;
      try {
        existing = await this.#client.volumeInspect(vol.name);
      } catch (err) {
        if (!isApiStatus(err, 404)) throw err;
      }
      if (vol.external) {
        if (!existing) throw new ComposeError(`external volume "${vol.name}" not found`);
        continue;
      }
      if (existing) {
        const p = existing.Labels?.[LABEL.project];
        if (p !== this.project.name) this.reporter.warn(`volume "${vol.name}" already exists but was not created by Docker Compose. Use \`external: true\` to use an existing volume`);
        continue;
      }
      this.reporter.event('Volume', vol.name, 'Creating');
      await this.#client.volumeCreate({
        Name: vol.name,
        Driver: vol.driver ?? 'local',
        DriverOpts: vol.driver_opts ?? {},
        Labels: { ...labelMap(vol.labels), [LABEL.project]: this.project.name, [LABEL.volume]: key, [LABEL.version]: COMPOSE_VERSION },
      });
      this.reporter.event('Volume', vol.name, 'Created');
    }
  }

  /** The image ID a service runs, building or pulling it first when needed. */
  async ensureImage(service: Service, options: { build?: boolean; noBuild?: boolean; quietPull?: boolean }): Promise<string | undefined> {
    const ref = serviceImage(this.project, service);
    const inspect = async (): Promise<string | undefined> => {
      try {
        return String((await this.#client.imageInspect(ref)).Id);
      } catch (err) {
        if (isApiStatus(err, 404)) return undefined;
        throw err;
      }
    };
    let id = await inspect();
    if (service.build && !options.noBuild && (options.build || !id || service.pull_policy === 'build')) {
      await this.#hooks.build(this.project, service, {});
      id = await inspect();
    } else if (!id || service.pull_policy === 'always') {
      if (service.build && options.noBuild && !id) throw new ComposeError(`service "${service.name}" has no image ${ref} and --no-build was given`);
      if (service.pull_policy === 'never' && !id) throw new ComposeError(`No such image: ${ref}`);
      this.reporter.event('Image', ref, 'Pulling');
      await this.#hooks.pull(ref, { quiet: options.quietPull });
      this.reporter.event('Image', ref, 'Pulled');
      id = await inspect();
    }
    return id;
  }

  #withDeps(names: string[]): string[] {
    const out = new Set<string>();
    const add = (n: string): void => {
      if (out.has(n)) return;
      out.add(n);
      for (const d of Object.keys(this.project.services[n]?.depends_on ?? {})) if (this.project.services[d]) add(d);
    };
    names.forEach(add);
    return [...out];
  }

  /** Containers of services no longer in the model. */
  async orphans(): Promise<ProjectContainer[]> {
    const known = new Set([...Object.keys(this.project.services), ...Object.keys(this.project.disabledServices)]);
    return (await this.containers({ all: true })).filter((c) => !known.has(c.service));
  }

  async up(options: UpOptions = {}): Promise<ProjectContainer[]> {
    if (this.project.fromLabels) throw new ComposeError('no configuration file provided: not found');
    const selected = this.selectServices(options.services);
    const targets = options.noDeps ? selected : this.#withDeps(selected);
    const order = dependencyOrder(this.project.services, targets);
    const orphans = await this.orphans();
    if (orphans.length) {
      if (options.removeOrphans) {
        for (const o of orphans) await this.#removeContainer(o, { stop: true, timeout: options.timeout });
      } else {
        this.reporter.warn(`Found orphan containers ([${orphans.map((o) => o.name).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`);
      }
    }
    const images = new Map<string, string | undefined>();
    for (const s of order) images.set(s, await this.ensureImage(this.project.services[s]!, options));
    await this.ensureNetworks(order);
    await this.ensureVolumes(order);
    const networks = await this.networksSupported();

    // Phase 1: create / recreate / remove extra replicas, dependencies first.
    const recreated = new Set<string>();
    const toStart: ProjectContainer[] = [];
    for (const sname of order) {
      const service = this.project.services[sname]!;
      const existing = await this.containers({ services: [sname] });
      const scale = options.scale?.[sname] ?? service.scale;
      const hash = configHash(service);
      const imageId = images.get(sname);
      // A dependency recreated with `restart: true` restarts this service too.
      const depRestart = Object.entries(service.depends_on ?? {}).some(([d, c]) => c.restart && recreated.has(d));
      for (const c of existing.filter((c) => c.number > scale || c.number < 1).reverse()) await this.#removeContainer(c, { stop: true, timeout: options.timeout });
      const keep = existing.filter((c) => c.number >= 1 && c.number <= scale);
      const used = new Set(keep.map((c) => c.number));
      for (const c of keep) {
        const labels = c.summary.Labels ?? {};
        const diverged = labels[LABEL.configHash] !== hash || (imageId !== undefined && labels[LABEL.image] !== undefined && labels[LABEL.image] !== imageId);
        if (!options.noRecreate && (options.forceRecreate || diverged)) {
          this.reporter.event('Container', c.name, 'Recreate');
          await this.#stopContainer(c, options.timeout, true);
          await this.#client.containerRemove(c.id, { force: true });
          const created = await this.#create(service, c.number, imageId, networks);
          this.reporter.event('Container', created.name, 'Recreated');
          recreated.add(sname);
          toStart.push(created);
        } else if (depRestart && c.state === 'running') {
          this.reporter.event('Container', c.name, 'Restarting');
          await this.#client.containerRestart(c.id, { timeout: options.timeout });
          this.reporter.event('Container', c.name, 'Restarted');
        } else {
          toStart.push(c);
        }
      }
      for (let n = 1; used.size < scale; n++) {
        if (used.has(n)) continue;
        used.add(n);
        const name = `${this.project.name}-${sname}-${n}`;
        this.reporter.event('Container', service.container_name ?? name, 'Creating');
        const created = await this.#create(service, n, imageId, networks);
        this.reporter.event('Container', created.name, 'Created');
        toStart.push(created);
      }
    }
    if (options.noStart) return toStart;
    // Phase 2: start in dependency order, waiting for the conditions of each dependency.
    for (const sname of order) {
      const service = this.project.services[sname]!;
      await this.#waitForDependencies(service);
      for (const c of toStart.filter((c) => c.service === sname)) {
        const fresh = await this.#client.containerInspect(c.id);
        if ((fresh.State as { Running?: boolean } | undefined)?.Running) {
          this.reporter.event('Container', c.name, 'Running');
          continue;
        }
        this.reporter.event('Container', c.name, 'Starting');
        await this.#client.containerStart(c.id);
        this.reporter.event('Container', c.name, 'Started');
      }
    }
    if (options.wait) await this.waitHealthy(order, options.waitTimeout);
    return toStart;
  }

  async #create(service: Service, n: number, imageId: string | undefined, networks: boolean): Promise<ProjectContainer> {
    const { name, body } = createBody(this.project, service, { number: n, imageId, networks });
    const r = await this.#client.containerCreate(body, name);
    await this.#connectExtraNetworks(service, r.Id, name, networks);
    return { id: r.Id, name, service: service.name, number: n, oneoff: false, state: 'created', summary: { Id: r.Id, Labels: body.Labels } as ContainerSummary };
  }

  async #connectExtraNetworks(service: Service, id: string, name: string, networks: boolean): Promise<void> {
    if (!networks || service.network_mode || !service.networks) return;
    for (const [key, cfg] of Object.entries(service.networks).slice(1)) {
      const net = this.project.networks[key]!;
      await this.#client.networkConnect(net.name, { Container: id, EndpointConfig: endpointConfig(service, cfg, name) });
    }
  }

  /** Creates a one-off container (`compose run`); returns its ID and name. */
  async createOneoff(service: Service, run: NonNullable<Parameters<typeof createBody>[2]['run']>, options: { noDeps?: boolean; build?: boolean; quietPull?: boolean } = {}): Promise<{ id: string; name: string }> {
    if (!options.noDeps) {
      const deps = Object.keys(service.depends_on ?? {}).filter((d) => this.project.services[d]);
      if (deps.length) await this.up({ services: deps, quietPull: options.quietPull });
    }
    const imageId = await this.ensureImage(service, { build: options.build, quietPull: options.quietPull });
    await this.ensureNetworks([service.name]);
    await this.ensureVolumes([service.name]);
    const networks = await this.networksSupported();
    const existing = await this.containers({ services: [service.name], oneoff: true });
    const number = Math.max(0, ...existing.filter((c) => c.oneoff).map((c) => c.number)) + 1;
    const { name, body } = createBody(this.project, service, { number, oneoff: true, imageId, networks, run });
    const r = await this.#client.containerCreate(body, name);
    await this.#connectExtraNetworks(service, r.Id, name, networks);
    return { id: r.Id, name };
  }

  async #waitForDependencies(service: Service): Promise<void> {
    for (const [dep, cond] of Object.entries(service.depends_on ?? {})) {
      if (!this.project.services[dep]) continue;
      if (cond.condition === 'service_started') continue;
      const containers = await this.containers({ services: [dep] });
      for (const c of containers) {
        this.reporter.event('Container', c.name, 'Waiting');
        if (cond.condition === 'service_healthy') {
          await this.#waitHealthy(c, cond.required !== false);
          this.reporter.event('Container', c.name, 'Healthy');
        } else {
          const r = await this.#client.containerWait(c.id, 'not-running');
          if (r.StatusCode !== 0) {
            throw new ComposeError(`service "${dep}" didn't complete successfully: exit ${r.StatusCode}`);
          }
          this.reporter.event('Container', c.name, 'Exited');
        }
      }
    }
  }

  async #waitHealthy(c: ProjectContainer, required: boolean, deadline = Infinity): Promise<void> {
    for (;;) {
      const info = await this.#client.containerInspect(c.id);
      const state = info.State as { Status?: string; Running?: boolean; ExitCode?: number; Health?: { Status?: string } } | undefined;
      const health = state?.Health?.Status;
      const hasCheck = !!(info.Config as { Healthcheck?: { Test?: string[] } } | undefined)?.Healthcheck?.Test?.length || health !== undefined;
      if (!hasCheck) throw new ComposeError(`container ${c.name} has no healthcheck configured`);
      if (health === 'healthy') return;
      if (health === 'unhealthy') {
        if (!required) return;
        throw new ComposeError(`dependency failed to start: container ${c.name} is unhealthy`);
      }
      if (state && !state.Running && state.Status !== 'created' && state.Status !== 'restarting') {
        throw new ComposeError(`dependency failed to start: container ${c.name} exited (${state.ExitCode ?? 0})`);
      }
      if (Date.now() > deadline) throw new ComposeError(`timeout waiting for container ${c.name} to be healthy`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** `up --wait`: every container of `services` running, and healthy where it has a check. */
  async waitHealthy(services: string[], timeoutSeconds?: number): Promise<void> {
    const deadline = timeoutSeconds ? Date.now() + timeoutSeconds * 1000 : Infinity;
    for (const c of await this.containers({ services })) {
      this.reporter.event('Container', c.name, 'Waiting');
      const info = await this.#client.containerInspect(c.id);
      const state = info.State as { Running?: boolean; ExitCode?: number; Health?: { Status?: string } } | undefined;
      if (state?.Health) await this.#waitHealthy(c, true, deadline);
      else if (!state?.Running) {
        // A one-shot service that ended well (a completed_successfully dependency) is fine.
        if ((state?.ExitCode ?? 0) !== 0) throw new ComposeError(`container ${c.name} exited (${state?.ExitCode})`);
        this.reporter.event('Container', c.name, 'Exited');
        continue;
      }
      this.reporter.event('Container', c.name, 'Healthy');
    }
  }

  async #stopContainer(c: ProjectContainer, timeout: number | undefined, quiet = false): Promise<void> {
    if (!quiet) this.reporter.event('Container', c.name, 'Stopping');
    try {
      await this.#client.containerStop(c.id, { timeout: timeout ?? this.#stopTimeout(c.service) });
    } catch (err) {
      if (!isApiStatus(err, 304) && !isApiStatus(err, 404)) throw err;
    }
    if (!quiet) this.reporter.event('Container', c.name, 'Stopped');
  }

  #stopTimeout(service: string): number | undefined {
    void service;
    return undefined; // the container's StopTimeout (from stop_grace_period) applies
  }

  async #removeContainer(c: ProjectContainer, options: { stop?: boolean; timeout?: number; volumes?: boolean }): Promise<void> {
    if (options.stop && c.state === 'running') await this.#stopContainer(c, options.timeout);
    this.reporter.event('Container', c.name, 'Removing');
    try {
      await this.#client.containerRemove(c.id, { force: true, volumes: options.volumes });
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
    }
    this.reporter.event('Container', c.name, 'Removed');
  }

  /** Containers of `services` in reverse dependency order (for stop/down). */
  async #reverseOrdered(services: string[] | undefined, options: { oneoff?: boolean } = {}): Promise<ProjectContainer[]> {
    const all = await this.containers({ all: true, services, oneoff: options.oneoff });
    const order = dependencyOrder(this.project.services).reverse();
    const rank = (s: string): number => {
      const i = order.indexOf(s);
      return i < 0 ? -1 : i;
    };
    return all.sort((a, b) => rank(a.service) - rank(b.service) || a.number - b.number);
  }

  async down(options: { volumes?: boolean; rmi?: 'local' | 'all'; removeOrphans?: boolean; timeout?: number } = {}): Promise<void> {
    const containers = await this.#reverseOrdered(undefined, { oneoff: true });
    const known = new Set([...Object.keys(this.project.services), ...Object.keys(this.project.disabledServices)]);
    if (this.project.fromLabels) for (const c of containers) known.add(c.service);
    const orphans = containers.filter((c) => !known.has(c.service));
    const mine = containers.filter((c) => known.has(c.service));
    if (orphans.length && !options.removeOrphans) {
      this.reporter.warn(`Found orphan containers ([${orphans.map((o) => o.name).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`);
    }
    for (const c of [...mine, ...(options.removeOrphans ? orphans : [])]) if (c.state === 'running' || c.state === 'paused' || c.state === 'restarting') await this.#stopContainer(c, options.timeout);
    for (const c of [...mine, ...(options.removeOrphans ? orphans : [])]) await this.#removeContainer(c, { volumes: options.volumes });
    // Networks: every non-external one the project declares (and the default), by label.
    if (await this.networksSupported()) {
      const nets = await this.#client.networkList(encodeFilters([['label', `${LABEL.project}=${this.project.name}`]]));
      const declared = new Set(Object.values(this.project.networks).filter((n) => !n.external).map((n) => n.name));
      for (const n of nets.filter((n) => declared.has(n.Name) || n.Labels?.[LABEL.project] === this.project.name).sort((a, b) => a.Name.localeCompare(b.Name))) {
        if (Object.values(this.project.networks).some((x) => x.external && x.name === n.Name)) continue;
        this.reporter.event('Network', n.Name, 'Removing');
        try {
          await this.#client.networkRemove(n.Id ?? n.Name);
        } catch (err) {
          if (!isApiStatus(err, 404)) throw err;
        }
        this.reporter.event('Network', n.Name, 'Removed');
      }
    }
    if (options.volumes && this.project.fromLabels) {
      const vols = (await this.#client.volumeList(encodeFilters([['label', `${LABEL.project}=${this.project.name}`]]))).Volumes ?? [];
      for (const v of vols) {
        this.reporter.event('Volume', v.Name, 'Removing');
        await this.#client.volumeRemove(v.Name);
        this.reporter.event('Volume', v.Name, 'Removed');
      }
    }
    if (options.volumes) {
      for (const v of Object.values(this.project.volumes)) {
        if (v.external) continue;
        try {
          const info = await this.#client.volumeInspect(v.name);
          if (info.Labels?.[LABEL.project] !== undefined && info.Labels[LABEL.project] !== this.project.name) continue;
        } catch (err) {
          if (isApiStatus(err, 404)) continue;
          throw err;
        }
        this.reporter.event('Volume', v.name, 'Removing');
        await this.#client.volumeRemove(v.name);
        this.reporter.event('Volume', v.name, 'Removed');
      }
    }
    if (options.rmi) {
      const refs = new Set<string>();
      for (const s of Object.values(this.project.services)) {
        if (options.rmi === 'all' || (!s.image && s.build)) refs.add(serviceImage(this.project, s));
      }
      for (const ref of [...refs].sort()) {
        try {
          this.reporter.event('Image', ref, 'Removing');
          await this.#client.imageRemove(ref);
          this.reporter.event('Image', ref, 'Removed');
        } catch (err) {
          if (!isApiStatus(err, 404)) throw err;
        }
      }
    }
  }

  async stop(services: string[] | undefined, timeout?: number): Promise<void> {
    for (const c of await this.#reverseOrdered(services?.length ? this.selectServices(services) : undefined)) {
      if (c.oneoff) continue;
      if (c.state === 'running' || c.state === 'paused' || c.state === 'restarting') await this.#stopContainer(c, timeout);
    }
  }

  async start(services: string[] | undefined): Promise<void> {
    if (this.project.fromLabels) {
      for (const c of await this.containers({})) {
        if (c.state === 'running') continue;
        this.reporter.event('Container', c.name, 'Starting');
        await this.#client.containerStart(c.id);
        this.reporter.event('Container', c.name, 'Started');
      }
      return;
    }
    const names = this.selectServices(services);
    const order = dependencyOrder(this.project.services, names);
    const all = await this.containers({ services: order });
    if (all.length === 0) throw new ComposeError('service(s) have no containers: run `compose up` first');
    for (const s of order) {
      await this.#waitForDependencies(this.project.services[s]!);
      for (const c of all.filter((c) => c.service === s)) {
        if (c.state === 'running') continue;
        this.reporter.event('Container', c.name, 'Starting');
        await this.#client.containerStart(c.id);
        this.reporter.event('Container', c.name, 'Started');
      }
    }
  }

  async restart(services: string[] | undefined, timeout?: number): Promise<void> {
    const names = this.selectServices(services);
    for (const s of dependencyOrder(this.project.services, names)) {
      if (!names.includes(s)) continue;
      for (const c of await this.containers({ services: [s] })) {
        this.reporter.event('Container', c.name, 'Restarting');
        await this.#client.containerRestart(c.id, { timeout });
        this.reporter.event('Container', c.name, 'Started');
      }
    }
  }

  async kill(services: string[] | undefined, signal?: string): Promise<void> {
    const list = (await this.containers({ services: services?.length ? this.selectServices(services) : undefined })).filter((c) => c.state === 'running');
    if (list.length === 0) throw new ComposeError('no containers to kill');
    for (const c of list) {
      this.reporter.event('Container', c.name, 'Killing');
      await this.#client.containerKill(c.id, signal);
      this.reporter.event('Container', c.name, 'Killed');
    }
  }

  async pause(services: string[] | undefined, unpause: boolean): Promise<void> {
    for (const c of await this.containers({ services: services?.length ? this.selectServices(services) : undefined })) {
      if (unpause ? c.state !== 'paused' : c.state !== 'running') continue;
      this.reporter.event('Container', c.name, unpause ? 'Unpausing' : 'Pausing');
      if (unpause) await this.#client.containerUnpause(c.id);
      else await this.#client.containerPause(c.id);
      this.reporter.event('Container', c.name, unpause ? 'Unpaused' : 'Paused');
    }
  }

  /** `rm`: stopped containers (running ones too with `stop`). Returns what it removed. */
  async rm(services: string[] | undefined, options: { stop?: boolean; volumes?: boolean; timeout?: number }): Promise<ProjectContainer[]> {
    const list = await this.containers({ services: services?.length ? this.selectServices(services) : undefined });
    if (options.stop) for (const c of list) if (c.state === 'running') await this.#stopContainer(c, options.timeout);
    const fresh = await this.containers({ services: services?.length ? services : undefined });
    const stopped = fresh.filter((c) => c.state !== 'running' && c.state !== 'paused' && c.state !== 'restarting');
    for (const c of stopped) await this.#removeContainer(c, { volumes: options.volumes });
    return stopped;
  }

  async build(services: string[] | undefined, options: { noCache?: boolean; pull?: boolean; quiet?: boolean }): Promise<void> {
    for (const s of this.selectServices(services)) {
      const svc = this.project.services[s]!;
      if (!svc.build) continue;
      await this.#hooks.build(this.project, svc, options);
    }
  }

  async pull(services: string[] | undefined, options: { ignoreFailures?: boolean; quiet?: boolean; ignoreBuildable?: boolean }): Promise<void> {
    for (const s of this.selectServices(services)) {
      const svc = this.project.services[s]!;
      if (!svc.image || (svc.build && options.ignoreBuildable)) continue;
      this.reporter.event('Image', svc.image, 'Pulling');
      try {
        await this.#hooks.pull(svc.image, { quiet: options.quiet });
        this.reporter.event('Image', svc.image, 'Pulled');
      } catch (err) {
        if (svc.build || options.ignoreFailures) {
          this.reporter.warn(`${s}: ${(err as Error).message}`);
          continue;
        }
        throw err;
      }
    }
  }

  async push(services: string[] | undefined, options: { ignoreFailures?: boolean }): Promise<void> {
    for (const s of this.selectServices(services)) {
      const svc = this.project.services[s]!;
      if (!svc.build || !svc.image) continue;
      this.reporter.event('Image', svc.image, 'Pushing');
      try {
        await this.#hooks.push(svc.image);
        this.reporter.event('Image', svc.image, 'Pushed');
      } catch (err) {
        if (options.ignoreFailures) {
          this.reporter.warn(`${s}: ${(err as Error).message}`);
          continue;
        }
        throw err;
      }
    }
  }

  /** The container for `service` replica `index` (exec, port). */
  async containerFor(service: string, index = 1): Promise<ProjectContainer> {
    this.selectServices([service]);
    const list = await this.containers({ services: [service] });
    const c = list.find((c) => c.number === index);
    if (!c) throw new ComposeError(`service "${service}" is not running`);
    return c;
  }
}

function labelMap(labels: Record<string, string> | string[] | undefined): Record<string, string> {
  if (!labels) return {};
  if (!Array.isArray(labels)) return labels;
  return Object.fromEntries(labels.map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  }));
}
