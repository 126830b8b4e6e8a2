import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, statement } from './db.js';
import { ImageTable, LayerTable } from './images.js';
import { ContainerTable } from './containers.js';
import { NetworkTable } from './networks.js';

test('statements are compiled once per connection and per SQL text', () => {
  const a = openDatabase(':memory:');
  const b = openDatabase(':memory:');
  const sql = 'SELECT data FROM images WHERE id = ?';
  assert.equal(statement(a, sql), statement(a, sql));
  assert.notEqual(statement(a, sql), statement(b, sql));
  assert.notEqual(statement(a, sql), statement(a, 'SELECT data FROM images'));
  a.close();
  b.close();
});

test('cached statements see every write: put, overwrite, delete, tags', () => {
  const db = openDatabase(':memory:');
  const images = new ImageTable<{ id: string; n: number }>(db);
  assert.equal(images.get('i1'), undefined);
  images.put({ id: 'i1', n: 1 });
  assert.deepEqual(images.get('i1'), { id: 'i1', n: 1 });
  images.put({ id: 'i1', n: 2 });
  assert.deepEqual(images.get('i1'), { id: 'i1', n: 2 });
  images.put({ id: 'i2', n: 3 });
  assert.deepEqual(images.list().map((r) => r.id).sort(), ['i1', 'i2']);
  images.delete('i1');
  assert.equal(images.get('i1'), undefined);
  assert.deepEqual(images.list().map((r) => r.id), ['i2']);

  assert.equal(images.setTag('app:1', 'i2'), undefined);
  assert.equal(images.getTag('app:1'), 'i2');
  // Tagging again with the same image changes nothing and says what it pointed at.
  assert.equal(images.setTag('app:1', 'i2'), 'i2');
  assert.deepEqual(images.tagsOf('i2'), ['app:1']);
  assert.equal(images.setTag('app:1', 'i3'), 'i2');
  assert.equal(images.getTag('app:1'), 'i3');
  assert.deepEqual(images.tagsOf('i2'), []);
  images.deleteTag('app:1');
  assert.equal(images.getTag('app:1'), undefined);

  // Writes inside a transaction are seen by the same cached statements; a rollback undoes them.
  assert.throws(() => images.transaction(() => {
    images.setTag('app:2', 'i2');
    assert.equal(images.getTag('app:2'), 'i2');
    throw new Error('roll back');
  }));
  assert.equal(images.getTag('app:2'), undefined);

  const layers = new LayerTable<{ chainId: string; size: number }>(db);
  layers.put({ chainId: 'c1', size: 1 });
  layers.put({ chainId: 'c1', size: 5 });
  assert.deepEqual(layers.get('c1'), { chainId: 'c1', size: 5 });
  layers.delete('c1');
  assert.equal(layers.get('c1'), undefined);

  const containers = new ContainerTable<{ id: string; name: string }>(db);
  containers.put({ id: 'k1', name: 'one' });
  containers.put({ id: 'k1', name: 'renamed' });
  assert.deepEqual(containers.get('k1'), { id: 'k1', name: 'renamed' });
  containers.delete('k1');
  assert.deepEqual(containers.list(), []);

  const networks = new NetworkTable<{ id: string; name: string }>(db);
  networks.put({ id: 'n1', name: 'net' });
  assert.deepEqual(networks.list(), [{ id: 'n1', name: 'net' }]);
  networks.delete('n1');
  assert.deepEqual(networks.list(), []);
  db.close();
});
