/** One command run, timed in milliseconds (rejects with its stderr on failure): what the run benches measure. */
import { execFile } from 'node:child_process';

export function timedRun(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}
