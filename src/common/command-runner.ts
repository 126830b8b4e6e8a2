import { spawn } from 'node:child_process';
import { SystemError } from './errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  check?: boolean;
  signal?: AbortSignal;
}

/**
 * Runs external programs (mount, nft, ip, crun, tar…). The one place berth spawns helper
 * commands, so tests can substitute a recording fake and assert argv without root.
 */
export interface CommandRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export class CommandFailedError extends SystemError {
  override readonly code = 'BERTH_ERR_COMMAND_FAILED';
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join('; ');
    super(`${argv[0]} exited with status ${result.code}${detail ? `: ${detail}` : ''}`);
  }
}

/** The real runner, over `child_process.spawn`. */
export class SpawnRunner implements CommandRunner {
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        signal: options.signal,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => reject(new SystemError(`cannot run ${argv[0]}: ${e.message}`, { cause: e })));
      child.on('close', (code, sig) => {
        const result = {
          code: code ?? (sig ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        };
        if (result.code !== 0 && options.check !== false) reject(new CommandFailedError(argv, result));
        else resolve(result);
      });
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    });
  }
}

/** A fake runner that records every argv and answers from a table, for unit tests. */
export class RecordingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  constructor(private readonly answer: (argv: readonly string[]) => Partial<RunResult> = () => ({})) {}
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.calls.push([...argv]);
    const a = this.answer(argv);
    const result = { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
    if (result.code !== 0 && options.check !== false) throw new CommandFailedError(argv, result);
    return result;
  }
}
