/**
 * The berth CLI as a V8 start-up snapshot (`node --snapshot-blob dist/berth-cli.blob ARGS`):
 * scripts/build-cli.mjs bundles this file with esbuild into one CommonJS file and runs it
 * under `node --build-snapshot`. What runs here at build time (the CLI's own code and, via
 * BERTH_SNAPSHOT_PRELOAD, the command modules that need no socket or native binding) is
 * deserialised at start instead of being resolved, read and compiled module by module, which
 * is most of a short command's own time. bin/berth uses the blob only when it is newer than
 * the tsc output and the node binary; otherwise it runs dist/src/bin/berth.js, the same code.
 *
 * Nothing here may capture per-run state at build time (environment, cwd, terminal, time):
 * the CLI reads all of it inside `main()`.
 */
import { startupSnapshot } from 'node:v8';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main, preloadCommands } from '../cli/main.js';

declare global {
  // `import.meta.url` of the bundled modules (esbuild --define), set before main runs.
  var __berthModuleUrl: string | undefined;
}

const preload = (process.env['BERTH_SNAPSHOT_PRELOAD'] ?? '').split(',').filter(Boolean);
if (preload.length) void preloadCommands(preload);

startupSnapshot.setDeserializeMainFunction(() => {
  // The blob sits in dist/; the bundled modules behave as if they were in dist/src/cli/commands/
  // (the one place that uses import.meta.url finds its sibling entry points from there).
  const i = process.execArgv.indexOf('--snapshot-blob');
  const blob = i >= 0 ? process.execArgv[i + 1] : undefined;
  if (blob) globalThis.__berthModuleUrl = pathToFileURL(resolve(dirname(blob), 'src', 'cli', 'commands', 'index.js')).href;
  main(process.argv.slice(1)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
});
