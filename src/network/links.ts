/**
 * Facts about network links in berthd's own network namespace. /sys/class/net is the cheap
 * source, but sysfs shows the namespace it was mounted from: a berthd started in another
 * network namespace with `nsenter --net` (no remount, unlike `ip netns exec`) would read the
 * host's links there. /proc/self/net/dev always lists our namespace's links, so it decides,
 * once, whether sysfs can be trusted; when not, `ip -json` (which asks the kernel over
 * netlink from our namespace) answers instead.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename } from 'node:path';

async function procLinks(): Promise<string[]> {
  const text = await readFile('/proc/self/net/dev', 'utf8');
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean);
}

let sysfsOurs: Promise<boolean> | undefined;
/** Whether /sys/class/net lists exactly the links of our network namespace. */
function sysfsIsOurs(): Promise<boolean> {
  sysfsOurs ??= (async () => {
    try {
      const [sys, own] = await Promise.all([readdir('/sys/class/net'), procLinks()]);
      const set = new Set(sys);
      return own.length === sys.length && own.every((n) => set.has(n));
    } catch {
      return false;
    }
  })();
  return sysfsOurs;
}

function ipLink(name: string): Promise<{ master?: string }> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-json', 'link', 'show', 'dev', name], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ip link show ${name}: ${(stderr || err.message).trim()}`));
      try {
        resolve((JSON.parse(stdout) as Array<{ master?: string }>)[0] ?? {});
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

export async function linkExists(name: string): Promise<boolean> {
  return (await procLinks()).includes(name);
}

/** The name of the bridge the link is enslaved to. */
export async function linkMaster(name: string, sysfs?: string): Promise<string> {
  if (sysfs || (await sysfsIsOurs())) return basename(await readlink(`${sysfs ?? '/sys/class/net'}/${name}/master`));
  const m = (await ipLink(name)).master;
  if (!m) throw new Error(`link ${name} is in no bridge`);
  return m;
}
