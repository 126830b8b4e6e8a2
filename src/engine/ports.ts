/**
 * What the container engine needs from the parts it composes. The daemon's wiring (bin/)
 * adapts image/, runtime/ and the snapshotter to these; unit tests pass fakes.
 */
import type { ContainerRecord } from './types.js';
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
  mount(containerId: string, lowerDirs: string[], target: string): Promise<void>;
  unmount(target: string): Promise<void>;
  remove(containerId: string): Promise<void>;
}

/** Turns a container record into the OCI runtime spec (config.json) for its bundle. */
export type SpecFactory = (record: ContainerRecord) => Promise<object>;

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
