import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { BERTH_BIN, REPO_ROOT, startDaemon, type RunResult, type TestDaemon } from '../helpers/daemon.js';

/**
 * `berth compose` against a private berthd, with the fixture projects in
 * test/fixtures/compose (copied to a temp dir so builds and edits never touch the tree).
 * Every project is brought down (with -v) at the end; the daemon is destroyed.
 */

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'compose');

let d: TestDaemon;
let work: string;
const projects: Array<{ name: string; files: string[] }> = [];

/** Runs `berth compose ARGS` in `dir` (so file lookup starts there). */
function compose(dir: string, args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const base = { ...process.env };
    for (const k of ['COMPOSE_PROJECT_NAME', 'COMPOSE_FILE', 'COMPOSE_PROFILES', 'DOCKER_HOST']) delete base[k];
    const child = execFile(BERTH_BIN, ['compose', ...args], { cwd: dir, env: { ...base, BERTH_HOST: d.host, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/** Runs `berth compose -p NAME -f FILES... ARGS` from the fixture copy. */
function project(name: string, fixture: string, files: string[] = ['compose.yaml']) {
  const dir = join(work, fixture);
  projects.push({ name, files: files.map((f) => join(dir, f)) });
  const base = ['-p', name, ...files.flatMap((f) => ['-f', join(dir, f)])];
  return {
    dir,
    run: (args: string[], env?: Record<string, string>, timeoutMs?: number) => compose(dir, [...base, ...args], env, timeoutMs),
  };
}

async function inspect(name: string): Promise<any> {
  const r = await d.api('GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, `inspect ${name}: ${r.body}`);
  return r.json();
}

async function names(projectName: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${projectName}`] }));
  const r = await d.api('GET', `/containers/json?all=1&filters=${filters}`);
  return (r.json() as Array<{ Names: string[] }>).map((c) => c.Names[0]!.slice(1)).sort();
}

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return r;
}

before(async () => {
  d = await startDaemon('compose');
  await d.importBusybox();
  work = await mkdtemp(join(tmpdir(), 'berth-test-compose-work-'));
  await cp(FIXTURES, work, { recursive: true });
});

after(async () => {
  for (const p of projects.reverse()) {
    await compose(work, ['-p', p.name, ...p.files.flatMap((f) => ['-f', f]), 'down', '-v', '--remove-orphans', '-t', '1']).catch(() => undefined);
  }
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('berth compose', () => {
  test('config: interpolation from .env, the shell and defaults; --env-file; $$', async () => {
    const p = project('bct-interp', 'interp');
    const r = ok(await p.run(['config', '--format', 'json']), 'config');
    const model = JSON.parse(r.stdout);
    assert.equal(model.name, 'bct-interp');
    assert.equal(model.services.app.image, 'busybox:latest');
    assert.deepEqual(model.services.app.environment, { GREETING: 'hello from .env', DEFAULTED: 'fallback', PRICE: '$5' });
    const shell = JSON.parse(ok(await p.run(['config', '--format', 'json'], { GREETING: 'from the shell' }), 'config').stdout);
    assert.equal(shell.services.app.environment.GREETING, 'from the shell');
    const alt = JSON.parse(ok(await compose(p.dir, ['-p', 'bct-interp', '--env-file', join(p.dir, 'alt.env'), 'config', '--format', 'json']), 'config').stdout);
    assert.equal(alt.services.app.environment.GREETING, 'hello from alt.env');
    // Found by lookup from the project directory, named after it.
    const found = ok(await compose(p.dir, ['config', '--services']), 'config --services');
    assert.equal(found.stdout, 'app\n');
    ok(await p.run(['up', '-d']), 'up');
    const env = (await inspect('bct-interp-app-1')).Config.Env as string[];
    assert.ok(env.includes('GREETING=hello from .env') && env.includes('PRICE=$5'), env.join(' '));
  });

  test('validation errors name the file, service and key and create nothing', async () => {
    const p = project('bct-invalid', 'invalid');
    const r = await p.run(['up', '-d']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /validating .*invalid\/compose\.yaml: services\.web additional properties 'restartt' not allowed/);
    const req = await compose(p.dir, ['-p', 'bct-invalid', '-f', join(p.dir, 'required.yaml'), 'up', '-d']);
    assert.equal(req.code, 1);
    assert.match(req.stderr, /required variable MUST_SET is missing a value: MUST_SET is required/);
    const badName = await compose(p.dir, ['-p', 'Bad Name', 'config']);
    assert.notEqual(badName.code, 0);
    assert.match(badName.stderr, /invalid project name "Bad Name"/);
    assert.deepEqual(await names('bct-invalid'), []);
  });

  test('several -f files merge in order; the override file is picked up by lookup', async () => {
    const p = project('bct-multi', 'multi', ['compose.yaml', 'compose.prod.yaml']);
    ok(await p.run(['up', '-d']), 'up');
    const web = await inspect('bct-multi-web-1');
    assert.deepEqual(web.Config.Cmd, ['sleep', '600']);
    assert.ok(web.Config.Env.includes('LEVEL=prod') && web.Config.Env.includes('KEEP=kept'));
    assert.equal(web.Config.Labels.tier, 'front');
    assert.equal(web.Config.Labels.env, 'prod');
    assert.equal(web.Config.Labels['com.docker.compose.project.config_files'], `${join(p.dir, 'compose.yaml')},${join(p.dir, 'compose.prod.yaml')}`);
    assert.deepEqual((await inspect('bct-multi-worker-1')).Config.Cmd, ['sleep', '800']);
    // Without -f: compose.yaml + compose.override.yaml.
    const cfg = JSON.parse(ok(await compose(p.dir, ['config', '--format', 'json']), 'config').stdout);
    assert.deepEqual(cfg.services.web.command, ['sleep', '700']);
    assert.equal(cfg.services.web.environment.LEVEL, 'override');
  });

  test('up twice changes nothing; a changed service is recreated alone', async () => {
    const p = project('bct-multi', 'multi', ['compose.yaml', 'compose.prod.yaml']);
    ok(await p.run(['up', '-d']), 'up');
    const before = { web: (await inspect('bct-multi-web-1')).Id, worker: (await inspect('bct-multi-worker-1')).Id };
    const again = ok(await p.run(['up', '-d']), 'up again');
    assert.match(again.stderr, /Container bct-multi-web-1 {2}Running/);
    assert.match(again.stderr, /Container bct-multi-worker-1 {2}Running/);
    assert.doesNotMatch(again.stderr, /Recreate|Created/);
    assert.equal((await inspect('bct-multi-web-1')).Id, before.web);
    const changed = ok(await p.run(['up', '-d'], { WORKER_SLEEP: '900' }), 'up changed');
    assert.match(changed.stderr, /Container bct-multi-worker-1 {2}Recreated/);
    assert.doesNotMatch(changed.stderr, /bct-multi-web-1 {2}Recreate/);
    assert.equal((await inspect('bct-multi-web-1')).Id, before.web);
    const worker = await inspect('bct-multi-worker-1');
    assert.notEqual(worker.Id, before.worker);
    assert.deepEqual(worker.Config.Cmd, ['sleep', '900']);
    assert.equal(worker.State.Running, true);
    const forced = ok(await p.run(['up', '-d', '--force-recreate', '--no-deps', 'web'], { WORKER_SLEEP: '900' }), 'force-recreate');
    assert.match(forced.stderr, /bct-multi-web-1 {2}Recreated/);
    assert.notEqual((await inspect('bct-multi-web-1')).Id, before.web);
  });

  test('labels and names as Docker Compose; ps, ps --services, -q, --format json; ls', async () => {
    const p = project('bct-multi', 'multi', ['compose.yaml', 'compose.prod.yaml']);
    ok(await p.run(['up', '-d']), 'up');
    const labels = (await inspect('bct-multi-web-1')).Config.Labels;
    assert.equal(labels['com.docker.compose.project'], 'bct-multi');
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.equal(labels['com.docker.compose.oneoff'], 'False');
    assert.equal(labels['com.docker.compose.project.working_dir'], p.dir);
    assert.match(labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
    assert.match(labels['com.docker.compose.image'], /^sha256:[0-9a-f]{64}$/);
    const ps = ok(await p.run(['ps']), 'ps');
    assert.match(ps.stdout, /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS/);
    assert.match(ps.stdout, /bct-multi-web-1\s+busybox\s+"sleep 600"\s+web\s+.*Up/);
    assert.equal(ok(await p.run(['ps', '--services']), 'ps --services').stdout, 'web\nworker\n');
    assert.equal(ok(await p.run(['ps', '-q']), 'ps -q').stdout.trim().split('\n').length, 2);
    const json = ok(await p.run(['ps', '--format', 'json']), 'ps json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json.map((c) => `${c.Service}:${c.State}`).sort(), ['web:running', 'worker:running']);
    const ls = ok(await compose(work, ['ls']), 'ls');
    assert.match(ls.stdout, /bct-multi\s+running\(2\)/);
  });

  test('logs, exec, run --rm, stop/start/restart, kill, rm, top', async () => {
    const p = project('bct-ops', 'multi', ['compose.yaml']);
    ok(await p.run(['up', '-d']), 'up');
    const ex = ok(await p.run(['exec', '-T', 'web', 'sh', '-c', 'echo in-$LEVEL; exit 0']), 'exec');
    assert.equal(ex.stdout, 'in-base\n');
    const code = await p.run(['exec', '-T', 'web', 'sh', '-c', 'exit 3']);
    assert.equal(code.code, 3);
    const run = ok(await p.run(['run', '--rm', '-T', '-e', 'EXTRA=x', 'worker', 'sh', '-c', 'echo run-$EXTRA; echo err >&2']), 'run');
    assert.equal(run.stdout, 'run-x\n');
    assert.deepEqual((await names('bct-ops')).filter((n) => n.includes('-run-')), []);
    const top = ok(await p.run(['top', 'web']), 'top');
    assert.match(top.stdout, /bct-ops-web-1\n.*PID.*\n.*sleep 600/s);
    ok(await p.run(['stop', '-t', '1', 'worker']), 'stop');
    assert.equal((await inspect('bct-ops-worker-1')).State.Running, false);
    assert.equal((await inspect('bct-ops-web-1')).State.Running, true);
    ok(await p.run(['start', 'worker']), 'start');
    assert.equal((await inspect('bct-ops-worker-1')).State.Running, true);
    const started = (await inspect('bct-ops-web-1')).State.StartedAt;
    ok(await p.run(['restart', '-t', '1', 'web']), 'restart');
    assert.notEqual((await inspect('bct-ops-web-1')).State.StartedAt, started);
    ok(await p.run(['kill', 'worker']), 'kill');
    assert.equal((await inspect('bct-ops-worker-1')).State.Running, false);
    ok(await p.run(['rm', '-f', 'worker']), 'rm');
    assert.deepEqual(await names('bct-ops'), ['bct-ops-web-1']);
    // Logs of a service with output, prefixed.
    const lp = project('bct-logs', 'health', ['compose.yaml']);
    ok(await lp.run(['up', '-d', 'setup']), 'up setup');
    await new Promise((r) => setTimeout(r, 500));
    const logs = ok(await lp.run(['logs', '--no-color', 'setup']), 'logs');
    assert.equal(logs.stdout, 'setup-1  | setup done\n');
    assert.equal(ok(await lp.run(['logs', '--no-log-prefix', 'setup']), 'logs').stdout, 'setup done\n');
  });

  test('attached up prints prefixed logs and returns when the containers exit', async () => {
    const p = project('bct-attached', 'health', ['compose.yaml']);
    const r = ok(await p.run(['up', '--no-color', 'setup']), 'up attached');
    assert.match(r.stdout, /^setup-1 {2}\| setup done$/m);
    assert.match(r.stdout, /^setup-1 exited with code 0$/m);
  });

  test('depends_on: service_healthy and service_completed_successfully order the start', async () => {
    const p = project('bct-health', 'health', ['compose.yaml']);
    const r = ok(await p.run(['up', '-d']), 'up');
    const lines = r.stderr.split('\n');
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    assert.ok(at(/bct-health-db-1 {2}Healthy/) >= 0, r.stderr);
    assert.ok(at(/bct-health-db-1 {2}Healthy/) < at(/bct-health-app-1 {2}Started/), r.stderr);
    assert.ok(at(/bct-health-setup-1 {2}Exited/) < at(/bct-health-app-1 {2}Started/), r.stderr);
    const db = await inspect('bct-health-db-1');
    const app = await inspect('bct-health-app-1');
    assert.equal(db.State.Health.Status, 'healthy');
    assert.ok(Date.parse(app.State.StartedAt) - Date.parse(db.State.StartedAt) >= 1900, `${db.State.StartedAt} → ${app.State.StartedAt}`);
    ok(await p.run(['down', '-t', '1']), 'down');
    // --wait returns once everything is running and healthy (a one-shot that exited 0 is fine).
    const w = ok(await p.run(['up', '-d', '--wait']), 'up --wait');
    assert.match(w.stderr, /bct-health-setup-1 {2}Exited/);
    assert.equal((await inspect('bct-health-db-1')).State.Health.Status, 'healthy');
    // --abort-on-container-exit stops the others when one exits, with its exit code.
    ok(await p.run(['down', '-t', '1']), 'down');
    const ab = await p.run(['up', '--abort-on-container-exit', '--no-color']);
    assert.equal(ab.code, 0, ab.stderr);
    assert.match(ab.stderr, /Aborting on container exit/);
    assert.equal((await inspect('bct-health-app-1')).State.Running, false);
    assert.equal((await inspect('bct-health-db-1')).State.Running, false);
    // A dependency that turns unhealthy stops `up` with compose's message; the dependant never starts.
    const f = project('bct-sick', 'health', ['failing.yaml']);
    const bad = await f.run(['up', '-d']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /dependency failed to start: container bct-sick-sick-1 is unhealthy/);
    assert.equal((await inspect('bct-sick-app-1')).State.Running, false);
  });

  test('--scale 3 makes <project>-<service>-1..3; scaling down removes the highest numbers', async () => {
    const p = project('bct-scale', 'profiles');
    ok(await p.run(['up', '-d', '--scale', 'app=3']), 'up --scale');
    assert.deepEqual(await names('bct-scale'), ['bct-scale-app-1', 'bct-scale-app-2', 'bct-scale-app-3']);
    for (const n of [1, 2, 3]) assert.equal((await inspect(`bct-scale-app-${n}`)).Config.Labels['com.docker.compose.container-number'], String(n));
    ok(await p.run(['exec', '-T', '--index', '3', 'app', 'true']), 'exec --index 3');
    ok(await p.run(['up', '-d', '--scale', 'app=1', '-t', '1']), 'scale down');
    assert.deepEqual(await names('bct-scale'), ['bct-scale-app-1']);
  });

  test('profiles: --profile and COMPOSE_PROFILES enable services; naming a service enables it', async () => {
    const p = project('bct-prof', 'profiles');
    ok(await p.run(['up', '-d']), 'up');
    assert.deepEqual(await names('bct-prof'), ['bct-prof-app-1']);
    ok(await compose(p.dir, ['-p', 'bct-prof', '--profile', 'debug', 'up', '-d']), 'up --profile');
    assert.deepEqual(await names('bct-prof'), ['bct-prof-app-1', 'bct-prof-debug-1']);
    assert.equal(ok(await p.run(['config', '--services'], { COMPOSE_PROFILES: 'debug' }), 'config').stdout, 'app\ndebug\n');
    assert.equal(ok(await p.run(['config', '--profiles']), 'config --profiles').stdout, 'debug\n');
    // down without the profile still removes the profiled container (it belongs to the project).
    ok(await p.run(['down', '-t', '1']), 'down');
    assert.deepEqual(await names('bct-prof'), []);
  });

  test('build: args and target through /build, image tagged <project>-<service>; down --rmi local', async () => {
    const p = project('bct-build', 'build');
    const r = ok(await p.run(['up', '--no-color', 'app']), 'up app');
    assert.match(r.stdout, /^app-1 {2}\| built with compose-arg$/m);
    assert.doesNotMatch(r.stdout, /final stage/);
    assert.equal((await d.api('GET', '/images/bct-build-app/json')).status, 200);
    ok(await p.run(['build', 'tagged']), 'build tagged');
    assert.equal((await d.api('GET', '/images/bct-built-image:v1/json')).status, 200);
    ok(await p.run(['down', '--rmi', 'local']), 'down --rmi local');
    assert.equal((await d.api('GET', '/images/bct-build-app/json')).status, 404);
    assert.equal((await d.api('GET', '/images/bct-built-image:v1/json')).status, 200, 'an image with a custom tag is kept by --rmi local');
    await d.api('DELETE', '/images/bct-built-image:v1');
  });

  test('project network: the client reaches web by service name and alias; down removes the network', async () => {
    const env = { NET_PREFIX: '10.231.71' };
    const p = project('bct-web', 'webclient');
    const up = ok(await p.run(['up', '-d'], env), 'up');
    assert.match(up.stderr, /Network bct-web_default {2}Created/);
    const net = await d.api('GET', '/networks/bct-web_default');
    assert.equal(net.status, 200);
    assert.equal(net.json().Labels['com.docker.compose.network'], 'default');
    assert.equal(net.json().Labels['com.docker.compose.project'], 'bct-web');
    const client = await d.api('POST', '/containers/bct-web-client-1/wait');
    assert.equal(client.json().StatusCode, 0);
    const logs = ok(await p.run(['logs', '--no-color', 'client'], env), 'logs');
    assert.equal(logs.stdout, 'client-1  | hello from compose-web\nclient-1  | hello from compose-web\n');
    const web = await inspect('bct-web-web-1');
    assert.deepEqual(Object.keys(web.NetworkSettings.Networks), ['bct-web_default']);
    assert.match(web.NetworkSettings.Networks['bct-web_default'].IPAddress, /^10\.231\.71\./);
    // The published port (a dynamic host port on loopback) serves the page.
    const port = ok(await p.run(['port', 'web', '80'], env), 'port').stdout.trim();
    assert.match(port, /^127\.0\.0\.1:\d+$/);
    assert.equal(await (await fetch(`http://${port}/`)).text(), 'hello from compose-web\n');
    assert.match(ok(await p.run(['ps'], env), 'ps').stdout, new RegExp(`bct-web-web-1 .*${port.replace(/\./g, '\\.')}->80/tcp`));
    // run does not publish the service's ports unless --service-ports.
    const oneoff = ok(await p.run(['run', '--rm', '-T', '--no-deps', 'web', 'true'], env), 'run');
    assert.equal(oneoff.stdout, '');
    ok(await p.run(['down', '-t', '1'], env), 'down');
    assert.equal((await d.api('GET', '/networks/bct-web_default')).status, 404);
  });

  test('attached up: Ctrl-C stops the project gracefully (exit 130)', async () => {
    const env = { NET_PREFIX: '10.231.72' };
    const dir = join(work, 'webclient');
    projects.push({ name: 'bct-sig', files: [join(dir, 'compose.yaml')] });
    const base = { ...process.env };
    delete base.DOCKER_HOST;
    const child = spawn(BERTH_BIN, ['compose', '-p', 'bct-sig', '-f', join(dir, 'compose.yaml'), 'up', '--no-color'], { cwd: dir, env: { ...base, BERTH_HOST: d.host, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!/client-1 exited with code 0/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /^client-1 {2}\| hello from compose-web$/m);
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, `${err}\n${out}`);
    assert.match(err, /Gracefully stopping\.\.\. \(press Ctrl\+C again to force\)/);
    assert.match(err, /Container bct-sig-web-1 {2}Stopped/);
    assert.equal((await inspect('bct-sig-web-1')).State.Running, false);
  });

  test('named volume survives down and goes with down -v; bind mount read-only; tmpfs; external volumes', async () => {
    const p = project('bct-vol', 'volumes');
    const up = ok(await p.run(['up', '-d']), 'up');
    assert.match(up.stderr, /Volume "bct-vol_data" {2}Created/);
    const vol = await d.api('GET', '/volumes/bct-vol_data');
    assert.equal(vol.status, 200);
    assert.equal(vol.json().Labels['com.docker.compose.volume'], 'data');
    ok(await p.run(['exec', '-T', 'store', 'sh', '-c', 'echo persisted > /data/f']), 'write');
    const seed = await p.run(['exec', '-T', 'store', 'sh', '-c', 'cat /seed/hello.txt; touch /seed/x || echo read-only; grep -c " /scratch tmpfs" /proc/mounts']);
    assert.equal(seed.stdout, 'seeded from the host\nread-only\n1\n');
    ok(await p.run(['down', '-t', '1']), 'down');
    assert.equal((await d.api('GET', '/volumes/bct-vol_data')).status, 200, 'down without -v keeps the volume');
    ok(await p.run(['up', '-d']), 'up again');
    assert.equal(ok(await p.run(['exec', '-T', 'store', 'cat', '/data/f']), 'read').stdout, 'persisted\n');
    const down = ok(await p.run(['down', '-v', '-t', '1']), 'down -v');
    assert.match(down.stderr, /Volume "bct-vol_data" {2}Removed/);
    assert.equal((await d.api('GET', '/volumes/bct-vol_data')).status, 404);

    const e = project('bct-ext', 'volumes', ['external.yaml']);
    const missing = await e.run(['up', '-d']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /external volume "bct-external-shared" not found/);
    assert.deepEqual(await names('bct-ext'), []);
    assert.equal((await d.api('POST', '/volumes/create', { Name: 'bct-external-shared' })).status, 201);
    ok(await e.run(['up', '-d']), 'up with the external volume');
    ok(await e.run(['down', '-v', '-t', '1']), 'down -v');
    assert.equal((await d.api('GET', '/volumes/bct-external-shared')).status, 200, 'an external volume is not removed');
    await d.api('DELETE', '/volumes/bct-external-shared');
  });

  test('down removes containers; unknown subcommands and services fail clearly', async () => {
    const p = project('bct-down', 'profiles');
    ok(await p.run(['up', '-d']), 'up');
    const r = ok(await p.run(['down', '-t', '1']), 'down');
    assert.match(r.stderr, /Container bct-down-app-1 {2}Removed/);
    assert.deepEqual(await names('bct-down'), []);
    // With no compose file, `-p NAME` finds the project by its labels (ps, down -v), as Docker Compose.
    const v = project('bct-nofile', 'volumes');
    ok(await v.run(['up', '-d']), 'up volumes');
    assert.match(ok(await compose(work, ['-p', 'bct-nofile', 'ps']), 'ps by name').stdout, /bct-nofile-store-1\s+busybox/);
    const nf = await compose(work, ['-p', 'bct-nofile', 'up', '-d']);
    assert.equal(nf.code, 1);
    assert.match(nf.stderr, /no configuration file provided: not found/);
    ok(await compose(work, ['-p', 'bct-nofile', 'down', '-v', '-t', '1']), 'down by name');
    assert.deepEqual(await names('bct-nofile'), []);
    assert.equal((await d.api('GET', '/volumes/bct-nofile_data')).status, 404);
    const unknown = await p.run(['frobnicate']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown docker command: "compose frobnicate"/);
    const nosvc = await p.run(['up', '-d', 'nope']);
    assert.equal(nosvc.code, 1);
    assert.match(nosvc.stderr, /no such service: nope/);
    assert.deepEqual(await names('bct-down'), []);
  });
});
