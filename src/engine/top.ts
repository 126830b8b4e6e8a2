import { InvalidParameterError } from '../common/errors.js';
import { SpawnRunner, type CommandRunner } from '../common/command-runner.js';
import { processTable } from '../runtime/process-table.js';

/** What `top` needs of the container service: the host PIDs of a running container's processes. */
export interface ProcessSource {
  pids(id: string): Promise<number[]>;
}

/**
 * `GET /containers/{id}/top`: the container's processes as `ps` shows them. `psArgs` is the
 * client's `ps_args` (default `-ef`); only option-like words are accepted, since they go to a
 * host program.
 */
export async function containerTop(containers: ProcessSource, id: string, psArgs: string | null | undefined, runner: CommandRunner = new SpawnRunner()): Promise<{ Titles: string[]; Processes: string[][] }> {
  const pids = new Set(await containers.pids(id));
  const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
  if (args.some((a) => !/^[-a-zA-Z0-9,=:%]+$/.test(a))) throw new InvalidParameterError(`invalid ps arguments: ${psArgs}`);
  return processTable(runner, args, pids);
}
