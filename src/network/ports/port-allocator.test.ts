import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isConflict } from '../../common/errors.js';
import { DEFAULT_DYNAMIC_RANGE, PortAllocator, dynamicPortRange } from './port-allocator.js';

test('a taken port fails with Docker\'s message; 0.0.0.0 overlaps specific addresses, protocols do not', async () => {
  const a = new PortAllocator({ dynamicRange: [50000, 50010] });
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '', range: [8080, 8080], owner: 'a' }), 8080);
  await assert.rejects(a.allocate({ proto: 'tcp', hostIp: '', range: [8080, 8080], owner: 'b' }), (e: Error) => isConflict(e) && e.message === 'Bind for 0.0.0.0:8080 failed: port is already allocated');
  await assert.rejects(a.allocate({ proto: 'tcp', hostIp: '127.0.0.1', range: [8080, 8080], owner: 'b' }), /Bind for 127.0.0.1:8080 failed: port is already allocated/);
  assert.equal(await a.allocate({ proto: 'udp', hostIp: '', range: [8080, 8080], owner: 'b' }), 8080);
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '127.0.0.1', range: [9000, 9000], owner: 'b' }), 9000);
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '127.0.0.2', range: [9000, 9000], owner: 'c' }), 9000);
  a.release('a');
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '127.0.0.1', range: [8080, 8080], owner: 'b' }), 8080);
});

test('a host range takes its first free port; the dynamic range goes round, skipping ports held elsewhere', async () => {
  const busy = new Set([50002]);
  const a = new PortAllocator({ dynamicRange: [50000, 50003], isFree: async (_p, _ip, port) => !busy.has(port) });
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '', range: [7000, 7002], owner: 'x' }), 7000);
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '', range: [7000, 7002], owner: 'y' }), 7001);
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await a.allocate({ proto: 'tcp', hostIp: '', range: [0, 0], owner: `d${i}` }));
  assert.deepEqual(got, [50000, 50001, 50003]);
  await assert.rejects(a.allocate({ proto: 'tcp', hostIp: '', range: [0, 0], owner: 'z' }), isConflict);
  a.release('d1');
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '', range: [0, 0], owner: 'z' }), 50001);
  busy.add(6000);
  await assert.rejects(a.allocate({ proto: 'tcp', hostIp: '', range: [6000, 6000], owner: 'z' }), /address already in use/);
  assert.equal(a.holder('tcp', '', 6000), undefined);
});

test('restored ports are held', async () => {
  const a = new PortAllocator({ dynamicRange: [50000, 50003] });
  a.reserve('tcp', '', 50000, 'old');
  assert.equal(await a.allocate({ proto: 'tcp', hostIp: '', range: [0, 0], owner: 'new' }), 50001);
  await assert.rejects(a.allocate({ proto: 'tcp', hostIp: '', range: [50000, 50000], owner: 'new' }), /already allocated/);
});

test('the dynamic range comes from the kernel, else Docker\'s default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ports-'));
  try {
    writeFileSync(join(dir, 'r'), '32768\t60999\n');
    assert.deepEqual(dynamicPortRange(join(dir, 'r')), [32768, 60999]);
    assert.deepEqual(dynamicPortRange(join(dir, 'missing')), DEFAULT_DYNAMIC_RANGE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
