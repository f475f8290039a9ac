// Opens the rendered report in headless Chromium (playwright-core, the system's /usr/bin/chromium) and checks what a
// reader would see: every notebook page reachable from the index, no console errors or failed requests, and every
// plotly figure drawn with SVG traces. Optionally saves a full-page screenshot of each page.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface PageCheck {
  url: string;
  title: string;
  consoleErrors: string[];
  failedRequests: string[];
  /** One entry per plotly figure div: its id and how many SVG trace groups plotly drew. */
  figures: { id: string; traces: number }[];
  screenshot?: string;
}

export interface BrowserCheck {
  index: PageCheck;
  pages: PageCheck[];
  /** Hrefs linked from the index that point at notebook pages. */
  linkedPages: string[];
}

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export async function checkReportInBrowser(indexHtml: string, opts: { screenshotsDir?: string; timeoutMs?: number } = {}): Promise<BrowserCheck> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'convmixer-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  const timeout = opts.timeoutMs ?? 20_000;
  if (opts.screenshotsDir) mkdirSync(opts.screenshotsDir, { recursive: true });
  try {
    const visit = async (url: string, shotName: string): Promise<{ check: PageCheck; links: string[] }> => {
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      const failedRequests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
      page.on('requestfailed', (r) => failedRequests.push(`${r.url()} (${r.failure()?.errorText ?? 'failed'})`));
      await page.goto(url, { waitUntil: 'load', timeout });
      // Plotly draws synchronously in newPlot, but give responsive relayouts a moment to settle.
      await page.waitForFunction(() => [...document.querySelectorAll('.plotly-figure')].every((d) => d.querySelector('.main-svg')), undefined, { timeout }).catch(() => {});
      const figures = await page.$$eval('.plotly-figure', (divs) => divs.map((d) => ({ id: d.id, traces: d.querySelectorAll('.main-svg .trace').length })));
      const links = await page.$$eval('a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).href));
      let screenshot: string | undefined;
      if (opts.screenshotsDir) {
        screenshot = join(opts.screenshotsDir, `${shotName}.png`);
        await page.screenshot({ path: screenshot, fullPage: true });
      }
      const title = await page.title();
      await page.close();
      return { check: { url, title, consoleErrors, failedRequests, figures, screenshot }, links };
    };
    const indexUrl = pathToFileURL(resolve(indexHtml)).href;
    const { check: index, links } = await visit(indexUrl, 'index');
    const linkedPages = [...new Set(links.filter((l) => /\/pages\/[^/]+\.html$/.test(l)))];
    const pages: PageCheck[] = [];
    for (const url of linkedPages) pages.push((await visit(url, url.split('/').pop()!.replace(/\.html$/, ''))).check);
    return { index, pages, linkedPages };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** Problems found by a browser check, as readable lines (empty when the report is fine). */
export function browserProblems(check: BrowserCheck): string[] {
  const problems: string[] = [];
  for (const p of [check.index, ...check.pages]) {
    for (const e of p.consoleErrors) problems.push(`${p.url}: console error: ${e}`);
    for (const r of p.failedRequests) problems.push(`${p.url}: failed request: ${r}`);
    for (const f of p.figures) if (f.traces === 0) problems.push(`${p.url}: plotly figure ${f.id} has no drawn traces`);
  }
  if (check.linkedPages.length === 0) problems.push('index links to no notebook pages');
  return problems;
}
