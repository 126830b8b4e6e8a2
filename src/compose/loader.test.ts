import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject, normalizeProjectName, parsePortShort } from './loader.js';
import { dependencyOrder } from './runner.js';
import { configHash, createBody } from './convert.js';

function project(files: Record<string, string>, dirName = 'My App.1'): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'berth-compose-unit-'));
  const dir = join(root, dirName);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('project name: directory normalised, -p validated, COMPOSE_PROJECT_NAME and name: used', () => {
  assert.equal(normalizeProjectName('My App.1'), 'myapp1');
  const p = project({ 'compose.yaml': 'services: {a: {image: busybox}}\n' });
  try {
    assert.equal(loadProject({ env: {}, cwd: p.dir }).name, 'myapp1');
    assert.equal(loadProject({ env: { COMPOSE_PROJECT_NAME: 'fromenv' }, cwd: p.dir }).name, 'fromenv');
    assert.equal(loadProject({ env: {}, cwd: p.dir, projectName: 'flag' }).name, 'flag');
    assert.throws(() => loadProject({ env: {}, cwd: p.dir, projectName: 'Bad Name' }), /invalid project name "Bad Name"/);
  } finally {
    p.cleanup();
  }
});

test('file lookup walks up to parent directories and picks the override file', () => {
  const p = project({ 'docker-compose.yml': 'services: {a: {image: busybox, command: one}}\n', 'docker-compose.override.yml': 'services: {a: {command: two}}\n', 'sub/deeper/.keep': '' });
  try {
    const pr = loadProject({ env: {}, cwd: join(p.dir, 'sub', 'deeper') });
    assert.equal(pr.workingDir, p.dir);
    assert.deepEqual(pr.services.a!.command, ['two']);
    assert.equal(pr.configFiles.length, 2);
  } finally {
    p.cleanup();
  }
});

test('-f files merge by the compose spec: maps merge, lists append, command replaced, ports/volumes unique, !reset', () => {
  const p = project({
    'a.yaml': `services:
  web:
    image: busybox
    command: [echo, a]
    environment: [A=1, B=2]
    ports: ["8080:80"]
    volumes: ["data:/data", "/tmp:/t"]
    dns: [1.1.1.1]
    labels: {x: "1"}
volumes: {data: {}, other: {}}
`,
    'b.yaml': `services:
  web:
    command: echo b
    environment: {B: "3", C: "4"}
    ports: ["8080:80", "9090:90"]
    volumes: ["other:/data"]
    dns: [8.8.8.8]
    labels: !reset {}
`,
  });
  try {
    const pr = loadProject({ env: {}, cwd: p.dir, files: ['a.yaml', 'b.yaml'] });
    const web = pr.services.web!;
    assert.deepEqual(web.command, ['echo', 'b']);
    assert.deepEqual(web.environment, { A: '1', B: '3', C: '4' });
    assert.deepEqual(web.ports!.map((x) => `${x.published}:${x.target}`), ['8080:80', '9090:90']);
    assert.deepEqual(web.volumes!.map((v) => `${v.source}:${v.target}`), ['other:/data', '/tmp:/t']);
    assert.deepEqual(web.dns, ['1.1.1.1', '8.8.8.8']);
    assert.equal(web.labels, undefined);
    assert.equal(pr.volumes.other!.name, 'myapp1_other');
  } finally {
    p.cleanup();
  }
});

test('.env, --env-file, env_file and interpolation; the shell environment wins over .env', () => {
  const p = project({
    '.env': 'TAG=fromdotenv\nPORT=81\n',
    'alt.env': 'TAG=fromalt\n',
    'svc.env': 'S1=file\nS2=file\n',
    'compose.yaml': 'services:\n  a:\n    image: "busybox:${TAG}"\n    env_file: svc.env\n    environment: {S2: override, P: "${PORT:-80}", FROMSHELL: null}\n',
  });
  try {
    let pr = loadProject({ env: { FROMSHELL: 'sh' }, cwd: p.dir });
    assert.equal(pr.services.a!.image, 'busybox:fromdotenv');
    assert.deepEqual(pr.services.a!.environment, { S1: 'file', S2: 'override', P: '81', FROMSHELL: 'sh' });
    pr = loadProject({ env: { TAG: 'shell' }, cwd: p.dir });
    assert.equal(pr.services.a!.image, 'busybox:shell');
    pr = loadProject({ env: {}, cwd: p.dir, envFiles: ['alt.env'] });
    assert.equal(pr.services.a!.image, 'busybox:fromalt');
  } finally {
    p.cleanup();
  }
});

