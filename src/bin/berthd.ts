import { loadConfig } from '../daemon/config.js';
import { startDaemon } from '../daemon/daemon.js';
import { createLogger } from '../common/logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env, process.getuid?.() ?? 0);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
    if (err.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
    process.stderr.write(`berthd: ${err.message}\n`);
    process.exit(1);
  }
  // Rootless (issue 21): a non-root user's berthd re-executes itself inside rootlesskit's
  // namespaces; this process waits for it, in the host's namespaces.
  if (config.rootless && process.getuid?.() !== 0) {
    const { runUnderRootlesskit } = await import('../daemon/rootless/rootlesskit-launcher.js');
    try {
      process.exit(await runUnderRootlesskit(process.argv.slice(2), config));
    } catch (e) {
      process.stderr.write(`berthd: ${(e as Error).message}\n`);
      process.exit(1);
    }
  }
  const log = createLogger({ debug: config.debug });
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon(config, log);
  } catch (e) {
    log.fatal({ err: e }, 'berthd failed to start');
    process.stderr.write(`berthd: ${(e as Error).message}\n`);
    log.flush();
    setTimeout(() => process.exit(1), 50);
    return;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void daemon.close().finally(() => {
      log.flush();
      setTimeout(() => process.exit(0), 20);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A bug in one request must not take the daemon down with every container's API.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

void main();
