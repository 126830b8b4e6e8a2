/**
 * Issue 24 item 3: secrets at rest were readable by every local user. The store (berth.db and
 * its -wal/-shm) was 0644, so `nobody` could read a password passed with `-e`; layer
 * directories were 0755, so any user could enter an image's files and run its setuid
 * binaries. Docker's modes: data root 0710, image trees 0700, store and configs 0600; an
 * existing data root is tightened at start-up.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cliChecks } from '../helpers/suite.js';

const SECRET = 'hunter2-' + Math.random().toString(36).slice(2);

/** Runs `argv` as nobody (uid/gid 65534, no supplementary groups). */
function asNobody(argv: string[]) {
  return runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], {});
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

describe('security: a local user reading secrets and image files from the data root', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('sec-rest');
    await d.importBusybox();
    // The test daemon's temp dir is 0700; open it up so only berth's own modes stand between nobody and the data root.
    await chmod(d.dir, 0o755);
  });
  after(async () => {
    await d?.destroy();
  });
  const { ok } = cliChecks(() => d, 'docker');

  test('nobody cannot read an -e password from the store or the container config, nor enter layers', async () => {
    await ok(['run', '-d', '--network', 'none', '--name', 'secret', '-e', `DB_PASSWORD=${SECRET}`, 'busybox', 'sleep', '60']);
    const root = d.dataRoot;
    assert.equal(await mode(root), 0o710, 'data root');
    assert.equal(await mode(join(root, 'image')), 0o700, 'image tree');
    for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm']) {
      const p = join(root, f);
      assert.equal(await mode(p), 0o600, f);
      const r = await asNobody(['cat', p]);
      assert.notEqual(r.code, 0, `nobody read ${f}`);
      assert.ok(!r.stdout.includes(SECRET));
    }
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'secret'])).trim();
    const config = join(root, 'containers', id, 'config.json');
    assert.equal(await mode(config), 0o600, 'config.json');
    const grep = await asNobody(['grep', '-rl', SECRET, root]);
    assert.equal(grep.stdout.trim(), '', `nobody found the secret in: ${grep.stdout}`);
    // Layers: busybox is setuid-free, but nobody must not even list the tree.
    const layers = await asNobody(['ls', join(root, 'image')]);
    assert.notEqual(layers.code, 0, 'nobody listed the image tree');
    await ok(['rm', '-f', 'secret']);
  });

  test('an existing data root with loose modes is tightened at start-up', async () => {
    const root = d.dataRoot;
    assert.equal(await d.stop(), 0);
    await chmod(root, 0o755);
    await chmod(join(root, 'image'), 0o755);
    await chmod(join(root, 'berth.db'), 0o644);
    const containers = await readdir(join(root, 'containers'));
    await d.start();
    assert.equal(await mode(root), 0o710);
    assert.equal(await mode(join(root, 'image')), 0o700);
    assert.equal(await mode(join(root, 'berth.db')), 0o600);
    for (const c of containers) assert.equal((await mode(join(root, 'containers', c))) & 0o007, 0, c);
  });
});
