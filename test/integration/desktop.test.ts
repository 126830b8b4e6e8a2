/**
 * berth desktop (issue 19) end to end: a private berthd with `--ui 127.0.0.1:0`, the URL from
 * `berth desktop`, and Debian's chromium (puppeteer-core) using the dashboard as a person would.
 * Security checks go at the HTTP level (no token, foreign Host, foreign Origin) and from a page
 * of another origin in the same browser. Screenshots of each view go to docs/images/ when
 * BERTH_DESKTOP_SCREENSHOTS=1 (how docs/desktop.md's were made).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDaemon, startDaemon, eventually, runCommand, BERTH_BIN, REPO_ROOT, type TestDaemon } from '../helpers/daemon.js';
import { makeLayer, pushRaw, startRegistry, type RegistryProc } from '../helpers/registry.js';
import { accessibilityProblems, launchBrowser, type Page, type TestBrowser } from '../helpers/browser.js';

const FIRST_SCREEN_LIMIT_MS = Number(process.env['BERTH_DESKTOP_FIRST_SCREEN_MS'] ?? 1500);
const SHOTS = process.env['BERTH_DESKTOP_SCREENSHOTS'] === '1' ? join(REPO_ROOT, 'docs', 'images') : undefined;

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: string }
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
/** A WebSocket handshake by hand: the status line the server answers. */
function wsHandshake(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/ws', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers }, timeout: 10_000 });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('berth desktop', { timeout: 240_000 }, () => {
  let d: TestDaemon;
  let reg: RegistryProc;
  let work: string;
  let b: TestBrowser;
  let page: Page;
  let url: string;
  let port: number;
  let token: string;
  const ok = async (args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** Every main view is checked with axe-core (WCAG 2 A/AA: labels, contrast, roles) as it is shot. */
  const a11y: string[] = [];
  const shot = async (name: string) => {
    a11y.push(...(await accessibilityProblems(page)).map((p) => `${name}: ${p}`));
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `desktop-${name}.png`) as `${string}.png` });
  };
  /**
   * page.goto, again when Chromium reports ERR_NETWORK_CHANGED: it aborts navigations whenever an
   * interface appears or goes, and test daemons (ours and others') make veths and bridges.
   */
  const goto = async (url: string) => {
    for (let i = 0; ; i++) {
      try {
        return await page.goto(url);
      } catch (err) {
        if (i >= 4 || !/ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
      }
    }
  };
  /** Waits until the page's text contains `text` (inside `selector`). */
  const waitText = (text: string, selector = 'body', timeout = 15_000) =>
    page.waitForFunction((s, t) => document.querySelector(s)?.textContent?.includes(t), { timeout, polling: 'mutation' }, selector, text).catch(async (err: Error) => {
      const seen = await page.$eval(selector, (e) => e.textContent ?? '').catch(() => '(no such element)');
      throw new Error(`"${text}" did not appear in ${selector}: ${err.message}; it shows: ${seen.slice(0, 600)}`);
    });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-test-desktop-work-'));
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
    d = await startDaemon('desktop', ['--ui', '127.0.0.1:0']);
    await d.importBusybox();
    reg = await startRegistry(work);
    b = await launchBrowser();
    page = b.page;
  });
  after(async () => {
    await b?.close();
    await reg?.stop();
    await d?.destroy();
    await rm(work, { recursive: true, force: true });
  });

  test('berth desktop prints the URL with the token', async () => {
    url = (await ok(['desktop', '--no-browser'])).trim();
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})$/.exec(url);
    assert.ok(m, url);
    port = Number(m[1]);
    token = m[2]!;
  });

  test('security: no token, a foreign Host or a foreign Origin is refused; no CORS', async () => {
    const cookie = `berth_desktop=${token}`;
    const host = `127.0.0.1:${port}`;
    assert.equal((await raw(port, 'GET', '/')).status, 401);
    assert.equal((await raw(port, 'GET', '/api/containers/json')).status, 401);
    assert.equal((await raw(port, 'GET', '/app.js')).status, 401);
    assert.equal((await raw(port, 'GET', '/?token=' + '0'.repeat(64))).status, 401);
    assert.equal((await raw(port, 'GET', '/api/containers/json', { cookie: `berth_desktop=${'0'.repeat(64)}` })).status, 401);
    // The landing URL sets the cookie and drops the token from the address bar.
    const landing = await raw(port, 'GET', `/?token=${token}`);
    assert.equal(landing.status, 303);
    assert.equal(landing.headers.location, '/');
    assert.match(String(landing.headers['set-cookie']), /berth_desktop=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict/);
    assert.equal(landing.headers['referrer-policy'], 'no-referrer');
    const good = await raw(port, 'GET', '/api/containers/json', { cookie });
    assert.equal(good.status, 200);
    // DNS rebinding: evil.example resolving to 127.0.0.1 still sends its own name.
    assert.equal((await raw(port, 'GET', '/api/containers/json', { cookie, host: `evil.example:${port}` })).status, 421);
    assert.equal((await raw(port, 'GET', `/?token=${token}`, { host: 'evil.example' })).status, 421);
    // CSRF: a foreign Origin, or a state change without Origin, is refused.
    await ok(['run', '-d', '--name', 'victim', '--network', 'none', 'busybox', 'sleep', '300']);
    assert.equal((await raw(port, 'POST', '/api/containers/victim/stop', { cookie, origin: 'http://evil.example' })).status, 403);
    assert.equal((await raw(port, 'POST', '/api/containers/victim/stop', { cookie })).status, 403);
    assert.equal((await raw(port, 'POST', '/api/containers/victim/stop?t=0', { cookie, origin: `http://${host}`, 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'victim'])).trim(), 'running');
    // No CORS: a preflight gets nothing that would let another origin read or write.
    const pre = await raw(port, 'OPTIONS', '/api/containers/json', { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
    assert.equal(pre.status, 403);
    for (const r of [pre, good, landing]) assert.equal(Object.keys(r.headers).filter((h) => h.startsWith('access-control-')).length, 0);
    // WebSocket: Origin checked (browsers do not apply same-origin rules to WebSockets).
    assert.equal(await wsHandshake(port, { cookie, origin: 'http://evil.example' }), 403);
    assert.equal(await wsHandshake(port, { cookie }), 403);
    assert.equal(await wsHandshake(port, { origin: `http://${host}` }), 401);
    assert.equal(await wsHandshake(port, { cookie, origin: `http://${host}` }), 101);
  });

  test('a page of another origin in the same browser cannot read or drive the API', async () => {
    // The attacker's page: another loopback port, so the browser treats it as a foreign origin.
    const evil = http.createServer((_req, res) => res.end('<html><body>evil</body></html>'));
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const evilPort = (evil.address() as { port: number }).port;
    try {
      await goto(url); // the victim has the dashboard cookie
      await goto(`http://localhost:${evilPort}/`);
      const result = await page.evaluate(async (p: number) => {
        const out: string[] = [];
        try {
          const r = await fetch(`http://127.0.0.1:${p}/api/containers/json`, { credentials: 'include' });
          out.push(`read ${r.status}`);
        } catch (e) {
          out.push('read blocked');
        }
        try {
          await fetch(`http://127.0.0.1:${p}/api/containers/victim/kill`, { method: 'POST', mode: 'no-cors', credentials: 'include' });
          out.push('post sent');
        } catch {
          out.push('post blocked');
        }
        const ws = await new Promise<string>((resolve) => {
          const s = new WebSocket(`ws://127.0.0.1:${p}/ws`);
          s.onopen = () => resolve('ws open');
          s.onerror = () => resolve('ws refused');
        });
        out.push(ws);
        return out;
      }, port);
      assert.equal(result[0], 'read blocked');
      assert.equal(result[2], 'ws refused');
      // Whatever left the browser, the container was not killed.
      assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'victim'])).trim(), 'running');
    } finally {
      await new Promise((r) => evil.close(r));
      await ok(['rm', '-f', 'victim']);
    }
  });

  test('open the dashboard; a container started from the CLI appears', async () => {
    await goto(url);
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.waitForSelector('h1#h-containers');
    await ok(['run', '-d', '--name', 'web', '--network', 'none', '--label', 'com.docker.compose.project=shop', 'busybox', 'sh', '-c',
      'i=0; while [ $i -lt 100000 ]; do echo "line $i"; echo "oops $i" >&2; i=$((i+1)); sleep 0.2; done']);
    await page.waitForSelector('tr[data-name="web"] .state-running', { timeout: 10_000 });
    assert.match(await page.$eval('details.group summary', (e) => e.textContent ?? ''), /compose project shop/);
    await ok(['run', '-d', '--name', 'solo', '--network', 'none', 'busybox', 'sleep', '300']);
    await page.waitForSelector('tr[data-name="solo"] .state-running', { timeout: 10_000 });
    await shot('containers');
  });

  test('read its logs: streamed, stderr marked, searchable', async () => {
    await page.click('tr[data-name="web"] a.name');
    await page.waitForSelector('h1#h-detail');
    await waitText('Restart count');
    await shot('container-detail');
    await page.click('nav.tabs a[href$="/logs"]');
    await waitText('line 3', '.logbox');
    const err = await page.$eval('.logline.err', (e) => e.textContent ?? '');
    assert.match(err, /^err.*oops \d+/);
    await page.type('input[aria-label="Search logs"]', 'oops 2');
    await page.waitForFunction(() => [...document.querySelectorAll('.logline')].every((l) => l.textContent?.includes('oops 2')), { timeout: 5000 });
    await page.click('input[aria-label="Search logs"]', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.click('label.check:nth-of-type(2) input'); // timestamps
    await page.waitForSelector('.logline .ts');
    await shot('logs');
  });

  test('logs at 5,000 lines a second: the list stays virtualised and frames keep coming', async () => {
    await ok(['run', '-d', '--name', 'flood', '--network', 'none', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do seq 1 500; sleep 0.1; i=$((i+1)); done; sleep 300']);
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'flood'])).trim();
    await goto(`http://127.0.0.1:${port}/#/containers/${id}/logs`);
    await page.waitForSelector('.logbox');
    await waitText('lines', '.logs .count');
    const r = await page.evaluate(async () => {
      const count = () => Number(/(\d+) lines/.exec(document.querySelector('.logs .count')?.textContent ?? '')?.[1] ?? 0);
      const first = count();
      const gaps: number[] = [];
      let last = performance.now();
      let maxRows = 0;
      const end = last + 3000;
      await new Promise<void>((resolve) => {
        const frame = (t: number) => {
          gaps.push(t - last);
          last = t;
          maxRows = Math.max(maxRows, document.querySelectorAll('.logline').length);
          if (t < end) requestAnimationFrame(frame);
          else resolve();
        };
        requestAnimationFrame(frame);
      });
      gaps.sort((a, b) => a - b);
      return { frames: gaps.length, p95: gaps[Math.floor(gaps.length * 0.95)]!, max: gaps[gaps.length - 1]!, maxRows, lines: count() - first };
    });
    const lines = r.lines;
    console.log(`# desktop: logs flood: ${lines} new lines in 3 s (${(lines / 3).toFixed(0)}/s), ${r.frames} frames, p95 frame ${r.p95.toFixed(0)} ms, max ${r.max.toFixed(0)} ms, at most ${r.maxRows} rows in the DOM`);
    // The container writes ~5,000 lines a second (500 every 0.1 s, less on a loaded machine).
    assert.ok(lines >= 4000, `only ${lines} lines arrived in 3 s`);
    assert.ok(r.maxRows <= 120, `${r.maxRows} log rows in the DOM: not virtualised`);
    assert.ok(r.frames >= 30, `only ${r.frames} frames in 3 s`);
    await ok(['rm', '-f', 'flood']);
    await goto(`http://127.0.0.1:${port}/#/containers`);
    await page.waitForSelector('tr[data-name="web"] a.name');
    await page.click('tr[data-name="web"] a.name');
    await page.waitForSelector('h1#h-detail');
  });

  test('type in its terminal and see the output', async () => {
    await page.click('nav.tabs a[href$="/terminal"]');
    await waitText('connected', '.terminal');
    await page.click('.xterm-host');
    await page.keyboard.type('echo hello-$((6*7)) && stty size\n');
    await waitText('hello-42', '.xterm-rows');
    // The tty has the terminal's size, and follows it when the window changes.
    await page.waitForFunction(() => /hello-42[\s\S]*\d+ \d+/.test(document.querySelector('.xterm-rows')?.textContent ?? ''), { timeout: 10_000 });
    const rows = await page.$eval('.xterm-rows', (e) => e.textContent ?? '');
    await page.setViewport({ width: 1000, height: 700 });
    // The new size reaches the tty a moment later (ResizeObserver, fit, exec resize): ask again
    // until it shows, a bounded number of times.
    const before = /(\d+ \d+)/.exec(rows)![1]!;
    let after = before;
    for (let i = 0; i < 20 && after === before; i++) {
      await page.keyboard.type('clear; stty size\n');
      await new Promise((r) => setTimeout(r, 300));
      after = /(\d+ \d+)/.exec(await page.$eval('.xterm-rows', (e) => e.textContent ?? ''))?.[1] ?? before;
    }
    assert.notEqual(after, before, 'the tty follows the window size');
    await page.setViewport({ width: 1280, height: 800 });
    await page.keyboard.type('clear; echo ready; ls /\n');
    await waitText('ready', '.xterm-rows');
    await shot('terminal');
  });

  test('live stats per container and for the engine', async () => {
    await page.click('nav.tabs a[href$="/stats"]');
    // Leaving the terminal ends its shell: no exec process stays behind in the container.
    await eventually(async () => !/ sh\s*$/m.test(await ok(['top', 'web'])), 10_000, 'the terminal shell to exit');
    await waitText('CPU ', 'section p.sub', 15_000);
    await page.waitForFunction(() => document.querySelectorAll('.uplot').length === 4);
    await new Promise((r) => setTimeout(r, 2500)); // a few samples for the screenshot
    await shot('stats');
    await goto(`http://127.0.0.1:${port}/#/stats`);
    await waitText('CPU ', 'section p.sub', 15_000);
    assert.match(await page.$eval('table[aria-label="Usage per container"]', (e) => e.textContent ?? ''), /web/);
    await new Promise((r) => setTimeout(r, 2500));
    await shot('engine-stats');
  });

  test('stop it from the page (with confirmation) and the CLI agrees, within 100 ms of the event on screen', async () => {
    await goto(`http://127.0.0.1:${port}/#/containers`);
    await page.waitForSelector('tr[data-name="web"] .state-running');
    // By keyboard: Enter on the button asks; the dialog starts on Cancel; Escape leaves it be.
    await page.focus('button[aria-label="stop web"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'web'])).trim(), 'running');
    await page.click('button[aria-label="stop web"]');
    await page.waitForSelector('dialog[open]');
    assert.match(await page.$eval('dialog', (e) => e.textContent ?? ''), /Stop web\?/);
    await page.click('dialog button[type="submit"]');
    await eventually(async () => (await ok(['inspect', '-f', '{{.State.Status}}', 'web'])).trim() === 'exited', 20_000, 'web to stop');
    await page.waitForSelector('tr[data-name="web"] .state-exited', { timeout: 5000 });
    // A change made by the CLI: measure from the event reaching a client to the row changing.
    await page.evaluate(() => {
      const w = window as unknown as { shownAt?: number };
      new MutationObserver(() => {
        if (!w.shownAt && document.querySelector('tr[data-name="solo"] .state-paused')) w.shownAt = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const events = http.get({ socketPath: d.socket, path: `/events?filters=${encodeURIComponent(JSON.stringify({ event: ['pause'] }))}` });
    const eventAt = new Promise<number>((resolve) => events.on('response', (res) => res.once('data', () => resolve(Date.now()))));
    await new Promise((r) => setTimeout(r, 200));
    await ok(['pause', 'solo']);
    const at = await eventAt;
    events.destroy();
    const shownAt = await page.waitForFunction(() => (window as unknown as { shownAt?: number }).shownAt, { timeout: 5000 }).then((h) => h.jsonValue() as Promise<number>);
    const lag = shownAt - at;
    console.log(`# desktop: pause event to row update: ${lag} ms`);
    assert.ok(lag < 100, `the list updated ${lag} ms after the event`);
    await ok(['unpause', 'solo']);
  });

  test('pull an image with progress from a registry on loopback', async () => {
    // An image whose two layers the daemon does not have: both are downloaded, with progress.
    const ref = `127.0.0.1:${reg.port}/demo/app:1`;
    await pushRaw(reg.port, 'demo/app', '1', [
      await makeLayer([{ name: 'data/', type: 'directory' }, { name: 'data/one.bin', body: randomBytes(3 << 20) }]),
      await makeLayer([{ name: 'data/two.bin', body: randomBytes(2 << 20) }]),
    ]);
    await goto(`http://127.0.0.1:${port}/#/images`);
    await page.waitForSelector('input[aria-label="Image to pull"]');
    await page.type('input[aria-label="Image to pull"]', ref);
    await page.click('form[aria-label="Pull an image"] button[type="submit"]');
    await waitText('Pull complete', '[aria-label="Pull progress"]', 30_000);
    assert.equal((await page.$$('[aria-label="Pull progress"] progress')).length, 2, 'a progress bar per layer');
    assert.match(await page.$eval('[aria-label="Pull progress"]', (e) => e.textContent ?? ''), /Pull complete.*Pull complete/s);
    assert.match(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), new RegExp(`^${ref.replace(/[.]/g, '\\.')}$`, 'm'));
    await waitText(ref, 'table[aria-label="Images"]');
    await page.click(`button[aria-expanded="false"]`);
    await page.waitForSelector('table[aria-label="Image history"]');
    await shot('images');
    // Tag it for another repository and push that from the page; the registry then has it.
    const pushed = `127.0.0.1:${reg.port}/demo/pushed:2`;
    await page.click('button[aria-label^="tag "]');
    await page.type('input[aria-label^="New tag for "]', pushed);
    await page.keyboard.press('Enter');
    await waitText(pushed, 'table[aria-label="Images"]');
    await page.click(`button[aria-label="push ${pushed}"]`);
    await waitText('Push complete', '[aria-label="Push progress"]', 30_000);
    const tags = await new Promise<string>((resolve, reject) => http.get({ host: '127.0.0.1', port: reg.port, path: '/v2/demo/pushed/tags/list' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject));
    assert.deepEqual(JSON.parse(tags).tags, ['2']);
  });

  test('browse a volume, then remove it from the page', async () => {
    await ok(['volume', 'create', 'data1']);
    await ok(['run', '--rm', '--network', 'none', '-v', 'data1:/d', 'busybox', 'sh', '-c', 'mkdir /d/sub && echo hello > /d/hello.txt && echo x > /d/sub/inner']);
    await goto(`http://127.0.0.1:${port}/#/volumes`);
    await page.waitForSelector('tr[data-name="data1"]');
    await page.click('button[aria-label="browse data1"]');
    await waitText('hello.txt', '[role="region"]');
    await waitText('sub/', '[role="region"]');
    // Download through the archive API: the page receives the file's bytes.
    const text = await page.evaluate(async () => {
      const orig = URL.createObjectURL;
      let blob: Blob | undefined;
      URL.createObjectURL = (b: Blob) => {
        blob = b;
        return orig(b);
      };
      (document.querySelector('button[aria-label="download hello.txt"]') as HTMLButtonElement).click();
      for (let i = 0; i < 100 && !blob; i++) await new Promise((r) => setTimeout(r, 50));
      URL.createObjectURL = orig;
      return blob ? blob.text() : 'no download';
    });
    assert.equal(text, 'hello\n');
    await shot('volumes');
    await page.click('button[aria-label="remove data1"]');
    await page.waitForSelector('dialog[open]');
    await page.click('dialog button[type="submit"]');
    await eventually(async () => !(await ok(['volume', 'ls', '-q'])).includes('data1'), 10_000, 'data1 to go');
    await page.waitForFunction(() => !document.querySelector('tr[data-name="data1"]'), { timeout: 5000 });
    // The browser's helper container went with it.
    assert.equal((await ok(['ps', '-aq', '--filter', 'label=berth.desktop.volume-browser'])).trim(), '');
  });

  test('build history: a CLI build twice, its steps and the cache hit on the page', async () => {
    const ctxDir = join(work, 'build-ctx');
    await mkdir(ctxDir, { recursive: true });
    // Two steps after FROM; the second keeps a cache mount (build cache for the Disk view).
    await writeFile(join(ctxDir, 'Dockerfile'), 'FROM busybox\nRUN echo one > /one\nRUN --mount=type=cache,target=/cache sh -c "head -c 200000 /dev/urandom > /cache/blob; ls /cache"\n');
    await ok(['build', '-t', 'desk/app:1', ctxDir]);
    assert.match(await ok(['build', '-t', 'desk/app:2', ctxDir]), /Using cache/);
    await writeFile(join(ctxDir, 'Broken.Dockerfile'), 'FROM busybox\nRUN exit 7\n');
    assert.notEqual((await d.berth(['build', '-f', join(ctxDir, 'Broken.Dockerfile'), '-t', 'desk/broken:1', ctxDir])).code, 0);
    // From the Images view's link.
    await goto(`http://127.0.0.1:${port}/#/images`);
    await page.waitForSelector('table[aria-label="Images"]');
    await page.click('a[href="#/builds"]:not(nav a)');
    await waitText('desk/app:2', 'table[aria-label="Builds"]');
    const rows = await page.$$eval('table[aria-label="Builds"] > tbody > tr[data-build]', (trs) => trs.map((t) => t.textContent ?? ''));
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /desk\/broken:1.*error/);
    assert.match(rows[1]!, /desk\/app:2.*3.*2 cached.*ok/);
    assert.match(rows[2]!, /desk\/app:1.*ok/);
    assert.doesNotMatch(rows[2]!, /cached/);
    await page.click('button[aria-label="steps of build desk/broken:1"]');
    await waitText('returned a non-zero code: 7', 'table[aria-label="Builds"]');
    await page.click('button[aria-label="steps of build desk/app:2"]');
    await page.waitForSelector('table[aria-label="Steps of build desk/app:2"]');
    const steps = await page.$$eval('table[aria-label="Steps of build desk/app:2"] tbody tr', (trs) => trs.map((t) => [...t.querySelectorAll('td')].map((c) => c.textContent ?? '')));
    assert.deepEqual(steps.map((s) => [s[0], s[1], s[3]]), [['1/3', 'FROM busybox', 'built'], ['2/3', 'RUN echo one > /one', 'CACHED'], ['3/3', 'RUN --mount=type=cache,target=/cache sh -c "head -c 200000 /dev/urandom > /cache/blob; ls /cache"', 'CACHED']]);
    for (const s of steps) assert.match(s[2]!, /^\d+(\.\d)? m?s$/);
    await shot('builds');
  });

  test('clean the build cache from the Disk view, with what goes listed first', async () => {
    const cacheOf = async () => ((await d.api('GET', '/system/df')).json().BuildCache ?? []) as Array<{ ID: string; Size: number }>;
    const before = await cacheOf();
    assert.equal(before.length, 1, 'the cache mount of the build above');
    await goto(`http://127.0.0.1:${port}/#/disk`);
    await waitText('cached mount', 'table[aria-label="Build cache"]');
    await page.click('::-p-text(Clean build cache…)');
    await page.waitForSelector('dialog[open]');
    const listed = await page.$eval('dialog', (e) => e.textContent ?? '');
    assert.match(listed, /This build cache entry goes \(about \d/);
    assert.match(listed, /cached mount/);
    await shot('disk-build-cache');
    // Cancel: nothing goes.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    assert.equal((await cacheOf()).length, 1);
    await page.click('::-p-text(Clean build cache…)');
    await page.waitForSelector('dialog[open]');
    await page.click('dialog button[type="submit"]');
    await waitText('build cache: 1 entry removed', 'body');
    await eventually(async () => (await cacheOf()).length === 0, 10_000, 'the build cache to be empty');
    await page.waitForFunction(() => !document.querySelector('table[aria-label="Build cache"]'), { timeout: 5000 });
    // Cached steps whose images stay were kept: the next build still uses them.
    assert.match(await ok(['build', '-t', 'desk/app:3', join(work, 'build-ctx')]), /Using cache/);
  });

  test('networks and disk views; phone width', async () => {
    await ok(['network', 'create', 'backend']);
    await ok(['run', '-d', '--name', 'netbox', '--network', 'backend', 'busybox', 'sleep', '300']);
    await goto(`http://127.0.0.1:${port}/#/networks`);
    await page.waitForSelector('tr[data-name="backend"]');
    assert.match(await page.$eval('tr[data-name="backend"]', (e) => e.textContent ?? ''), /netbox\s*\d+\.\d+\.\d+\.\d+/);
    await shot('networks');
    await goto(`http://127.0.0.1:${port}/#/disk`);
    await waitText('Reclaimable', 'table[aria-label="Disk usage summary"]');
    await shot('disk');
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await goto(`http://127.0.0.1:${port}/#/containers`);
    await waitText('solo', 'main');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
    await shot('phone');
    await page.setViewport({ width: 1280, height: 800 });
  });

  test('accessibility: no serious WCAG 2 A/AA problem in any view (axe-core)', () => {
    assert.deepEqual(a11y, []);
  });

  test('first screen with 200 containers', async () => {
    const existing = JSON.parse(await ok(['ps', '-a', '--format', '{{json .ID}}']).then((s) => `[${s.trim().split('\n').filter(Boolean).join(',')}]`)).length as number;
    const want = 200 - existing;
    for (let i = 0; i < want; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, want - i) }, (_, k) =>
          d.api('POST', `/containers/create?name=bulk${i + k}`, { Image: 'busybox', Cmd: ['true'], Labels: { 'com.docker.compose.project': `p${(i + k) % 5}` }, HostConfig: { NetworkMode: 'none' } }).then((r) => assert.equal(r.status, 201, r.body.toString())),
        ),
      );
    }
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      // A fresh document each time (a hash change alone would keep the old one).
      await goto('about:blank');
      await goto(`http://127.0.0.1:${port}/#/containers`);
      await page.waitForFunction(() => performance.getEntriesByName('first-screen').length && document.querySelectorAll('table.list tbody tr').length >= 200, { timeout: 20_000 }).catch(async (err: Error) => {
        const state = await page.evaluate(() => `${performance.getEntriesByName('first-screen').length} mark, ${document.querySelectorAll('table.list tbody tr').length} rows, ${document.querySelector('main')?.textContent?.slice(0, 300)}`);
        throw new Error(`${err.message}: ${state}`);
      });
      times.push(await page.evaluate(() => performance.getEntriesByName('first-screen')[0]!.startTime));
    }
    times.sort((a, b) => a - b);
    console.log(`# desktop: first screen with 200 containers: ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${times[1]!.toFixed(0)})`);
    // The target is 300 ms (measured 230-320 ms on a 2-core machine, see docs/desktop.md); the
    // same machine at load 24 took up to 1.2 s, so the check here is only against regressions.
    assert.ok(times[1]! < FIRST_SCREEN_LIMIT_MS, `first screen took ${times[1]} ms`);
  });
});

