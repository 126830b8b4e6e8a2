/**
 * The Dockerfile corpus (test/fixtures/dockerfiles, made by its generate.py): every case under
 * pass/ builds through `berth build` and through the docker CLI's legacy builder
 * (DOCKER_BUILDKIT=0, POST /build), and the image has the config, files, modes and owners its
 * expect.json names; every case under fail/ fails through both with the expected message and
 * the Dockerfile line. Cases the legacy path cannot express (secrets: the docker CLI sends them
 * only through a BuildKit session) say so in `docker` and run through berth only.
 *
 * ADD <url> cases fetch from an HTTP server this test runs on 127.0.0.1.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { REPO_ROOT, runCommand, startDaemon, type RunResult, type TestDaemon } from '../helpers/daemon.js';
import { formatPlatform, hostPlatform } from '../../src/oci/platform.js';

const CORPUS = join(REPO_ROOT, 'test', 'fixtures', 'dockerfiles');

interface FileExpect {
  content?: string;
  mode?: string;
  uid?: number;
  gid?: number;
}
interface PassExpect {
  rule: string;
  args?: string[];
  env?: Record<string, string>;
  docker?: string;
  config?: Record<string, unknown>;
  configEnvHas?: string;
  configExcludes?: string;
  historyExcludes?: string;
  files?: Record<string, FileExpect>;
  absent?: string[];
}
interface FailExpect {
  message: string;
  line: number;
  args?: string[];
}

let d: TestDaemon;
let work: string;
let server: http.Server;
let url: string;

async function cases<T>(kind: 'pass' | 'fail'): Promise<{ name: string; expect: T }[]> {
  const names = (await readdir(join(CORPUS, kind))).sort();
  return Promise.all(names.map(async (name) => ({ name, expect: JSON.parse(await readFile(join(CORPUS, kind, name, 'expect.json'), 'utf8')) as T })));
}

const hp = hostPlatform();
function fill(s: string, dir: string): string {
  return s.replaceAll('{URL}', url).replaceAll('{DIR}', dir).replaceAll('{HOST_PLATFORM}', formatPlatform({ os: hp.os, architecture: hp.architecture })).replaceAll('{HOST_ARCH}', hp.architecture);
}

/** A copy of the case's context in the test's temp dir (builds never touch the tree). */
async function contextOf(kind: string, name: string, via: string): Promise<string> {
  const dir = join(work, `${kind}-${name}-${via}`);
  await cp(join(CORPUS, kind, name), dir, { recursive: true });
  await rm(join(dir, 'expect.json'));
  return dir;
}

function build(via: 'berth' | 'docker', dir: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  if (via === 'berth') return runCommand(process.env['BERTH_BIN_OVERRIDE'] ?? join(REPO_ROOT, 'bin', 'berth'), ['build', ...args, dir], { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'xdg'), ...env }, { timeoutMs: 120_000 });
  return runCommand('docker', ['build', ...args, dir], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', BERTH_HOST: '', ...env }, { timeoutMs: 120_000 });
}

