/**
 * Why checkpoint/restore (CRIU) cannot be offered (issue 23): live migration and
 * `docker checkpoint` need CRIU and a runtime built with it. berth asks `criu check` once (when
 * criu is installed) and quotes its first error, so the refusal names the real reason on this
 * host (here: "vdso: Unexpected rt vDSO area bounds"); crun 1.8 is also built without CRIU.
 * A host where `criu check` passes still gets a refusal: berth has no checkpoint code yet.
 */
import { existsSync } from 'node:fs';
import type { CommandRunner } from '../../common/command-runner.js';
import { NotImplementedError } from '../../common/errors.js';

export class CheckpointUnsupportedError extends NotImplementedError {
  override readonly code = 'BERTH_ERR_CHECKPOINT_UNSUPPORTED';
}

const CRIU_PATHS = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu', '/sbin/criu'];

export class CheckpointSupport {
  readonly #runner: CommandRunner;
  #reason?: Promise<string>;

  constructor(runner: CommandRunner) {
    this.#runner = runner;
  }

  /** Why CRIU cannot work here (cached after the first call). */
  reason(): Promise<string> {
    this.#reason ??= this.#probe();
    return this.#reason;
  }

  /** Throws CheckpointUnsupportedError (501) naming the reason; `what` says what was asked (`checkpoint create`). */
  async refuse(what: string): Promise<never> {
    throw new CheckpointUnsupportedError(`${what}: checkpoint/restore is not available on this daemon: ${await this.reason()}`);
  }

  async #probe(): Promise<string> {
    const criu = CRIU_PATHS.find((p) => existsSync(p));
    if (!criu) return 'CRIU is not installed (apt-get install criu), and berth has no checkpoint support without it';
    const r = await this.#runner.run([criu, 'check'], { check: false }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    if (r.code !== 0) {
      const first = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).find((l) => l) ?? `exit status ${r.code}`;
      return `CRIU does not work on this kernel: \`criu check\` failed: ${first.replace(/^Error \([^)]*\):\s*/, '')}`;
    }
    return 'CRIU works on this host, but berth does not implement checkpoint/restore yet (and crun 1.8 is built without CRIU)';
  }
}
