/**
 * Set-up shared by the suites that drive one private berthd with busybox and a scratch
 * directory (volumes, cp, the docker CLI's volume commands): the hooks, and `ok`/`fails`
 * wrappers around `berth` or `docker` that assert the exit code.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type RunResult, type TestDaemon } from './daemon.js';

/**
 * Registers before/after hooks in the calling describe: a berthd named `name` with busybox
 * imported and a temp dir `<workPrefix>XXXXXX`; after, the daemon is destroyed and the dir
 * removed. The returned object is filled once the before hook has run.
 */
export function daemonWithWorkDir(name: string, workPrefix: string): { d: TestDaemon; work: string } {
  const s = {} as { d: TestDaemon; work: string };
  before(async () => {
    s.d = await startDaemon(name);
    await s.d.importBusybox();
    s.work = await mkdtemp(join(tmpdir(), workPrefix));
  });
  after(async () => {
    try {
      await s.d?.destroy();
    } finally {
      if (s.work) await rm(s.work, { recursive: true, force: true });
    }
  });
  return s;
}

/** `ok(args)` runs the CLI and returns stdout (exit 0 asserted); `fails(args, re)` asserts a non-zero exit and stderr. */
export function cliChecks(daemon: () => TestDaemon, cli: 'berth' | 'docker') {
  const ok = async (args: string[], input?: string | Buffer): Promise<string> => {
    const r = await daemon()[cli](args, { input });
    assert.equal(r.code, 0, `${cli} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (args: string[], re: RegExp): Promise<RunResult> => {
    const r = await daemon()[cli](args);
    assert.notEqual(r.code, 0, `${cli} ${args.join(' ')} should fail`);
    assert.match(r.stderr, re);
    return r;
  };
  return { ok, fails };
}