/** The first tar entry of GET /containers/{id}/archive?path=: mode, owner, content. */
function firstEntry(tar: Buffer): { mode: string; uid: number; gid: number; content: Buffer } {
  let off = 0;
  for (;;) {
    const h = tar.subarray(off, off + 512);
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    if (type === 'x' || type === 'g' || type === 'L') {
      off += 512 + Math.ceil(size / 512) * 512;
      continue;
    }
    const oct = (a: number, b: number): number => parseInt(h.subarray(a, b).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    return { mode: (oct(100, 108) & 0o7777).toString(8), uid: oct(108, 116), gid: oct(116, 124), content: tar.subarray(off + 512, off + 512 + size) };
  }
}

async function checkImage(image: string, e: PassExpect, dir: string, out: string): Promise<void> {
  const inspect = await d.api('GET', `/images/${image}/json`);
  assert.equal(inspect.status, 200, inspect.body.toString());
  const config = (inspect.json() as { Config: Record<string, unknown> }).Config;
  for (const [k, v] of Object.entries(e.config ?? {})) assert.deepEqual(config[k], v, `${e.rule}: Config.${k}\n${out}`);
  if (e.configEnvHas) assert.ok((config['Env'] as string[]).includes(e.configEnvHas), `${e.rule}: Env has ${e.configEnvHas}`);
  if (e.configExcludes) assert.ok(!JSON.stringify(inspect.json()).includes(e.configExcludes), `${e.rule}: the image config does not hold ${e.configExcludes}`);
  if (e.historyExcludes) {
    const hist = await d.api('GET', `/images/${image}/history`);
    assert.ok(!hist.body.toString().includes(e.historyExcludes), `${e.rule}: history does not hold ${e.historyExcludes}`);
  }
  if (!e.files && !e.absent) return;
  const created = await d.api('POST', '/containers/create', { Image: image, Cmd: ['/corpus-check'] });
  assert.equal(created.status, 201, created.body.toString());
  const cid = (created.json() as { Id: string }).Id;
  try {
    for (const [path, want] of Object.entries(e.files ?? {})) {
      const r = await d.api('GET', `/containers/${cid}/archive?path=${encodeURIComponent(path)}`);
      assert.equal(r.status, 200, `${e.rule}: ${path} exists (${r.body.toString().slice(0, 200)})\n${out}`);
      const got = firstEntry(r.body);
      if (want.content !== undefined) assert.equal(got.content.toString('utf8'), fill(want.content, dir), `${e.rule}: content of ${path}`);
      if (want.mode !== undefined) assert.equal(got.mode, want.mode, `${e.rule}: mode of ${path}`);
      if (want.uid !== undefined) assert.equal(got.uid, want.uid, `${e.rule}: uid of ${path}`);
      if (want.gid !== undefined) assert.equal(got.gid, want.gid, `${e.rule}: gid of ${path}`);
    }
    for (const path of e.absent ?? []) {
      const r = await d.api('HEAD', `/containers/${cid}/archive?path=${encodeURIComponent(path)}`);
      assert.equal(r.status, 404, `${e.rule}: ${path} is not in the image`);
    }
  } finally {
    await d.api('DELETE', `/containers/${cid}?force=1`);
  }
}

describe('the Dockerfile corpus', () => {
  before(async () => {
    d = await startDaemon('corpus');
    await d.importBusybox();
    work = await mkdtemp(join(tmpdir(), 'berth-test-corpus-'));
    server = http.createServer((req, res) => {
      if (req.url === '/file.txt') {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Last-Modified': 'Mon, 01 Jan 2024 00:00:00 GMT' });
        res.end('downloaded content\n');
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.close();
    await d?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the corpus has at least 40 cases that build and a must-fail set', async () => {
    assert.ok((await cases('pass')).length >= 40);
    assert.ok((await cases('fail')).length >= 15);
  });

  for (const via of ['berth', 'docker'] as const) {
    test(`every pass/ case builds through ${via === 'berth' ? 'berth build' : 'the docker CLI (legacy builder)'} with the expected result`, async () => {
      for (const { name, expect: e } of await cases<PassExpect>('pass')) {
        if (via === 'docker' && e.docker) continue; // the case says why the legacy path cannot run it
        const dir = await contextOf('pass', name, via);
        const tag = `corpus-${name}:${via}`;
        const r = await build(via, dir, ['-t', tag, ...(e.args ?? []).map((a) => fill(a, dir))], e.env);
        assert.equal(r.code, 0, `${name} (${e.rule}) through ${via}:\n${r.stdout}\n${r.stderr}`);
        await checkImage(tag, e, dir, `${name} through ${via}`);
      }
    });

    test(`every fail/ case fails through ${via === 'berth' ? 'berth build' : 'the docker CLI (legacy builder)'} naming the problem and the line`, async () => {
      for (const { name, expect: e } of await cases<FailExpect>('fail')) {
        const dir = await contextOf('fail', name, via);
        const r = await build(via, dir, (e.args ?? []).map((a) => fill(a, dir)));
        assert.notEqual(r.code, 0, `${name} must fail through ${via}:\n${r.stdout}`);
        const text = `${r.stdout}\n${r.stderr}`;
        assert.ok(text.includes(e.message), `${name} through ${via}: the error names "${e.message}":\n${text}`);
        assert.match(text, new RegExp(`\\(Dockerfile:${e.line}\\)|line ${e.line} of Dockerfile`), `${name} through ${via}: the error names line ${e.line}:\n${text}`);
      }
    });
  }

  test('berth build --secret never writes the secret into a layer', async () => {
    const dir = await contextOf('pass', 'run-mount-secret', 'layers');
    const r = await build('berth', dir, ['-t', 'corpus-secret-layers', '--secret', `id=tok,src=${dir}/tok.txt`]);
    assert.equal(r.code, 0, r.stderr);
    const saved = await d.api('GET', '/images/corpus-secret-layers/get');
    assert.equal(saved.status, 200);
    assert.ok(!saved.body.includes(Buffer.from('s3cret')), 'the saved image does not contain the secret');
  });
});
