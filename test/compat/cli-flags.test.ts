import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { main } from '../../src/cli/main.js';
import { Capture, input } from '../../src/cli/test-streams.js';

/**
 * The flag diff of issue 15: for every command the docker CLI (v28) has, `docker X --help`
 * against `berth X --help`. A docker flag berth does not list, or a docker command berth does
 * not know, must be in cli-flags.allow.json with its reason; commands berth refuses on
 * purpose (swarm, plugins, checkpoints…) answer with why and are reported. The test fails
 * when the missing list grows beyond the allow-list, and prints the whole list either way.
 */

const ENV = { ...process.env, DOCKER_HOST: 'unix:///nonexistent/berth-flag-diff.sock', DOCKER_CLI_HINTS: 'false', DOCKER_CONFIG: '/nonexistent/berth-flag-diff' };

function docker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', [...args, '--help'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c));
    p.stderr.on('data', (c: Buffer) => (out += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.on('error', reject);
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

async function berth(args: string[]): Promise<{ code: number; out: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main([...args, '--help'], { stdout, stderr, stdin: input(), env: { BERTH_HOST: 'unix:///nonexistent/berth-flag-diff.sock' }, signals: new EventEmitter() });
  return { code, out: stdout.text + stderr.text };
}

/** Command names listed under a help section (`Commands:`, `Management Commands:`…). */
function section(text: string, title: string): string[] {
  const out: string[] = [];
  let on = false;
  for (const line of text.split('\n')) {
    if (/^\S.*:$/.test(line)) {
      on = line.startsWith(title);
      continue;
    }
    const m = on ? /^ {2}([a-z][\w-]*)\*?\s/.exec(line) : null;
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Flags of a help text, as `--name` or `-s,--name`. */
function flags(text: string): Set<string> {
  const s = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s+(?:-(\w), )?--([\w-]+)/.exec(line);
    if (m) s.add(`${m[1] ? `-${m[1]},` : ''}--${m[2]}`);
  }
  return s;
}

test('berth offers every flag and command docker 28 has (beyond the allow-list)', { timeout: 120_000 }, async () => {
  const allow = JSON.parse(readFileSync(new URL('../../../test/compat/cli-flags.allow.json', import.meta.url), 'utf8')) as Record<string, string>;
  const top = await docker([]);
  assert.match(top, /Management Commands:/, `docker --help did not list commands (is the docker CLI installed?):\n${top}`);
  const commands: string[][] = [];
  for (const title of ['Common Commands', 'Management Commands', 'Swarm Commands', 'Commands']) {
    for (const c of section(top, title)) {
      const subs = section(await docker([c]), 'Commands');
      if (subs.length) for (const s of subs) commands.push([c, s]);
      else commands.push([c]);
    }
  }
  assert.ok(commands.length > 100, `only ${commands.length} docker commands found`);

  const missing: string[] = [];
  const unsupported: string[] = [];
  let total = 0;
  for (const c of commands) {
    const name = c.join(' ');
    const b = await berth(c);
    if (/is not a berth command/.test(b.out)) {
      missing.push(name);
      continue;
    }
    if (b.code !== 0) {
      // Refused on purpose: the answer must say why.
      assert.match(b.out, /not supported|does not support|not implemented/, `berth ${name} --help failed without a reason: ${b.out}`);
      unsupported.push(name);
      continue;
    }
    const theirs = flags(await docker(c));
    const ours = flags(b.out);
    total += theirs.size;
    for (const f of theirs) if (!ours.has(f)) missing.push(`${name} ${f}`);
  }
  // The global options (`docker --help` against `berth --help`).
  const globalTheirs = flags(top);
  const globalOurs = flags((await berth([])).out);
  total += globalTheirs.size;
  for (const f of globalTheirs) if (!globalOurs.has(f)) missing.push(`(global) ${f}`);
  const unexpected = missing.filter((m) => !Object.hasOwn(allow, m));
  const stale = Object.keys(allow).filter((k) => k !== '//' && !missing.includes(k));
  const report =
    `docker flags on commands berth has: ${total}; missing: ${missing.length} (allowed ${missing.length - unexpected.length})\n` +
    `missing:\n${missing.map((m) => `  ${m}${allow[m] ? ` — ${allow[m]}` : ' — NOT ALLOWED'}`).join('\n')}\n` +
    `refused with a reason: ${unsupported.join(', ')}\n` +
    (stale.length ? `allow-list entries no longer needed (remove them): ${stale.join(', ')}\n` : '');
  console.log(report);
  assert.deepEqual(unexpected, [], report);
});
