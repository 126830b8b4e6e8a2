/**
 * Issue 17 item 1: a daemon owns its bridge, nftables table, subnet, data root and exec root.
 * A second daemon that would share one refuses to start and names the owner; a bridge or table
 * removed from under a running daemon is made again at the next container start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createDaemon, startDaemon, runCommand, eventually, type TestDaemon } from '../helpers/daemon.js';

describe('host resource ownership (issue 17)', () => {
  let a: TestDaemon;
  const others: TestDaemon[] = [];
  before(async () => {
    a = await startDaemon('owner');
    await a.importBusybox();
  });
  after(async () => {
    for (const d of others) await d.destroy();
    await a?.destroy();
  });

  /** A second daemon with its own everything, then one setting taken from `a`. */
  async function second(override: (args: string[]) => string[]): Promise<{ code: number | null; log: string }> {
    const b = await createDaemon('intruder');
    others.push(b);
    const err = await b.start(override([])).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, 'the second daemon must refuse to start');
    await new Promise((r) => setTimeout(r, 50));
    return { code: b.proc?.exitCode ?? null, log: await b.log() };
  }

  for (const [what, flag, value] of [
    ['bridge', '--bridge', () => a.net!.bridge],
    ['nftables table', '--nft-table', () => a.net!.nftTable],
    ['subnet', '--bip', () => a.net!.bip],
    ['data root', '--data-root', () => a.dataRoot],
  ] as const) {
    it(`a second daemon with the same ${what} refuses to start, naming the owner`, async () => {
      const r = await second((args) => [...args, flag, value()]);
      assert.equal(r.code, 1);
      assert.match(r.log, new RegExp(`in use by another berthd \\(pid ${a.proc!.pid}, ${a.host.replace(/[/.]/g, '\\$&')}`));
      // The owner is untouched: its containers still get a network.
      const run = await a.berth(['run', '--rm', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      assert.equal(run.code, 0, run.stderr);
    });
  }

  it('a bridge deleted from under the daemon is made again at the next start (logged)', async () => {
    assert.equal((await runCommand('ip', ['link', 'del', a.net!.bridge], {})).code, 0);
    const run = await a.berth(['run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '2', a.net!.bip.split('/')[0]!]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(await a.log(), /bridge was removed from under the daemon/);
  });

  it('an nftables table deleted from under the daemon is made again at a later start (logged)', async () => {
    assert.equal((await runCommand('nft', ['delete', 'table', 'ip', a.net!.nftTable], {})).code, 0);
    // The table is checked at most every 2 s, off most starts' path: within a few starts it is back.
    await eventually(async () => {
      await a.berth(['run', '--rm', 'busybox', 'true']);
      return (await runCommand('nft', ['list', 'table', 'ip', a.net!.nftTable], {})).code === 0;
    }, 15_000, 'the nftables table to come back');
    assert.match(await a.log(), /nftables table was removed from under the daemon/);
  });

  it('a claim left by a killed daemon does not stop the next one', async () => {
    const c = await createDaemon('crashed');
    others.push(c);
    await c.start();
    await c.crash();
    await c.cleanupNetwork();
    await c.start();
    const r = await c.berth(['info', '--format', '{{.Name}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(join(c.dataRoot).length > 0);
  });
});