test('profiles: inactive services are left out unless enabled or named', () => {
  const p = project({ 'compose.yaml': 'services:\n  a: {image: busybox}\n  dbg: {image: busybox, profiles: [debug]}\n  tool: {image: busybox, profiles: [tools], depends_on: [dbg]}\n' });
  try {
    assert.deepEqual(Object.keys(loadProject({ env: {}, cwd: p.dir }).services), ['a']);
    assert.deepEqual(Object.keys(loadProject({ env: { COMPOSE_PROFILES: 'debug' }, cwd: p.dir }).services).sort(), ['a', 'dbg']);
    assert.deepEqual(Object.keys(loadProject({ env: {}, cwd: p.dir, services: ['tool'] }).services).sort(), ['a', 'dbg', 'tool']);
    assert.throws(() => loadProject({ env: {}, cwd: p.dir, profiles: ['tools'] }), /service "dbg" was pulled in as dependency of "tool"/);
  } finally {
    p.cleanup();
  }
});

test('extends (same file and another file), anchors and merge keys', () => {
  const p = project({
    'base/common.yaml': 'services:\n  base:\n    image: busybox\n    environment: {FROM: base}\n    build: ctx\n',
    'compose.yaml': `x-env: &env
  environment: {ANCHOR: "1"}
services:
  one:
    extends: {file: base/common.yaml, service: base}
    <<: *env
  two:
    extends: one
    command: echo two
`,
  });
  try {
    const pr = loadProject({ env: {}, cwd: p.dir });
    assert.deepEqual(pr.services.one!.environment, { FROM: 'base', ANCHOR: '1' });
    assert.equal(pr.services.one!.build!.context, join(p.dir, 'base', 'ctx'));
    assert.deepEqual(pr.services.two!.command, ['echo', 'two']);
    assert.equal(pr.services.two!.image, 'busybox');
  } finally {
    p.cleanup();
  }
});

test('validation names the file, service and key', () => {
  const p = project({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n    imagee: typo\n', 'ports.yaml': 'services:\n  web:\n    image: busybox\n    restart: 3\n' });
  try {
    assert.throws(() => loadProject({ env: {}, cwd: p.dir }), /validating .*compose\.yaml: services\.web additional properties 'imagee' not allowed/);
    assert.throws(() => loadProject({ env: {}, cwd: p.dir, files: ['ports.yaml'] }), /services\.web\.restart must be a string/);
  } finally {
    p.cleanup();
  }
});

test('short syntaxes: ports with ranges and IPs', () => {
  assert.deepEqual(parsePortShort('127.0.0.1:8080:80/udp'), [{ mode: 'ingress', target: 80, protocol: 'udp', host_ip: '127.0.0.1', published: '8080' }]);
  assert.deepEqual(parsePortShort('9000-9001:80-81').map((p) => `${p.published}:${p.target}`), ['9000:80', '9001:81']);
  assert.deepEqual(parsePortShort('80'), [{ mode: 'ingress', target: 80, protocol: 'tcp' }]);
});

test('dependency order, cycles; container body carries compose labels and the config hash', () => {
  const p = project({ 'compose.yaml': 'services:\n  web: {image: busybox, depends_on: {db: {condition: service_healthy}}, ports: ["8080:80"]}\n  db: {image: busybox}\n' }, 'app');
  try {
    const pr = loadProject({ env: {}, cwd: p.dir });
    assert.deepEqual(dependencyOrder(pr.services), ['db', 'web']);
    const { name, body } = createBody(pr, pr.services.web!, { number: 2, networks: true });
    assert.equal(name, 'app-web-2');
    assert.equal(body.Labels!['com.docker.compose.project'], 'app');
    assert.equal(body.Labels!['com.docker.compose.container-number'], '2');
    assert.equal(body.Labels!['com.docker.compose.depends_on'], 'db:service_healthy:false');
    assert.equal(body.Labels!['com.docker.compose.config-hash'], configHash(pr.services.web!));
    assert.equal(body.HostConfig!.NetworkMode, 'app_default');
    assert.deepEqual((body.NetworkingConfig!.EndpointsConfig!.app_default as { Aliases: string[] }).Aliases, ['web']);
    assert.deepEqual(body.HostConfig!.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    const changed = { ...pr.services.web!, command: ['x'] };
    assert.notEqual(configHash(changed), configHash(pr.services.web!));
    assert.equal(configHash({ ...pr.services.web!, scale: 3 }), configHash(pr.services.web!));
    assert.throws(() => dependencyOrder({ a: { name: 'a', scale: 1, depends_on: { b: { condition: 'service_started' } } }, b: { name: 'b', scale: 1, depends_on: { a: { condition: 'service_started' } } } }), /dependency cycle/);
  } finally {
    p.cleanup();
  }
});

test('include/secrets/configs are refused; keys berth cannot honour are reported, not silently dropped', () => {
  const p = project({
    'compose.yaml': 'services:\n  a: {image: busybox, storage_opt: {size: 1G}, x-mine: 1}\n',
    'secrets.yaml': 'services:\n  a: {image: busybox, secrets: [s]}\nsecrets: {s: {file: ./s.txt}}\n',
  });
  try {
    const warnings: string[] = [];
    loadProject({ env: {}, cwd: p.dir, warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, ['services.a: `storage_opt` is not supported by berth compose and is ignored']);
    assert.throws(() => loadProject({ env: {}, cwd: p.dir, files: ['secrets.yaml'] }), /secrets: not supported by berth compose/);
  } finally {
    p.cleanup();
  }
});
