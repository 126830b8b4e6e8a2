import { SystemError } from '../common/errors.js';
import type { CommandRunner } from '../common/command-runner.js';

/**
 * `docker top`'s table: runs the host's `ps` with the client's arguments and keeps the rows
 * whose PID belongs to the container, as dockerd does (it finds the PID column from the header).
 * The runner is the daemon's (a RecordingRunner in tests).
 */
export async function processTable(runner: CommandRunner, args: string[], pids: Set<number>): Promise<{ Titles: string[]; Processes: string[][] }> {
  // A ps that cannot be started is the runner's SystemError (`cannot run ps: …`).
  const r = await runner.run(['ps', ...args], { check: false });
  if (r.code !== 0) throw new SystemError(`ps ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return parsePsOutput(r.stdout, pids);
}

/** The rows of `ps` output whose PID is in `pids`; the last column (the command) keeps its spaces. */
export function parsePsOutput(out: string, pids: Set<number>): { Titles: string[]; Processes: string[][] } {
  const lines = out.split('\n').filter((l) => l.trim());
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new SystemError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}
