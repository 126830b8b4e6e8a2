import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_BIN, REPO_ROOT, startDaemon, type RunResult, type TestDaemon } from '../helpers/daemon.js';
import { spawnPty } from '../helpers/pty.js';

/**
 * Debian's docker-compose (v1.29, python, docker-py) against berthd with the fixture projects
 * of test/fixtures/compose, and `berth compose` and docker-compose looking at each other's
 * projects: both use the com.docker.compose.* labels, so each lists and removes the other's
 * containers. `docker-compose run` and `exec` go through the docker CLI, as v1 does by default
 * (and, with COMPOSE_INTERACTIVE_NO_CLI=1, through its own docker-py attach and exec: both
 * paths are covered by the default-paths test below, issue 15).
 */

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'compose');
let d: TestDaemon;
let work: string;
const cleanup: Array<() => Promise<unknown>> = [];

function run(cmd: string, args: string[], dir: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const base = { ...process.env };
    for (const k of ['COMPOSE_PROJECT_NAME', 'COMPOSE_FILE', 'COMPOSE_PROFILES', 'BERTH_HOST']) delete base[k];
    const child = execFile(cmd, args, {
      cwd: dir,
      env: { ...base, DOCKER_HOST: d.host, BERTH_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', ...env },
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
      encoding: 'utf8',
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return r;
}

function both(name: string, fixture: string, files = ['compose.yaml']) {
  const dir = join(work, fixture);
  const f = files.flatMap((x) => ['-f', join(dir, x)]);
  cleanup.push(() => run(BERTH_BIN, ['compose', '-p', name, ...f, 'down', '-v', '--remove-orphans', '-t', '1'], dir));
  return {
    v1: (args: string[], env?: Record<string, string>) => run('docker-compose', ['-p', name, ...f, ...args], dir, env),
    berth: (args: string[], env?: Record<string, string>) => run(BERTH_BIN, ['compose', '-p', name, ...f, ...args], dir, env),
  };
}

async function containers(project: string): Promise<Array<{ name: string; state: string; labels: Record<string, string> }>> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  const r = await d.api('GET', `/containers/json?all=1&filters=${filters}`);
  return (r.json() as Array<{ Names: string[]; State: string; Labels: Record<string, string> }>).map((c) => ({ name: c.Names[0]!.slice(1), state: c.State, labels: c.Labels })).sort((a, b) => a.name.localeCompare(b.name));
}

before(async () => {
  d = await startDaemon('compose-compat');
  await d.importBusybox();
  work = await mkdtemp(join(tmpdir(), 'berth-test-compose-compat-'));
  await cp(FIXTURES, work, { recursive: true });
});

after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('docker-compose v1 against berthd', () => {
  test('docker-compose up -d / ps / down; berth compose ps sees its project', async () => {
    const p = both('bctc-prof', 'profiles');
    ok(await p.v1(['up', '-d']), 'docker-compose up');
    const list = await containers('bctc-prof');
    assert.deepEqual(list.map((c) => `${c.name}:${c.state}`), ['bctc-prof_app_1:running']);
    assert.equal(list[0]!.labels['com.docker.compose.service'], 'app');
    assert.match(ok(await p.v1(['ps']), 'docker-compose ps').stdout, /bctc-prof_app_1\s+sleep 600\s+Up/);
    const ps = ok(await p.berth(['ps']), 'berth compose ps');
    assert.match(ps.stdout, /bctc-prof_app_1\s+busybox\s+"sleep 600"\s+app\s+.*Up/);
    assert.equal(ok(await p.berth(['ps', '--services']), 'berth ps --services').stdout, 'app\n');
    ok(await p.v1(['--profile', 'debug', 'up', '-d']), 'docker-compose --profile up');
    assert.deepEqual((await containers('bctc-prof')).map((c) => c.name), ['bctc-prof_app_1', 'bctc-prof_debug_1']);
    // berth compose down removes what docker-compose made.
    ok(await p.berth(['down', '-t', '1']), 'berth compose down');
    assert.deepEqual(await containers('bctc-prof'), []);
  });

  test('docker-compose recreates a container (it reads the image inspect ContainerConfig that dockerd 25+ dropped)', async () => {
    const p = both('bctc-recreate', 'profiles');
    ok(await p.v1(['up', '-d']), 'docker-compose up');
    const first = await d.api('GET', '/containers/bctc-recreate_app_1/json');
    const r = ok(await p.v1(['up', '-d', '--force-recreate', '-t', '1']), 'docker-compose up --force-recreate');
    assert.match(r.stderr, /Recreating bctc-recreate_app_1 .*done/);
    const second = await d.api('GET', '/containers/bctc-recreate_app_1/json');
    assert.notEqual(second.json().Id, first.json().Id);
    assert.equal(second.json().State.Running, true);
    ok(await p.v1(['down', '-t', '1']), 'docker-compose down');
  });

  test('berth compose up -d; docker-compose ps, stop, start and down act on it', async () => {
    const p = both('bctc-multi', 'multi', ['compose.yaml', 'compose.prod.yaml']);
    ok(await p.berth(['up', '-d']), 'berth compose up');
    const ps = ok(await p.v1(['ps']), 'docker-compose ps');
    assert.match(ps.stdout, /bctc-multi-web-1\s+sleep 600\s+Up/);
    assert.match(ps.stdout, /bctc-multi-worker-1\s+sleep 800\s+Up/);
    assert.equal(ok(await p.v1(['ps', '--services']), 'ps --services').stdout.split('\n').filter(Boolean).sort().join(','), 'web,worker');
    ok(await p.v1(['stop', '-t', '1', 'worker']), 'docker-compose stop');
    assert.equal((await containers('bctc-multi')).find((c) => c.name === 'bctc-multi-worker-1')?.state, 'exited');
    ok(await p.v1(['start', 'worker']), 'docker-compose start');
    assert.match(ok(await p.berth(['ps']), 'berth ps').stdout, /bctc-multi-worker-1.*Up/);
    const ex = ok(await p.v1(['exec', '-T', 'web', 'sh', '-c', 'echo $LEVEL']), 'docker-compose exec');
    assert.equal(ex.stdout, 'prod\n');
    ok(await p.v1(['down', '-t', '1']), 'docker-compose down');
    assert.deepEqual(await containers('bctc-multi'), []);
  });

  test('docker-compose: health-gated start order, scale 3, several -f files, interpolation from .env', async () => {
    const h = both('bctc-health', 'health');
    ok(await h.v1(['up', '-d']), 'docker-compose up health');
    const db = (await d.api('GET', '/containers/bctc-health_db_1/json')).json();
    const app = (await d.api('GET', '/containers/bctc-health_app_1/json')).json();
    assert.equal(db.State.Health.Status, 'healthy');
    assert.ok(Date.parse(app.State.StartedAt) - Date.parse(db.State.StartedAt) >= 1900, `${db.State.StartedAt} → ${app.State.StartedAt}`);
    ok(await h.v1(['down', '-t', '1']), 'down');

    const s = both('bctc-scale', 'profiles');
    ok(await s.v1(['up', '-d', '--scale', 'app=3']), 'docker-compose --scale');
    assert.deepEqual((await containers('bctc-scale')).map((c) => c.name), ['bctc-scale_app_1', 'bctc-scale_app_2', 'bctc-scale_app_3']);
    assert.equal(ok(await s.berth(['ps', '-q']), 'berth ps -q').stdout.trim().split('\n').length, 3);
    ok(await s.berth(['down', '-t', '1']), 'berth down');

    const m = both('bctc-mf', 'multi', ['compose.yaml', 'compose.override.yaml', 'compose.prod.yaml']);
    ok(await m.v1(['up', '-d']), 'docker-compose -f -f -f');
    const web = (await d.api('GET', '/containers/bctc-mf_web_1/json')).json();
    assert.deepEqual(web.Config.Cmd, ['sleep', '700']);
    assert.ok(web.Config.Env.includes('LEVEL=prod'));
    ok(await m.v1(['down', '-t', '1']), 'down');

    const i = both('bctc-interp', 'interp');
    ok(await i.v1(['up', '-d']), 'docker-compose up interp');
    const env = (await d.api('GET', '/containers/bctc-interp_app_1/json')).json().Config.Env as string[];
    assert.ok(env.includes('GREETING=hello from .env') && env.includes('PRICE=$5'), env.join(' '));
    ok(await i.v1(['down', '-t', '1']), 'down');
  });

  test('docker-compose: the client resolves web by service name and alias on the project network; berth compose down removes it all', async () => {
    const env = { NET_PREFIX: '10.231.81' };
    const p = both('bctc-web', 'webclient');
    ok(await p.v1(['up', '-d'], env), 'docker-compose up');
    const wait = await d.api('POST', '/containers/bctc-web_client_1/wait');
    assert.equal(wait.json().StatusCode, 0);
    const logs = ok(await p.berth(['logs', '--no-color', 'client'], env), 'berth compose logs');
    assert.equal(logs.stdout, 'bctc-web_client_1  | hello from compose-web\nbctc-web_client_1  | hello from compose-web\n');
    assert.equal((await d.api('GET', '/networks/bctc-web_default')).status, 200);
    ok(await p.berth(['down', '-t', '1'], env), 'berth compose down');
    assert.deepEqual(await containers('bctc-web'), []);
    assert.equal((await d.api('GET', '/networks/bctc-web_default')).status, 404);
    // And the other way round: berth's project network, removed by docker-compose.
    ok(await p.berth(['up', '-d'], env), 'berth compose up');
    assert.equal((await d.api('POST', '/containers/bctc-web-client-1/wait')).json().StatusCode, 0);
    assert.match(ok(await p.v1(['logs', '--no-color', 'client'], env), 'docker-compose logs').stdout, /hello from compose-web/);
    ok(await p.v1(['down', '-t', '1'], env), 'docker-compose down');
    assert.deepEqual(await containers('bctc-web'), []);
    assert.equal((await d.api('GET', '/networks/bctc-web_default')).status, 404);
  });

  test('docker-compose: named volume kept by down, removed by down -v; berth compose sees its volume', async () => {
    const p = both('bctc-vol', 'volumes');
    ok(await p.v1(['up', '-d']), 'docker-compose up');
    assert.equal((await d.api('GET', '/volumes/bctc-vol_data')).status, 200);
    ok(await p.v1(['exec', '-T', 'store', 'sh', '-c', 'echo persisted > /data/f']), 'write');
    assert.equal(ok(await p.v1(['exec', '-T', 'store', 'cat', '/seed/hello.txt']), 'bind').stdout, 'seeded from the host\n');
    ok(await p.v1(['down', '-t', '1']), 'docker-compose down');
    assert.equal((await d.api('GET', '/volumes/bctc-vol_data')).status, 200);
    // berth compose uses docker-compose's volume (same name and labels) and finds the data.
    ok(await p.berth(['up', '-d']), 'berth compose up');
    assert.equal(ok(await p.berth(['exec', '-T', 'store', 'cat', '/data/f']), 'read').stdout, 'persisted\n');
    ok(await p.v1(['down', '-v', '-t', '1']), 'docker-compose down -v');
    assert.equal((await d.api('GET', '/volumes/bctc-vol_data')).status, 404);
  });

  test('docker-compose build (classic builder, args and target) through berthd /build', async () => {
    const b = both('bctc-build', 'build');
    ok(await b.v1(['build']), 'docker-compose build');
    assert.equal((await d.api('GET', '/images/bctc-build_app/json')).status, 200);
    assert.equal((await d.api('GET', '/images/bct-built-image:v1/json')).status, 200);
    const r = ok(await b.v1(['run', '--rm', '-T', 'app']), 'docker-compose run');
    assert.equal(r.stdout.trim(), 'built with compose-arg');
    ok(await b.v1(['down', '--rmi', 'all']), 'down --rmi all');
    assert.equal((await d.api('GET', '/images/bctc-build_app/json')).status, 404);
  });

  // Issue 15: v1's default paths, through the docker CLI (default) and through docker-py's own
  // attach/exec (COMPOSE_INTERACTIVE_NO_CLI=1, which needs attach?logs=1 to replay the output
  // of a one-off container that already exited, and exec start to frame its output).
  for (const noCli of [false, true]) {
    test(`docker-compose up, run -T --rm, run with a tty, exec, logs, scale, down -v${noCli ? ' (COMPOSE_INTERACTIVE_NO_CLI=1)' : ''}`, async () => {
      const name = `bctc-paths${noCli ? 'n' : 'c'}`;
      const dir = join(work, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'compose.yaml'), [
        'services:',
        '  app:',
        '    image: busybox',
        '    command: ["sh", "-c", "echo app started; sleep 100"]',
        '    volumes: ["data:/data"]',
        'volumes:',
        '  data: {}',
        '',
      ].join('\n'));
      const env: Record<string, string> = noCli ? { COMPOSE_INTERACTIVE_NO_CLI: '1' } : {};
      const p = both(name, name);
      ok(await p.v1(['up', '-d'], env), 'up');
      const oneOff = ok(await p.v1(['run', '-T', '--rm', 'app', 'sh', '-c', 'echo one-off; echo to-err >&2'], env), 'run -T --rm');
      assert.match(oneOff.stdout, /^one-off$/m);
      assert.match(oneOff.stdout + oneOff.stderr, /to-err/);
      const failing = await p.v1(['run', '-T', '--rm', 'app', 'sh', '-c', 'exit 3'], env);
      assert.equal(failing.code, 3, `run keeps the exit code: ${failing.stderr}`);
      const ex = ok(await p.v1(['exec', '-T', 'app', 'sh', '-c', 'echo exec-out; id -u'], env), 'exec -T');
      assert.equal(ex.stdout, 'exec-out\n0\n');
      const term = spawnPty('docker-compose', ['-p', name, '-f', join(dir, 'compose.yaml'), 'run', '--rm', 'app', 'sh', '-c', 'tty >/dev/null && echo has-a-tty'], {
        env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_CLI_HINTS: 'false', ...env },
      });
      try {
        await term.waitFor(/has-a-tty/, 60_000);
        assert.equal(await term.exit(60_000), 0);
      } finally {
        term.kill();
      }
      assert.match(ok(await p.v1(['logs', '--no-color', 'app'], env), 'logs').stdout, /app started/);
      ok(await p.v1(['up', '-d', '--scale', 'app=2'], env), 'scale');
      assert.equal((await containers(name)).filter((c) => c.state === 'running').length, 2);
      ok(await p.v1(['down', '-v', '-t', '1'], env), 'down -v');
      assert.deepEqual(await containers(name), []);
      assert.equal((await d.api('GET', `/volumes/${name}_data`)).status, 404);
    });
  }
});
