/**
 * Where a rootless berthd (issue 21) keeps its state, and how a process knows it is one.
 * Pure: reads only the environment it is given. Docker's rootless mode uses the same places
 * ($XDG_RUNTIME_DIR for the socket and run state, ~/.local/share for images and containers).
 */
import { join } from 'node:path';
import { InvalidParameterError } from '../../common/errors.js';

/**
 * True for a daemon started by a non-root user, before (`uid` is the user's) and after the
 * re-exec under rootlesskit (uid 0 in the user namespace; rootlesskit says whose it is in
 * ROOTLESSKIT_PARENT_EUID).
 */
export function rootlessMode(uid: number, env: NodeJS.ProcessEnv): boolean {
  if (uid !== 0) return true;
  const parent = env['ROOTLESSKIT_PARENT_EUID'];
  return parent !== undefined && parent !== '' && parent !== '0' && !!env['ROOTLESSKIT_STATE_DIR'];
}

/** $XDG_RUNTIME_DIR, required as Docker requires it: the socket and run state live there. */
export function runtimeDir(env: NodeJS.ProcessEnv): string {
  const dir = env['XDG_RUNTIME_DIR'];
  if (!dir || !dir.startsWith('/')) {
    throw new InvalidParameterError('rootless berthd needs XDG_RUNTIME_DIR (an absolute path the user owns, e.g. /run/user/$(id -u)); see docs/rootless.md');
  }
  return dir;
}

function homeDir(env: NodeJS.ProcessEnv): string {
  const home = env['HOME'];
  if (!home || !home.startsWith('/')) throw new InvalidParameterError('rootless berthd needs HOME (an absolute path)');
  return home;
}

/** The rootless defaults of berthd's paths. */
export function rootlessDefaults(env: NodeJS.ProcessEnv): { dataRoot: string; execRoot: string; configFile: string; signaturePolicy: string } {
  const run = runtimeDir(env);
  const data = env['XDG_DATA_HOME'] || join(homeDir(env), '.local', 'share');
  const config = env['XDG_CONFIG_HOME'] || join(homeDir(env), '.config');
  return {
    dataRoot: join(data, 'berth'),
    execRoot: join(run, 'berth'),
    configFile: join(config, 'berth', 'daemon.json'),
    signaturePolicy: join(config, 'berth', 'policy.json'),
  };
}

/** The socket a non-root user's `berth` talks to when nothing else names one. */
export function rootlessSocket(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env['XDG_RUNTIME_DIR'];
  return dir && dir.startsWith('/') ? join(dir, 'berth', 'berth.sock') : undefined;
}
