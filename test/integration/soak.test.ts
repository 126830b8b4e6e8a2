/**
 * Issue 17 item 2, the short soak: 200 containers through one daemon (run --rm, a user network
 * with a published port, named and anonymous volumes, SIGKILL, stop + rm -v), then nothing
 * left on the host that was not there before, and berthd's memory within bounds. The long
 * version (2,000) is bench/soak.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { removeCgroupParent, soak, soakCgroupParent, type SoakFigures } from '../helpers/soak.js';

describe('soak: 200 containers through one daemon (issue 17)', () => {
  let d: TestDaemon;
  const parent = soakCgroupParent();
  let figures: SoakFigures;
  before(async () => {
    d = await startDaemon('soak', ['--cgroup-parent', parent]);
    await d.importBusybox();
    figures = await soak(d, { count: 200, parallel: 4, deadlineMs: 8 * 60_000, cgroupParent: parent });
    process.stdout.write(`# soak: ${figures.containers} containers in ${figures.ms} ms (${figures.perContainerMs.toFixed(1)} ms each), RSS ${figures.before.rssKb} -> ${figures.after.rssKb} kB, idle ${figures.idleRssKb} kB, fds ${figures.before.fds} -> ${figures.after.fds}\n`);
  });
  after(async () => {
    await d?.destroy();
    await removeCgroupParent(parent);
  });

  it('every container life succeeded, all 200 of them', () => {
    assert.deepEqual(figures.errors, []);
    assert.equal(figures.containers, 200);
  });

  it('leaves no mount, veth, netns file, nft rule or set, cgroup or conmon behind', () => {
    const { before: b, after: a } = figures;
    assert.deepEqual(a.mounts, b.mounts, 'mounts');
    assert.deepEqual(a.veths, b.veths, 'veths');
    assert.deepEqual(a.netnsFiles, b.netnsFiles, 'netns files');
    assert.equal(a.nftRules, b.nftRules, 'nft rules');
    assert.equal(a.nftSets, b.nftSets, 'nft sets');
    assert.deepEqual(a.cgroups, b.cgroups, 'cgroups');
    assert.deepEqual(a.conmons, b.conmons, 'conmon processes');
  });

  it('leaves no rows in the store and no files in the data root that no object owns', () => {
    const { before: b, after: a } = figures;
    assert.equal(a.containerRows, b.containerRows, 'container rows');
    assert.equal(a.volumeRows, b.volumeRows, 'volume rows');
    assert.deepEqual(a.containerDirs, b.containerDirs, 'container directories');
    assert.deepEqual(a.volumeDirs, b.volumeDirs, 'volume directories');
    assert.deepEqual(a.tmpFiles, b.tmpFiles, 'temp files');
  });

  it('does not leak file descriptors, and once idle its RSS is within 10% of before', () => {
    const { before: b, after: a } = figures;
    assert.ok(a.fds <= b.fds, `berthd fds ${b.fds} -> ${a.fds}: ${JSON.stringify(b.fdKinds)} -> ${JSON.stringify(a.fdKinds)}`);
    assert.ok(figures.idleRssKb <= b.rssKb * 1.1, `berthd RSS ${b.rssKb} -> ${figures.idleRssKb} kB idle`);
  });
});
