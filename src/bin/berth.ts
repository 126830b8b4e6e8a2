/**
 * The `berth` executable: runs the CLI and exits with its status. Kept tiny; everything is
 * loaded on demand by `cli/main.ts`.
 */
import { main } from '../cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
