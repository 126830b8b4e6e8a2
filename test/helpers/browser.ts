/**
 * A headless browser for the desktop tests (issue 19): Debian's chromium driven by
 * puppeteer-core (no browser download). The one place that imports puppeteer-core.
 * Each browser gets its own temp profile, removed by close(); the process is killed by PID if
 * it does not exit within a few seconds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export type { Browser, Page };
export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/test.sh installs it)`);
  const profile = await mkdtemp(join(tmpdir(), 'berth-test-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // root in CI: Chromium's sandbox needs an unprivileged user; the pages are our own dashboard.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions', '--disable-background-networking', '--disable-sync', '--metrics-recording-only', '--mute-audio'],
    defaultViewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    protocolTimeout: 60_000,
  });
  const page = await browser.newPage();
  const pid = browser.process()?.pid;
  return {
    browser,
    page,
    async close() {
      const t = setTimeout(() => {
        if (pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }, 5000);
      await browser.close().catch(() => undefined);
      clearTimeout(t);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Runs axe-core's WCAG 2 A/AA rules on the page and returns the serious and critical findings
 * ("rule: target"). Evaluated through the DevTools protocol, so the page's CSP (no inline
 * script) stays on.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  const { createRequire } = await import('node:module');
  const { readFile } = await import('node:fs/promises');
  const source = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; impact?: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').flatMap((v) => v.nodes.slice(0, 3).map((n) => `${v.id}: ${JSON.stringify(n.target)}`));
  });
}