describe('berth desktop under TLS', { timeout: 60_000 }, () => {
  test('with --tlsverify the dashboard is HTTPS and asks for the API client certificates; without TLS only loopback', async () => {
    const d = await createDaemon('desktop-tls');
    try {
      const dir = join(d.dir, 'tls');
      const init = await runCommand(BERTH_BIN, ['tls', 'init', dir], {});
      assert.equal(init.code, 0, init.stderr);
      // A non-loopback address without TLS: refused at start with the reason.
      await assert.rejects(d.start(['--ui', '10.1.2.3:7681']), /refusing to serve the desktop UI on 10\.1\.2\.3:7681 without TLS/);
      const tcp = `tcp://127.0.0.1:${await freePort()}`;
      await d.start(['-H', tcp, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'server-cert.pem'), '--tlskey', join(dir, 'server-key.pem'), '--ui', '127.0.0.1:0']);
      const url = new URL((await d.berth(['desktop', '--no-browser'])).stdout.trim());
      assert.equal(url.protocol, 'https:');
      const ca = await readFile(join(dir, 'ca.pem'));
      const get = (extra: https.RequestOptions) =>
        new Promise<string>((resolve) => {
          const r = https.get({ host: '127.0.0.1', port: url.port, path: `/${url.search}`, ca, ...extra }, (res) => {
            res.resume();
            resolve(`${res.statusCode} ${String(res.headers['set-cookie'] ?? '')}`);
          });
          r.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        });
      assert.match(await get({}), /^error /, 'no client certificate, no dashboard');
      assert.match(await get({ cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) }), /^303 berth_desktop=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await d.destroy();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
