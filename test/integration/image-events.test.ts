/**
 * Image events (import, tag, untag, delete, save, load) as dockerd names them, seen through
 * `berth events` and the real `docker events`; intermediate build images hidden from
 * `images` without -a; and `rmi` taking the untagged parent chain along (unless --no-prune).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startDaemon, sleep, type TestDaemon } from '../helpers/daemon.js';
import { startRegistry } from '../helpers/registry.js';

let d: TestDaemon;
let work: string;
let busybox: string;

before(async () => {
  d = await startDaemon('imgevents');
  work = await mkdtemp(join(tmpdir(), 'berth-test-imgevents-'));
  process.env['XDG_CACHE_HOME'] = join(work, 'xdg-cache');
});

after(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

const FORMAT = '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}';

/** Image events between `since` (seconds) and now, as `type action id name` lines, from both CLIs. */
async function imageEvents(since: string): Promise<{ berth: string[]; docker: string[] }> {
  await sleep(50);
  const until = String(Date.now() / 1000 + 0.2);
  const b = await d.berth(['events', '--since', since, '--until', until, '--filter', 'type=image', '--format', FORMAT]);
  assert.equal(b.code, 0, b.stderr);
  const k = await d.docker(['events', '--since', since, '--until', until, '--filter', 'type=image', '--format', FORMAT]);
  assert.equal(k.code, 0, k.stderr);
  const lines = (s: string): string[] => s.split('\n').filter(Boolean);
  return { berth: lines(b.stdout), docker: lines(k.stdout) };
}

/** A `--since` value after every event so far. */
async function now(): Promise<string> {
  await sleep(20);
  return String(Date.now() / 1000);
}

async function listIds(all: boolean): Promise<string[]> {
  const r = await d.api('GET', `/images/json${all ? '?all=1' : ''}`);
  assert.equal(r.status, 200);
  return (r.json() as { Id: string }[]).map((i) => i.Id);
}

test('import and tag: tag then import (named by ID), then tag; untag and delete on rmi', async () => {
  const since = await now();
  busybox = await d.importBusybox();
  const t = await d.docker(['tag', 'busybox', 'evtest:v1']);
  assert.equal(t.code, 0, t.stderr);
  const rm1 = await d.docker(['rmi', 'evtest:v1']);
  assert.equal(rm1.code, 0, rm1.stderr);
  assert.match(rm1.stdout, /Untagged: evtest:v1/);
  const ev = await imageEvents(since);
  const want = [
    `image tag ${busybox} busybox:latest`,
    `image import ${busybox} ${busybox}`,
    `image tag ${busybox} evtest:v1`,
    `image untag ${busybox} ${busybox}`,
  ];
  assert.deepEqual(ev.berth, want);
  assert.deepEqual(ev.docker, want);
  // The type filter keeps container events out, and the API answers JSON with Docker's Actor.
  const r = await d.api('GET', `/events?since=${since}&until=${Date.now() / 1000}&filters=${encodeURIComponent('{"type":["image"]}')}`);
  const first = JSON.parse(r.body.toString().split('\n')[0]!);
  assert.equal(first.Type, 'image');
  assert.deepEqual(first.Actor, { ID: busybox, Attributes: { name: 'busybox:latest' } });
});

test('save and load: one event per image, named by ID', async () => {
  const archive = join(work, 'bb.tar');
  const since = await now();
  const s = await d.docker(['save', '-o', archive, 'busybox']);
  assert.equal(s.code, 0, s.stderr);
  const l = await d.berth(['load', '-i', archive]);
  assert.equal(l.code, 0, l.stderr);
  const ev = await imageEvents(since);
  const want = [`image save ${busybox} ${busybox}`, `image load ${busybox} ${busybox}`];
  assert.deepEqual(ev.berth, want);
  assert.deepEqual(ev.docker, want);
  assert.ok((await readFile(archive)).length > 0);
});

