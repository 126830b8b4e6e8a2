/**
 * Pod networking through CNI plugins (the CNI specification's exec protocol): a network
 * configuration list from the conf dir (the first `.conflist`, `.conf` or `.json` by name, as
 * the kubelet's runtimes pick), each plugin run with `CNI_COMMAND=ADD` in order and `DEL` in
 * reverse order, the previous plugin's result passed on as `prevResult`, and `portMappings`
 * handed to the plugins that declare that capability (portmap, for hostPort). The pod's
 * network namespace is made and pinned by the caller. What ADD used (the config and the
 * result) is kept by the caller and given back to DEL, so a pod is torn down with the config
 * it was set up with, also after a daemon restart or crash.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, SystemError, UnavailableError } from '../common/errors.js';

/** A parsed network configuration list. */
export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

export interface CniAttachment {
  containerId: string;
  netns: string;
  ifName: string;
  /** K8S_POD_* arguments (CNI_ARGS). */
  args: Record<string, string>;
  portMappings: CniPortMapping[];
}

/** What ADD leaves for DEL. */
export interface CniState {
  conf: CniConfList;
  result?: Record<string, unknown>;
}

export class CniNetwork {
  readonly #confDir: string;
  readonly #binDirs: string[];
  readonly #runner: CommandRunner;

  constructor(options: { confDir: string; binDirs: string[]; runner: CommandRunner }) {
    this.#confDir = options.confDir;
    this.#binDirs = options.binDirs;
    this.#runner = options.runner;
  }

  /** The configuration list in use, or why there is none. */
  async load(): Promise<CniConfList> {
    let names: string[];
    try {
      names = (await readdir(this.#confDir)).filter((n) => /\.(conflist|conf|json)$/.test(n)).sort();
    } catch {
      throw new UnavailableError(`cni config load failed: no network config found in ${this.#confDir}`);
    }
    if (!names.length) throw new UnavailableError(`cni config load failed: no network config found in ${this.#confDir}`);
    const file = join(this.#confDir, names[0]!);
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new InvalidParameterError(`invalid CNI config ${file}: ${(e as Error).message}`);
    }
    const plugins = Array.isArray(v['plugins']) ? (v['plugins'] as Record<string, unknown>[]) : [v];
    if (typeof v['name'] !== 'string' || !plugins.length || plugins.some((p) => typeof p?.['type'] !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(p['type'] as string))) {
      throw new InvalidParameterError(`invalid CNI config ${file}: expected "name" and plugins with a "type"`);
    }
    return { cniVersion: String(v['cniVersion'] ?? '0.4.0'), name: v['name'], plugins };
  }

  /** NetworkReady: a config exists and its plugins are installed. */
  async status(): Promise<{ ready: boolean; reason: string; message: string }> {
    try {
      const conf = await this.load();
      for (const p of conf.plugins) await this.#plugin(p['type'] as string);
      return { ready: true, reason: '', message: '' };
    } catch (e) {
      return { ready: false, reason: 'NetworkPluginNotReady', message: `Network plugin returns error: ${(e as Error).message}` };
    }
  }

  async #plugin(type: string): Promise<string> {
    for (const d of this.#binDirs) {
      const p = join(d, type);
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // next directory
      }
    }
    throw new UnavailableError(`failed to find plugin "${type}" in path [${this.#binDirs.join(' ')}]`);
  }

  async #exec(command: 'ADD' | 'DEL', conf: CniConfList, plugin: Record<string, unknown>, a: CniAttachment, prevResult?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const type = plugin['type'] as string;
    const path = await this.#plugin(type);
    const netconf: Record<string, unknown> = { ...plugin, cniVersion: conf.cniVersion, name: conf.name };
    if (prevResult) netconf['prevResult'] = prevResult;
    const caps = (plugin['capabilities'] ?? {}) as Record<string, boolean>;
    if (caps['portMappings'] && a.portMappings.length) netconf['runtimeConfig'] = { portMappings: a.portMappings };
    const env = {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: a.ifName,
      CNI_PATH: this.#binDirs.join(':'),
      // CNI_ARGS is `K=V;K=V`: a value with ';' or '=' would forge other arguments.
      CNI_ARGS: ['IgnoreUnknown=1', ...Object.entries(a.args).map(([k, v]) => `${k}=${v.replace(/[;=]/g, '_')}`)].join(';'),
    };
    const r = await this.#runner.run([path], { input: JSON.stringify(netconf), env, check: false });
    if (r.code !== 0) {
      let msg = r.stderr.trim() || r.stdout.trim();
      try {
        const e = JSON.parse(r.stdout) as { msg?: string; details?: string };
        msg = [e.msg, e.details].filter(Boolean).join(': ');
      } catch {
        // plain text
      }
      throw new SystemError(`plugin type="${type}" name="${conf.name}" failed (${command.toLowerCase()}): ${msg}`);
    }
    if (command === 'DEL' || !r.stdout.trim()) return prevResult;
    try {
      return JSON.parse(r.stdout) as Record<string, unknown>;
    } catch {
      throw new SystemError(`plugin type="${type}" returned an invalid result`);
    }
  }

  /** Runs ADD through the list; on failure, DEL what was added and rethrow. */
  async add(a: CniAttachment): Promise<CniState & { ips: string[] }> {
    const conf = await this.load();
    let result: Record<string, unknown> | undefined;
    try {
      for (const p of conf.plugins) result = await this.#exec('ADD', conf, p, a, result);
    } catch (e) {
      await this.del(a, { conf, result }).catch(() => {});
      throw e;
    }
    const ips = ((result?.['ips'] ?? []) as { address?: string; version?: string }[])
      .map((i) => (i.address ?? '').split('/')[0]!)
      .filter(Boolean);
    return { conf, result, ips };
  }

  /** DEL in reverse order with the config ADD used; every plugin runs even when one fails. */
  async del(a: CniAttachment, state: CniState): Promise<void> {
    let first: unknown;
    for (const p of [...state.conf.plugins].reverse()) {
      try {
        await this.#exec('DEL', state.conf, p, a, state.result);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
}
