import pino from 'pino';

export type Logger = pino.Logger;

/** The daemon's root logger: JSON lines on stderr (pino), level `debug` with `--debug`. */
export function createLogger(options: { debug?: boolean; destination?: number } = {}): Logger {
  return pino(
    { level: options.debug ? 'debug' : 'info', base: { pid: process.pid } },
    pino.destination({ fd: options.destination ?? 2, sync: false }),
  );
}

/** A logger that discards everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
