import { spawn } from 'node:child_process';
import { SystemError } from '../../common/errors.js';

/**
 * `docker top`: runs the host's `ps` with the client's arguments and keeps the rows whose PID
 * belongs to the container, as dockerd does (it parses the PID column from the header).
 */
export async function psTable(args: string[], pids: Set<number>): Promise<{ Titles: string[]; Processes: string[][] }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ps', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new SystemError(`cannot run ps: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new SystemError(`ps ${args.join(' ')} failed: ${err.trim()}`))));
  });
  const lines = out.split('\n').filter((l) => l.trim());
  const titles = lines[0]!.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new SystemError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    // The last column (the command) may contain spaces.
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}
