import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RecordingRunner } from '../../common/command-runner.js';
import { silentLogger } from '../../common/logger.js';
import type { ContainerRecord, ContainerSpec } from '../types.js';
import { MoveImporter, stagingName } from './move-importer.js';
import type { MovePart } from './move-types.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('MoveImporter (issue 23): all or nothing on the target', () => {
  let dir: string;
  let containers: Map<string, ContainerRecord>;
  let volumes: Map<string, string>;
  let failCreate: boolean;
  let importer: MoveImporter;
  const rwBody = Buffer.from('rw-layer');
  const volBody = Buffer.from('volume-data');
  const parts: MovePart[] = [
    { id: 'rw', kind: 'rw', digest: sha(rwBody), size: rwBody.length },
    { id: 'vol-0', kind: 'volume', digest: sha(volBody), size: volBody.length, volume: { name: 'data', destination: '/data', anonymous: false, driver: 'local', labels: {}, options: {}, mode: 0o755, uid: 0, gid: 0 } },
  ];
  const spec: ContainerSpec = { image: 'app:1', host: {} };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'move-importer-'));
    containers = new Map();
    volumes = new Map();
    failCreate = false;
    importer = new MoveImporter({
      root: join(dir, 'imports'),
      runner: new RecordingRunner(),
      log: silentLogger(),
      containers: {
        find: (name) => [...containers.values()].find((c) => c.name === name),
        get: (id) => containers.get(id),
        create: async (s) => {
          if (failCreate) throw new Error('create failed');
          const id = `c${containers.size}`.padEnd(64, '0');
          containers.set(id, { id, name: s.name!, mounts: [] } as unknown as ContainerRecord);
          await mkdir(join(dir, 'upper', id), { recursive: true });
          return { id, warnings: [] };
        },
        remove: async (ref) => void containers.delete(ref),
        rename: (ref, name) => void (containers.get(ref)!.name = name),
      },
      upperDir: (id) => join(dir, 'upper', id),
      imageId: () => 'sha256:img',
      hasImage: (id) => id === 'sha256:img',
      volumes: {
        exists: (n) => volumes.has(n),
        create: async (req) => {
          if (volumes.has(req.name)) return { mountpoint: volumes.get(req.name)!, created: false };
          const mp = join(dir, 'volumes', req.name);
          await mkdir(mp, { recursive: true });
          volumes.set(req.name, mp);
          return { mountpoint: mp, created: true };
        },
        mountpoint: (n) => volumes.get(n)!,
        remove: async (n) => void volumes.delete(n),
      },
      // Stands in for the layer store's unpack: the "tar" becomes one file named `content`.
      unpack: async (tar) => {
        const out = await mkdtemp(join(dir, 'unpack-'));
        const chunks: Buffer[] = [];
        for await (const c of tar) chunks.push(c as Buffer);
        await writeFile(join(out, 'content'), Buffer.concat(chunks));
        return { dir: out, abort: () => rm(out, { recursive: true, force: true }) };
      },
    });
    await importer.sweep();
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  test('commit after every part arrived: volume and container made, files in place, named last', async () => {
    const { session } = await importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts });
    await importer.receive(session, 'rw', Readable.from([rwBody]));
    await assert.rejects(importer.commit(session), /part vol-0 has not arrived/);
    await importer.receive(session, 'vol-0', Readable.from([volBody]));
    const { id } = await importer.commit(session);
    assert.equal(containers.get(id)!.name, 'web');
    assert.equal(await readFile(join(dir, 'upper', id, 'content'), 'utf8'), 'rw-layer');
    assert.equal(await readFile(join(volumes.get('data')!, 'content'), 'utf8'), 'volume-data');
    assert.deepEqual(await readdir(join(dir, 'imports')), []);
  });

  test('a part whose bytes do not match its digest is refused and not kept', async () => {
    const { session } = await importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts });
    await assert.rejects(importer.receive(session, 'rw', Readable.from([Buffer.from('rw-layeR')])), { code: 'BERTH_ERR_DIGEST_MISMATCH' });
    await assert.rejects(importer.receive(session, 'rw', Readable.from([Buffer.from('rw-layer-and-more')])), { code: 'BERTH_ERR_DIGEST_MISMATCH' });
    assert.deepEqual((await readdir(join(dir, 'imports', session))).sort(), ['session.json']);
  });

  test('refused before anything is written: name taken, image absent, named volume present, bad parts', async () => {
    containers.set('x'.repeat(64), { id: 'x'.repeat(64), name: 'web' } as unknown as ContainerRecord);
    await assert.rejects(importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts }), /The container name "\/web" is already in use/);
    await assert.rejects(importer.begin({ name: 'other', spec, imageId: 'sha256:nope', parts }), /is not on this daemon/);
    volumes.set('data', join(dir, 'v'));
    await assert.rejects(importer.begin({ name: 'other', spec, imageId: 'sha256:img', parts }), /volume data already exists/);
    await assert.rejects(importer.begin({ name: 'other', spec, imageId: 'sha256:img', parts: [{ ...parts[0]!, id: '../x' }] }), /invalid or repeated move part/);
    await assert.rejects(importer.begin({ name: 'other', spec, imageId: 'sha256:img', parts: [] }), /exactly one writable-layer part/);
    assert.deepEqual(await readdir(join(dir, 'imports')), []);
  });

  test('a failing commit removes the volume it made and the session', async () => {
    const { session } = await importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts });
    await importer.receive(session, 'rw', Readable.from([rwBody]));
    await importer.receive(session, 'vol-0', Readable.from([volBody]));
    failCreate = true;
    await assert.rejects(importer.commit(session), /create failed/);
    assert.equal(volumes.has('data'), false);
    assert.equal(containers.size, 0);
    assert.deepEqual(await readdir(join(dir, 'imports')), []);
  });

  test('sweep (daemon start) removes a commit a crash interrupted: staging container and journalled volumes', async () => {
    const { session } = await importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts });
    // What a daemon killed mid-commit leaves: the journal, the volume, the staging container.
    volumes.set('data', join(dir, 'v'));
    containers.set('s'.repeat(64), { id: 's'.repeat(64), name: stagingName(session) } as unknown as ContainerRecord);
    await writeFile(join(dir, 'imports', session, 'commit.json'), JSON.stringify({ volumes: ['data'] }));
    assert.deepEqual(await importer.sweep(), [session]);
    assert.equal(containers.size, 0);
    assert.equal(volumes.has('data'), false);
  });

  test('sweep also removes a container renamed to its own name when the session was not closed (no answer reached the client)', async () => {
    const { session } = await importer.begin({ name: 'web', spec, imageId: 'sha256:img', parts });
    containers.set('r'.repeat(64), { id: 'r'.repeat(64), name: 'web' } as unknown as ContainerRecord);
    await writeFile(join(dir, 'imports', session, 'commit.json'), JSON.stringify({ volumes: ['data'], container: 'r'.repeat(64) }));
    volumes.set('data', join(dir, 'v'));
    await importer.sweep();
    assert.equal(containers.size, 0);
    assert.equal(volumes.has('data'), false);
    assert.deepEqual(await readdir(join(dir, 'imports')), []);
  });
});