test('push and pull: named by the reference, with the repository as name', async () => {
  const reg = await startRegistry(join(work, 'reg'));
  try {
    const ref = `127.0.0.1:${reg.port}/evbb:1`;
    const repo = `127.0.0.1:${reg.port}/evbb`;
    const since = await now();
    assert.equal((await d.docker(['tag', 'busybox', ref])).code, 0);
    const push = await d.docker(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    const rmi = await d.docker(['rmi', ref]);
    assert.equal(rmi.code, 0, rmi.stderr);
    const pull = await d.docker(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const ev = await imageEvents(since);
    const want = [
      `image tag ${busybox} ${ref}`,
      `image push ${ref} ${repo}`,
      `image untag ${busybox} ${busybox}`,
      `image untag ${busybox} ${busybox}`,
      `image pull ${ref} ${repo}`,
    ];
    assert.deepEqual(ev.docker, want);
    assert.deepEqual(ev.berth, want);
    assert.match(rmi.stdout, /Untagged: 127\.0\.0\.1:\d+\/evbb:1\nUntagged: 127\.0\.0\.1:\d+\/evbb@sha256:/);
    assert.equal((await d.docker(['rmi', ref])).code, 0);
  } finally {
    await reg.stop();
  }
});

test('a two-step build: intermediate images only with -a; rmi prunes the untagged parents, --no-prune keeps them', async () => {
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nLABEL stage=two\n');
  const before = new Set(await listIds(true));
  const since = await now();
  const b = await d.berth(['build', '--no-cache', '-t', 'evbuilt:1', ctx], { timeoutMs: 120_000 });
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const built = (await d.api('GET', '/images/evbuilt:1/json')).json().Id as string;
  // The build's tag event carries the image's labels and the new name.
  const ev = await imageEvents(since);
  assert.deepEqual(ev.docker, [`image tag ${built} evbuilt:1`]);
  assert.deepEqual(ev.berth, ev.docker);
  const r = await d.api('GET', `/events?since=${since}&until=${Date.now() / 1000}&filters=${encodeURIComponent('{"type":["image"]}')}`);
  assert.equal(JSON.parse(r.body.toString().split('\n')[0]!).Actor.Attributes.stage, 'two');

  // Three steps made images: two RUN steps (intermediate) and the LABEL step (the built image).
  const all = await listIds(true);
  const intermediate = all.filter((id) => !before.has(id) && id !== built);
  assert.equal(intermediate.length, 2, JSON.stringify(all));
  const shown = await listIds(false);
  assert.deepEqual(shown.sort(), [busybox, built].sort());
  for (const cli of [d.docker.bind(d), d.berth.bind(d)]) {
    const plain = await cli(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trim().split('\n').sort(), ['busybox:latest', 'evbuilt:1']);
    const withAll = await cli(['images', '-a', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(withAll.stdout.trim().split('\n').sort(), ['<none>:<none>', '<none>:<none>', 'busybox:latest', 'evbuilt:1']);
  }
  // An intermediate image is a parent: deleting it by ID is refused, as dockerd does.
  const refused = await d.docker(['rmi', intermediate[0]!]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /image has dependent child images/);

  // rmi --no-prune: the built image goes, its parents stay (now one dangling head shows).
  const keep = await d.berth(['rmi', '--no-prune', 'evbuilt:1']);
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal(keep.stdout, `Untagged: evbuilt:1\nDeleted: ${built}\n`);
  assert.equal((await listIds(true)).length, 3);
  const dangling = (await listIds(false)).filter((id) => id !== busybox);
  assert.equal(dangling.length, 1, 'the top step image is now a dangling head and shows');
  const dl = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.deepEqual(dl.stdout.trim().split('\n').sort(), ['<none>:<none>', 'busybox:latest']);

  // Build again (cache reuses the steps), then rmi without --no-prune takes the whole chain.
  const b2 = await d.berth(['build', '-t', 'evbuilt:1', ctx], { timeoutMs: 120_000 });
  assert.equal(b2.code, 0, b2.stderr + b2.stdout);
  const built2 = (await d.api('GET', '/images/evbuilt:1/json')).json().Id as string;
  const chain = (await listIds(true)).filter((id) => !before.has(id));
  assert.equal(chain.length, 3);
  const since2 = await now();
  const del = await d.api('DELETE', '/images/evbuilt:1');
  assert.equal(del.status, 200, del.body.toString());
  const items = del.json() as Record<string, string>[];
  assert.deepEqual(items[0], { Untagged: 'evbuilt:1' });
  const deletedImages = items.filter((i) => i.Deleted && chain.includes(i.Deleted)).map((i) => i.Deleted);
  assert.equal(deletedImages[0], built2);
  assert.deepEqual([...deletedImages].sort(), [...chain].sort(), 'the built image and both step images');
  // The RUN steps' layers went too (Deleted chainIDs besides the image IDs).
  assert.equal(items.filter((i) => i.Deleted && !chain.includes(i.Deleted)).length, 2);
  assert.deepEqual((await listIds(true)).sort(), [...before].sort());
  assert.equal((await d.api('GET', '/images/busybox/json')).status, 200, 'the tagged base stays');
  const ev2 = await imageEvents(since2);
  const want = [`image untag ${built2} ${built2}`, ...deletedImages.map((id) => `image delete ${id} ${id}`)];
  assert.deepEqual(ev2.docker, want);
  assert.deepEqual(ev2.berth, want);
});

test('untagging a base image that has children keeps it (hidden, as an intermediate image)', async () => {
  const ctx = join(work, 'ctx2');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo child > /child\n');
  const b = await d.berth(['build', '-t', 'evchild', ctx], { timeoutMs: 120_000 });
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const r = await d.docker(['rmi', 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'Untagged: busybox:latest');
  assert.ok((await listIds(true)).includes(busybox));
  assert.ok(!(await listIds(false)).includes(busybox));
  // Removing the child now takes the untagged base along.
  const del = await d.api('DELETE', '/images/evchild');
  assert.equal(del.status, 200, del.body.toString());
  assert.ok((del.json() as Record<string, string>[]).some((i) => i.Deleted === busybox));
  assert.deepEqual(await listIds(true), []);
});
