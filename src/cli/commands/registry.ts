import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from '../command.js';

/**
 * `berth registry serve …`: runs berth's registry server. The server is daemon-side code, so
 * the CLI does not import it: it execs `src/bin/berth-registry.ts` (compiled) with the same
 * arguments and passes signals on. Flags are parsed there.
 */
export const command: CommandModule = {
  usage: 'serve [--addr HOST:PORT] [--root DIR] [--htpasswd FILE]',
  description: 'Run berth\'s own registry (OCI distribution API, filesystem storage)',
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    const entry = fileURLToPath(new URL('../../bin/berth-registry.js', import.meta.url));
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: ctx.env });
    const forward = (s: NodeJS.Signals): void => {
      child.kill(s);
    };
    const off = ctx.onSignal(forward);
    try {
      return await new Promise<number>((resolve) => {
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 0 : 1)));
        child.on('error', () => resolve(127));
      });
    } finally {
      off();
    }
  },
};
