/**
 * The engine's collaborators: what the container engine needs from the parts it composes
 * (published ports are another thing: network/ports/). The daemon's wiring (bin/)
 * adapts image/, runtime/ and the snapshotter to these; unit tests pass fakes.
 */
import type { ContainerRecord, ContainerSpec, IdMappingRecord } from './types.js';
import type { LogRecord } from '../runtime/runtime.js';

/** The runnable part of an image's config (OCI image config `config` object). */
export interface ImageRunConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } | null;
}

export interface EngineImages {
  /** Resolves a reference to an image; throws NoSuchImageError. */
  resolve(ref: string): Promise<{ id: string; config: ImageRunConfig }>;
  /** Read-only layer directories for the image, topmost first. */
  lowerDirs(imageId: string): Promise<string[]>;
  /** Takes a reference on the image's layers for a container; returns what to give back to `release`. */
  acquire(imageId: string): string[];
  release(layers: readonly string[]): Promise<void>;
}

/** Per-container writable layer on top of the image (overlayfs). */
export interface EngineRootfs {
  prepare(containerId: string, lowerDirs: string[]): Promise<void>;
  /** `userns`: the container's mappings (issue 21): its layers are seen through idmapped mounts. */
  mount(containerId: string, lowerDirs: string[], target: string, userns?: { uidMappings: IdMappingRecord[]; gidMappings: IdMappingRecord[] }): Promise<void>;
  unmount(target: string): Promise<void>;
  remove(containerId: string): Promise<void>;
}

/** Turns a container record into the OCI runtime spec (config.json) for its bundle. */
/** What a container's spec needs from other containers, resolved by the engine at start. */
export interface SpecContext {
  /** Legacy link variables (`ALIAS_NAME`, `ALIAS_PORT_…`, `ALIAS_ENV_…`), before the container's own env. */
  linkEnv?: string[];
  /** The pid of the container whose PID / IPC namespace `container:<ref>` modes join. */
  pidPeer?: number;
  ipcPeer?: number;
}
export type SpecFactory = (record: ContainerRecord, context?: SpecContext) => Promise<object>;

export interface LogReadOptions {
  since?: Date;
  until?: Date;
  tail?: number;
  follow?: boolean;
  /** With follow: resolves when the container has exited; the reader drains and ends. */
  untilExit?: Promise<void>;
  signal?: AbortSignal;
}

export type LogReader = (path: string, options: LogReadOptions) => AsyncIterable<LogRecord>;

/** Named and anonymous volumes (the local driver in volume/), as the engine uses them. */
export interface EngineVolumes {
  /** Creates (or returns the existing) volume; `created` tells whether it is new. */
  create(req: { name?: string; labels?: Record<string, string>; driver?: string; options?: Record<string, string> }): Promise<{ name: string; mountpoint: string; driver: string; created: boolean }>;
  /** Makes an option-backed volume's mount; returns its mountpoint. Throws NotFound for an unknown volume. */
  mount(name: string): Promise<string>;
  isEmpty(name: string): Promise<boolean>;
  /** Removes a volume (refused while another container uses it). */
  remove(name: string): Promise<void>;
  /** A container using the volume stopped: an option-backed volume no running container uses is unmounted (Docker's local driver). */
  release?(name: string): Promise<void>;
}

/**
 * Networking as the engine drives it (network/NetworkService fits): `prepare` at create,
 * `setUp` before the spec is made at start (fills `record.network`, writes hosts/resolv.conf),
 * `tearDown` after exit, `restore` for running containers after a daemon restart, `release` at
 * remove, `connect`/`disconnect` on demand. The engine serialises calls per container.
 */
export interface EngineNetwork {
  prepare(record: ContainerRecord, requested?: ContainerSpec['networks']): void;
  /** `onSandbox`: called once the namespace is ready for the runtime, before the host side is done. */
  setUp(record: ContainerRecord, peer?: ContainerRecord, onSandbox?: () => void): Promise<void>;
  tearDown(record: ContainerRecord): Promise<void>;
  restore(record: ContainerRecord): Promise<void>;
  release(record: ContainerRecord): Promise<void>;
  connect(record: ContainerRecord, network: string, request: { aliases?: string[]; ipv4Address?: string; ipv6Address?: string; linkLocalIPs?: string[]; macAddress?: string; links?: string[]; driverOpts?: Record<string, string> }, running: boolean): Promise<void>;
  disconnect(record: ContainerRecord, network: string, options: { force?: boolean }): Promise<void>;
  /** Network events for a container's endpoints (Docker: `connect` at start, `disconnect` at exit). */
  announce(record: ContainerRecord, action: 'connect' | 'disconnect'): void;
  /** The address `--add-host NAME:host-gateway` stands for (the default bridge's gateway). */
  hostGateway?(): string;
}

/**
 * Published ports (network/ports PortPublisher fits): `publish` after the network set-up at
 * start (fills `record.network.ports`; leaves nothing behind when it throws), `unpublish` after
 * exit and at remove, `restore` for running containers after a daemon restart.
 */
export interface EnginePorts {
  publish(record: ContainerRecord): Promise<void>;
  unpublish(record: ContainerRecord): Promise<void>;
  restore(record: ContainerRecord): Promise<void>;
}
