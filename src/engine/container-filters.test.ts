import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidParameter, NoSuchContainerError } from '../common/errors.js';
import { filterContainers } from './container-filters.js';
import type { ContainerRecord } from './types.js';

function rec(id: string, status: ContainerRecord['state']['status'], created: string, o: { labels?: Record<string, string>; exitCode?: number; health?: 'healthy' } = {}): ContainerRecord {
  return {
    id: id.padEnd(64, '0'), name: `n${id}`, created, image: 'busybox', imageId: 'sha256:' + 'b'.repeat(64),
    config: { labels: o.labels ?? {} },
    state: { status, exitCode: o.exitCode ?? 0, ...(o.health ? { health: { status: o.health, failingStreak: 0, log: [] } } : {}) },
  } as unknown as ContainerRecord;
}

const all = [
  rec('a', 'running', '2026-01-01T00:00:01Z', { labels: { app: 'web' }, health: 'healthy' }),
  rec('b', 'exited', '2026-01-01T00:00:02Z', { exitCode: 3 }),
  rec('c', 'paused', '2026-01-01T00:00:03Z', { labels: { app: 'db' } }),
  rec('d', 'created', '2026-01-01T00:00:04Z'),
];
const get = (ref: string) => {
  const r = all.find((x) => x.name === ref || x.id.startsWith(ref));
  if (!r) throw new NoSuchContainerError(ref);
  return r;
};
const names = (rs: ContainerRecord[]) => rs.map((r) => r.name);

test('running (and paused) only by default, newest first; all and limit', () => {
  assert.deepEqual(names(filterContainers(all, {}, get)), ['nc', 'na']);
  assert.deepEqual(names(filterContainers(all, { all: true }, get)), ['nd', 'nc', 'nb', 'na']);
  assert.deepEqual(names(filterContainers(all, { all: true, limit: 2 }, get)), ['nd', 'nc']);
});

test('status, exited, label, health, before/since; unknown filters and values are 400s', () => {
  const f = (k: string, ...v: string[]) => names(filterContainers(all, { filters: new Map([[k, v]]) }, get));
  assert.deepEqual(f('status', 'exited', 'created'), ['nd', 'nb']);
  assert.deepEqual(f('exited', '3'), ['nb']);
  assert.deepEqual(names(filterContainers(all, { all: true, filters: new Map([['label', ['app']]]) }, get)), ['nc', 'na']);
  assert.deepEqual(f('health', 'healthy'), ['na']);
  assert.deepEqual(names(filterContainers(all, { all: true, filters: new Map([['before', ['nc']]]) }, get)), ['nb', 'na']);
  assert.deepEqual(names(filterContainers(all, { all: true, filters: new Map([['since', ['nb']]]) }, get)), ['nd', 'nc']);
  assert.throws(() => f('status', 'sleeping'), (e) => isInvalidParameter(e));
  assert.throws(() => f('color', 'red'), (e) => isInvalidParameter(e));
});
