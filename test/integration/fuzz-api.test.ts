/**
 * Issue 17 item 5: a bounded, seeded fuzzing run over every route berthd serves. berthd must
 * never crash and never answer 5xx to a malformed request. FUZZ_SEED replays a run;
 * FUZZ_CASES sets the cases per route (bench/fuzz.ts runs many more).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDaemon, type TestDaemon } from '../helpers/daemon.js';
import { fuzzRoutes, type Route, type Targets } from '../helpers/fuzz.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 17);
const CASES = Number(process.env['FUZZ_CASES'] ?? 6);

describe(`API fuzzing, seed ${SEED}, ${CASES} cases per route (issue 17)`, () => {
  let d: TestDaemon;
  let routes: Route[];
  before(async () => {
    d = await createDaemon('fuzz');
    const routesFile = join(d.dir, 'routes.json');
    process.env['BERTH_ROUTES_FILE'] = routesFile;
    try {
      await d.start();
    } finally {
      delete process.env['BERTH_ROUTES_FILE'];
    }
    routes = JSON.parse(await readFile(routesFile, 'utf8')) as Route[];
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  /** A container, network, volume and exec that exist (made again when a case removed them). */
  async function targets(): Promise<Targets> {
    const has = async (path: string) => (await d.api('GET', path)).status === 200;
    if (!(await has('/containers/fuzzc/json'))) {
      // It exits on SIGTERM, so that a stop or restart with t=-1 (wait for ever, as Docker) ends.
      await d.api('POST', '/containers/create?name=fuzzc', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
    }
    if (!(await has('/networks/fuzznet'))) await d.api('POST', '/networks/create', { Name: 'fuzznet' });
    if (!(await has('/volumes/fuzzvol'))) await d.api('POST', '/volumes/create', { Name: 'fuzzvol' });
    if (!(await has('/images/busybox:latest/json'))) await d.api('POST', '/images/busybox:latest/tag?repo=busybox&tag=latest');
    const c = await d.api('GET', '/containers/fuzzc/json');
    const id = c.status === 200 ? (c.json().Id as string) : 'fuzzc';
    const ex = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    return { container: 'fuzzc', image: 'busybox:latest', network: 'fuzznet', volume: 'fuzzvol', exec: ex.status === 201 ? (ex.json().Id as string) : 'none' };
  }

  it('berthd answers every case without crashing and without a 5xx', async () => {
    assert.ok(routes.length > 40, `the route table has ${routes.length} routes`);
    const r = await fuzzRoutes(d, routes, { seed: SEED, casesPerRoute: CASES, deadlineMs: 6 * 60_000, targets });
    process.stdout.write(`# fuzz: ${r.tried} cases over ${r.perRoute.size} of ${routes.length} routes, ${r.findings.length} findings\n`);
    assert.deepEqual(r.findings, []);
    assert.ok(r.perRoute.size >= routes.length - 1, `only ${r.perRoute.size} routes were reached before the deadline`);
  });

  it('berthd is still whole afterwards: busybox runs', async () => {
    await d.api('DELETE', '/containers/fuzzc?force=1');
    const res = await d.berth(['run', '--rm', 'busybox', 'echo', 'still here']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'still here');
  });
});
