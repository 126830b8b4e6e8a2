#!/usr/bin/env node
// Runs docker-py's own integration suite (../shared/conformance/docker-py/run.sh) against a
// private berthd started the way the test helpers start one (own data root, socket, bridge,
// nft table, subnet), with busybox:latest imported; stops and removes the daemon at the end.
// Usage: npm run test:dockerpy [-- extra run.sh/pytest args]   (DOCKERPY_API_VERSION=auto too)
// Needs a built tree (npm run build) and root. Not part of `npm test`: it needs ../shared.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT, startDaemon } from '../dist/test/helpers/daemon.js';

const runSh = resolve(process.env.DOCKERPY_RUN_SH ?? join(REPO_ROOT, '..', 'shared', 'conformance', 'docker-py', 'run.sh'));
const fallback = '/work/shared/conformance/docker-py/run.sh';
const script = existsSync(runSh) ? runSh : fallback;
if (!existsSync(script)) {
  console.error(`docker-py conformance runner not found at ${runSh}`);
  process.exit(2);
}
const d = await startDaemon('dockerpy-suite');
let code = 1;
try {
  await d.importBusybox();
  console.error(`berthd at ${d.host} (log ${d.logFile})`);
  code = await new Promise((r) => {
    const p = spawn('bash', [script, d.host, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, DOCKERPY_SWEEP: '1' } });
    const stop = () => p.kill('SIGTERM');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    p.on('exit', (c) => r(c ?? 1));
  });
} finally {
  if (process.env.KEEP_DAEMON_LOG) console.error(await d.log());
  await d.destroy();
}
process.exit(code);
