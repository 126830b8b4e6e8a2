/**
 * The CRI's own record of each pod sandbox: one JSON file per pod under `<data-root>/cri/pods`,
 * written to a temp file and renamed, so a crash never leaves half a record. The pause container
 * and the pod's containers are ordinary engine records; this keeps what the engine does not
 * know: the pod's config, its pinned network namespace, the CNI state for DEL, its IPs.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from './grpc.js';
import type { CniState } from './cni.js';

export interface PodRecord {
  /** The pod sandbox ID: the pause container's ID. */
  id: string;
  /** Key of the pod's files and netns (made before the pause container has an ID). */
  key: string;
  config: Message;
  /** Nanoseconds since the epoch, as a decimal string. */
  createdAt: string;
  /** Set by StopPodSandbox (or found after a crash): the network is gone. */
  stopped: boolean;
  runtimeHandler: string;
  /** Pinned network namespace file; '' with host networking or once torn down. */
  netns: string;
  hostNetwork: boolean;
  ips: string[];
  cni?: CniState;
  dir: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

export class PodStore {
  readonly #dir: string;
  readonly #pods = new Map<string, PodRecord>();

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const p = JSON.parse(readFileSync(join(dir, name), 'utf8')) as PodRecord;
        this.#pods.set(p.id, p);
      } catch {
        // a torn temp file from a crash: the pod was never saved
      }
    }
  }

  get(id: string): PodRecord | undefined {
    return this.#pods.get(id);
  }

  list(): PodRecord[] {
    return [...this.#pods.values()];
  }

  save(p: PodRecord): void {
    const file = join(this.#dir, `${p.id}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(p));
    renameSync(`${file}.tmp`, file);
    this.#pods.set(p.id, p);
  }

  delete(id: string): void {
    rmSync(join(this.#dir, `${id}.json`), { force: true });
    this.#pods.delete(id);
  }
}
