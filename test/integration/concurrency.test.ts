/**
 * Issue 17 item 6: many clients at once. Every answer must be one Docker could give, and the
 * store must agree with the host afterwards. (Ten clients pulling one image at once: pull.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, TEST_PREFIX, type TestDaemon } from '../helpers/daemon.js';

describe('concurrency (issue 17)', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('concurrency');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  it('50 clients running `run --rm` at once all succeed, and nothing of them remains', async () => {
    const lives = Array.from({ length: 50 }, async (_, i) => {
      const c = await d.api('POST', `/containers/create?name=many-${i}`, { Image: 'busybox', Cmd: ['sh', '-c', `echo ${i}`], HostConfig: { AutoRemove: true } });
      assert.equal(c.status, 201, c.body.toString());
      const id = c.json().Id as string;
      const wait = d.api('POST', `/containers/${id}/wait?condition=removed`);
      const s = await d.api('POST', `/containers/${id}/start`);
      assert.equal(s.status, 204, s.body.toString());
      const w = await wait;
      assert.equal(w.status, 200, w.body.toString());
      assert.equal(w.json().StatusCode, 0);
    });
    await Promise.all(lives);
    const left = await d.api('GET', '/containers/json?all=1&filters=' + encodeURIComponent(JSON.stringify({ name: ['many-'] })));
    assert.deepEqual(left.json(), []);
  });

  it('20 creates of one name at once: exactly one wins, the others get 409 Conflict', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => d.api('POST', '/containers/create?name=contested', { Image: 'busybox', Cmd: ['true'] })));
    const statuses = answers.map((a) => a.status).sort();
    assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 409).length, 19, `statuses: ${statuses.join(',')}`);
    for (const a of answers.filter((x) => x.status === 409)) assert.match(a.json().message, /Conflict\. The container name "\/contested" is already in use/);
    // And 10 removals of it at once: one 204, the others 404 No such container.
    const rms = await Promise.all(Array.from({ length: 10 }, () => d.api('DELETE', '/containers/contested?force=1')));
    const rs = rms.map((r) => r.status).sort();
    assert.equal(rs.filter((s) => s === 204).length, 1, `statuses: ${rs.join(',')}`);
    assert.ok(rs.every((s) => s === 204 || s === 404 || s === 409), `statuses: ${rs.join(',')}`);
    assert.equal((await d.api('GET', '/containers/contested/json')).status, 404);
  });

  it('network connect/disconnect racing with start/stop: every answer is a valid one, and inspect agrees with the container', async () => {
    assert.equal((await d.api('POST', '/networks/create', { Name: 'racenet' })).status, 201);
    const c = await d.api('POST', '/containers/create?name=racer', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
    const id = c.json().Id as string;
    const ok = new Set([200, 204, 304, 403, 404, 409]);
    const bad: string[] = [];
    const deadline = Date.now() + 20_000;
    const loop = async (ops: Array<() => Promise<{ status: number; body: Buffer }>>, rounds: number) => {
      for (let i = 0; i < rounds && Date.now() < deadline; i++) {
        const r = await ops[i % ops.length]!();
        if (!ok.has(r.status)) bad.push(`${r.status} ${r.body.toString().slice(0, 160)}`);
      }
    };
    await Promise.all([
      loop([() => d.api('POST', `/containers/${id}/start`), () => d.api('POST', `/containers/${id}/stop?t=1`)], 10),
      loop([() => d.api('POST', '/networks/racenet/connect', { Container: id }), () => d.api('POST', '/networks/racenet/disconnect', { Container: id, Force: false })], 30),
    ]);
    assert.deepEqual(bad, [], 'answers no Docker would give');
    // Settle: the container runs, connected once.
    await d.api('POST', `/containers/${id}/start`);
    await d.api('POST', '/networks/racenet/connect', { Container: id });
    const ins = (await d.api('GET', `/containers/${id}/json`)).json();
    assert.equal(ins.State.Running, true);
    const nets = Object.keys(ins.NetworkSettings.Networks).sort();
    assert.deepEqual(nets, ['bridge', 'racenet']);
    const ip = ins.NetworkSettings.Networks.racenet.IPAddress as string;
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    const inside = await d.berth(['exec', 'racer', 'ip', '-o', '-4', 'addr']);
    assert.equal(inside.code, 0, inside.stderr);
    assert.ok(inside.stdout.includes(`${ip}/`), `the container has ${ip}: ${inside.stdout}`);
    const netIns = (await d.api('GET', '/networks/racenet')).json();
    assert.deepEqual(Object.keys(netIns.Containers), [id]);
    await d.api('DELETE', `/containers/${id}?force=1`);
    await d.api('DELETE', '/networks/racenet');
  });

  it('20 builds of one context at once all succeed, each tag a working image', async () => {
    const ctx = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}ctx-`));
    try {
      await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY hello /hello\nRUN cat /hello > /copy\n');
      await writeFile(join(ctx, 'hello'), 'hi\n');
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => d.berth(['build', '-q', '-t', `same:${i}`, ctx], { timeoutMs: 300_000 })));
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      // Docker's legacy builder gives each of 20 cold builds its own image (their creation times
      // differ); what must hold is that every tag names a whole, working image.
      for (const i of [0, 7, 19]) {
        const out = await d.berth(['run', '--rm', `same:${i}`, 'cat', '/copy']);
        assert.equal(out.stdout, 'hi\n', out.stderr);
      }
      const again = await d.berth(['build', '-q', '-t', 'same:again', ctx]);
      assert.equal(again.code, 0, again.stderr);
      assert.ok(runs.some((r) => r.stdout.trim() === again.stdout.trim()), 'a later build reuses the cache one of them made');
    } finally {
      await rm(ctx, { recursive: true, force: true });
      for (const t of [...Array.from({ length: 20 }, (_, i) => String(i)), 'again']) await d.api('DELETE', `/images/same:${t}`);
    }
  });
});
