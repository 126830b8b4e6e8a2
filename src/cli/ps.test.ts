import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDaemon, sendJson } from '../client/fake-daemon.js';
import { main } from './main.js';
import { Capture, input } from './test-streams.js';

// CreatedAt prints local time, as docker does; pin the zone.
process.env.TZ = 'UTC';
const NOW = Date.UTC(2024, 0, 2, 12, 0, 0);
const IMG = `sha256:${'abcdef0123456789'.repeat(4)}`;

const CONTAINERS = [
  {
    Id: `a1b2c3d4e5f6${'0'.repeat(52)}`,
    Names: ['/web'],
    Image: 'busybox',
    ImageID: IMG,
    Command: "sh -c 'while true; do sleep 1; done'",
    Created: NOW / 1000 - 5,
    Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }],
    Labels: { tier: 'front', app: 'shop' },
    State: 'running',
    Status: 'Up 3 seconds',
    SizeRw: 12,
    SizeRootFs: 4_194_304,
  },
  {
    Id: `${'9'.repeat(64)}`,
    Names: ['/db', '/web/db'],
    Image: IMG,
    ImageID: IMG,
    Command: 'true',
    Created: NOW / 1000 - 7200,
    Ports: [],
    Labels: {},
    State: 'exited',
    Status: 'Exited (0) 2 minutes ago',
  },
];

const IMAGES = [
  { Id: IMG, RepoTags: ['busybox:latest', 'localhost:5000/busybox:1.36'], RepoDigests: [], Created: NOW / 1000 - 3 * 86400, Size: 4_261_160 },
  { Id: `sha256:${'12'.repeat(32)}`, RepoTags: [], RepoDigests: [], Created: NOW / 1000 - 30, Size: 999 },
];

describe('ps and images output', () => {
  const daemon = new FakeDaemon();
  before(async () => {
    daemon.on('GET', '/containers/json', (_req, res) => sendJson(res, 200, CONTAINERS));
    daemon.on('GET', '/images/json', (_req, res) => sendJson(res, 200, IMAGES));
    await daemon.listen();
  });
  after(async () => daemon.close());

  async function berth(argv: string[]) {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(argv, { stdout, stderr, stdin: input(), env: { BERTH_HOST: daemon.host }, now: () => NOW, signals: new EventEmitter() });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('ps prints docker’s default table', async () => {
    const r = await berth(['ps', '-a']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                     PORTS                  NAMES',
        'a1b2c3d4e5f6   busybox        "sh -c \'while true; …"   5 seconds ago   Up 3 seconds               0.0.0.0:8080->80/tcp   web',
        '999999999999   abcdef012345   "true"                   2 hours ago     Exited (0) 2 minutes ago                          db',
        '',
      ].join('\n'),
    );
    assert.equal(daemon.calls().at(-1), 'GET /containers/json?all=1');
  });

  it('ps -q, --no-trunc, --filter, -n, -s', async () => {
    let r = await berth(['ps', '-q', '--filter', 'status=exited', '-f', 'name=db']);
    assert.equal(r.stdout, 'a1b2c3d4e5f6\n999999999999\n');
    const q = daemon.requests.at(-1)!.query;
    assert.deepEqual(JSON.parse(q.get('filters')!), { status: { exited: true }, name: { db: true } });
    r = await berth(['ps', '-q', '--no-trunc', '-n', '2']);
    assert.equal(r.stdout, `${CONTAINERS[0]!.Id}\n${CONTAINERS[1]!.Id}\n`);
    assert.equal(daemon.calls().at(-1), 'GET /containers/json?all=1&limit=2');
    r = await berth(['ps', '-s', '--format', 'table {{.Names}}\\t{{.Size}}']);
    assert.equal(r.stdout, 'NAMES     SIZE\nweb       12B (virtual 4.19MB)\ndb        0B\n');
    assert.equal(daemon.calls().at(-1), 'GET /containers/json?size=1');
  });

  it('ps --format templates and json', async () => {
    let r = await berth(['ps', '--format', '{{.ID}} {{.Label "tier"}} {{.Labels}} {{.State}} {{.CreatedAt}}']);
    assert.equal(r.stdout.split('\n')[0], 'a1b2c3d4e5f6 front tier=front,app=shop running 2024-01-02 11:59:55 +0000 UTC');
    r = await berth(['ps', '--format', 'json']);
    const first = JSON.parse(r.stdout.split('\n')[0]!);
    assert.equal(first.Names, 'web');
    assert.equal(first.RunningFor, '5 seconds ago');
    assert.equal(first.Command, '"sh -c \'while true; …"');
    r = await berth(['ps', '--format', '{{.Nope}}']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /can't evaluate field Nope in type \*formatter\.ContainerContext/);
    r = await berth(['ps', '--format', '{{.Names']);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, 'template parsing error: template: :1: unclosed action\n');
  });

  it('images prints one row per tag and <none> for untagged', async () => {
    const r = await berth(['images']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'REPOSITORY               TAG       IMAGE ID       CREATED          SIZE',
        'busybox                  latest    abcdef012345   3 days ago       4.26MB',
        'localhost:5000/busybox   1.36      abcdef012345   3 days ago       4.26MB',
        '<none>                   <none>    121212121212   30 seconds ago   999B',
        '',
      ].join('\n'),
    );
    const q = await berth(['images', '-q', 'busybox']);
    assert.equal(q.stdout, 'abcdef012345\nabcdef012345\n121212121212\n');
    assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.query.get('filters')!), { reference: { busybox: true } });
    const f = await berth(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.equal(f.stdout.split('\n')[0], `busybox:latest ${IMG}`);
  });
});
