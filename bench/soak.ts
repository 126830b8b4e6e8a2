/**
 * The long soak of issue 17 item 2: BENCH_SOAK_N container lives (default 2,000) through one
 * private berthd, in the mix of test/helpers/soak.ts (run --rm, a user network with a published
 * port, named and anonymous volumes, SIGKILL, stop + rm -v), then the census of what is left on
 * the host and berthd's memory, before, right after and once idle. Needs root. Prints figures;
 * the short version (200) is a test (test/integration/soak.test.ts).
 */
import { startDaemon } from '../test/helpers/daemon.js';
import { removeCgroupParent, soak, soakCgroupParent, type Census } from '../test/helpers/soak.js';

const N = Number(process.env['BENCH_SOAK_N'] ?? 2000);
const PARALLEL = Number(process.env['BENCH_SOAK_PARALLEL'] ?? 4);

function diff(before: Census, after: Census): string[] {
  const out: string[] = [];
  for (const key of ['mounts', 'veths', 'netnsFiles', 'cgroups', 'conmons', 'containerDirs', 'volumeDirs', 'tmpFiles'] as const) {
    const b = new Set(before[key].map(String));
    const extra = after[key].map(String).filter((x) => !b.has(x));
    if (extra.length) out.push(`${key}: +${extra.length} (${extra.slice(0, 3).join(', ')})`);
  }
  for (const key of ['nftRules', 'nftSets', 'fds', 'containerRows', 'volumeRows'] as const) {
    if (after[key] !== before[key]) out.push(`${key}: ${before[key]} -> ${after[key]}`);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the soak needs root');
  const parent = soakCgroupParent();
  const d = await startDaemon('soak-bench', ['--cgroup-parent', parent]);
  try {
    await d.importBusybox();
    console.log(`berth soak: ${N} container lives, ${PARALLEL} at a time`);
    const f = await soak(d, { count: N, parallel: PARALLEL, deadlineMs: 3 * 3600_000, cgroupParent: parent });
    const leaks = diff(f.before, f.after);
    console.log(`containers            ${f.containers} in ${(f.ms / 1000).toFixed(1)} s (${f.perContainerMs.toFixed(1)} ms each, ${PARALLEL} in parallel)`);
    console.log(`errors                ${f.errors.length}${f.errors.length ? ': ' + f.errors.slice(0, 5).join(' | ') : ''}`);
    console.log(`left behind           ${leaks.length ? leaks.join('; ') : 'nothing (mounts, veths, netns, nft rules/sets, cgroups, conmons, fds, rows, files)'}`);
    console.log(`berthd RSS            before ${(f.before.rssKb / 1024).toFixed(1)} MiB, after ${(f.after.rssKb / 1024).toFixed(1)} MiB, idle ${(f.idleRssKb / 1024).toFixed(1)} MiB (${((f.idleRssKb / f.before.rssKb - 1) * 100).toFixed(1)}%)`);
    console.log(`berthd fds            before ${f.before.fds}, after ${f.after.fds}`);
  } finally {
    await d.destroy();
    await removeCgroupParent(parent);
  }
}

await main();
