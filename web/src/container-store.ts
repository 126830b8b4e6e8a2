/**
 * The live container list: one listing at start, then the events stream (no polling). An
 * event names a container; that one container is read again (a filtered list call), so 200
 * containers cost one request per change, not a full reload.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, bridge, jsonLines } from './api';
import { filters } from './util';

export interface Port { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: Port[];
  Labels: Record<string, string> | null;
  Mounts?: Array<{ Name?: string; Type: string; Source: string; Destination: string }>;
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

const byId = new Map<string, ContainerSummary>();
let version = 0;
let loaded = false;
const listeners = new Set<() => void>();
const pending = new Set<string>();
let started = false;
/** When the last event arrived and when it was shown (tests read it: updates within 100 ms). */
export const lastEvent = { at: 0, shownAt: 0 };

function changed(): void {
  version++;
  for (const l of listeners) l();
}

async function refresh(id: string): Promise<void> {
  if (pending.has(id)) return;
  pending.add(id);
  try {
    const list = await api<ContainerSummary[]>('GET', `/containers/json?all=1&filters=${filters({ id: [id] })}`);
    const c = list.find((x) => x.Id === id);
    if (c) byId.set(id, c);
    else byId.delete(id);
  } catch {
    /* a failed read leaves the old row; the next event tries again */
  } finally {
    pending.delete(id);
    changed();
  }
}

function start(): void {
  if (started) return;
  started = true;
  const subscribe = () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    bridge.stream(`/events?filters=${filters({ type: ['container'] })}&since=${since}`, {
      onData: jsonLines<{ Action: string; Actor: { ID: string }; id?: string }>((ev) => {
        const id = ev.Actor?.ID ?? ev.id;
        if (!id || ev.Action.startsWith('exec_')) return;
        lastEvent.at = performance.now();
        if (ev.Action === 'destroy') {
          byId.delete(id);
          changed();
        } else void refresh(id);
      }),
      onEnd: () => setTimeout(subscribe, 500),
    });
  };
  subscribe();
  // A failed first read (berthd restarting, the browser's network changing) is tried again.
  const load = (attempt: number): void => {
    api<ContainerSummary[]>('GET', '/containers/json?all=1').then(
      (list) => {
        for (const c of list) if (!byId.has(c.Id)) byId.set(c.Id, c);
        loaded = true;
        changed();
      },
      () => setTimeout(() => load(attempt + 1), Math.min(250 * 2 ** attempt, 5000)),
    );
  };
  load(0);
}

export function useContainers(): { list: ContainerSummary[]; loaded: boolean; version: number } {
  const [, force] = useState(0);
  useEffect(() => {
    start();
    const l = () => force((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { list: [...byId.values()], loaded, version };
}

export function containerName(c: ContainerSummary): string {
  return (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}
