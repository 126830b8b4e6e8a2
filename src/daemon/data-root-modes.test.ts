import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tightenDataRoot } from './data-root-modes.js';

test('tightenDataRoot clears loose bits (Docker\'s modes) and never adds any', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-modes-'));
  try {
    await chmod(root, 0o755);
    await mkdir(join(root, 'image'), { mode: 0o755 });
    await mkdir(join(root, 'volumes'), { mode: 0o700 });
    await mkdir(join(root, 'containers', 'abc'), { recursive: true, mode: 0o755 });
    await writeFile(join(root, 'containers', 'abc', 'config.json'), '{}', { mode: 0o644 });
    await writeFile(join(root, 'berth.db'), '', { mode: 0o644 });
    const changed = await tightenDataRoot(root);
    const mode = async (p: string) => (await stat(join(root, p))).mode & 0o7777;
    assert.equal(await mode(''), 0o710);
    assert.equal(await mode('image'), 0o700);
    assert.equal(await mode('volumes'), 0o700, 'stricter than 0701 stays');
    assert.equal(await mode('containers/abc'), 0o710);
    assert.equal(await mode('containers/abc/config.json'), 0o600);
    assert.equal(await mode('berth.db'), 0o600);
    assert.ok(changed.includes(join(root, 'berth.db')));
    assert.deepEqual(await tightenDataRoot(root), [], 'a second pass changes nothing');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
