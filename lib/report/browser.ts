// Opens the rendered report in headless Chromium (playwright-core, the system's /usr/bin/chromium) and checks what a
// reader would see: every expected notebook page reachable from the index by following links (the index list, the
// nav bar, the pagers), no broken links, no console errors or failed requests, and every plotly figure drawn with
// SVG traces (as many figures as the notebook's outputs hold). Optionally saves a full-page screenshot of each page.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface PageCheck {
  url: string;
  /** Path relative to the report folder, e.g. 'pages/00-overview.html' ('index.html' for the index). */
  href: string;
  title: string;
  consoleErrors: string[];
  failedRequests: string[];
  /** One entry per plotly figure div: its id and how many SVG trace groups plotly drew. */
  figures: { id: string; traces: number }[];
  screenshot?: string;
}

/** A page the report should have: its href relative to the report folder and, when known, how many figures it holds. */
export interface ExpectedPage {
  href: string;
  figures?: number;
}

export interface BrowserCheck {
  index: PageCheck;
  /** Every other page reached from the index through links, in the order they were first reached. */
  pages: PageCheck[];
  expected: ExpectedPage[];
  /** Expected hrefs that no chain of links from the index reaches. */
  unreachable: string[];
  /** Links to report pages whose file does not exist, as 'from-href -> to-href'. */
  brokenLinks: string[];
}

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** The links that lead to other HTML pages of the report (inside rootUrl), without #fragments or ?queries, deduplicated. */
export function reportLinks(links: string[], rootUrl: string): string[] {
  const root = rootUrl.endsWith('/') ? rootUrl : `${rootUrl}/`;
  const out = new Set<string>();
  for (const l of links) {
    const u = l.replace(/[?#].*$/, '');
    if (u.startsWith(root) && u.endsWith('.html')) out.add(u);
  }
  return [...out];
}

/** Expected hrefs missing from the reached ones (both relative to the report folder), in the expected order. */
export function missingPages(expected: string[], reached: string[]): string[] {
  const got = new Set(reached);
  return expected.filter((h) => !got.has(h));
}

export async function checkReportInBrowser(indexHtml: string, opts: { expectedPages?: ExpectedPage[]; screenshotsDir?: string; timeoutMs?: number } = {}): Promise<BrowserCheck> {
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
  const indexUrl = pathToFileURL(resolve(indexHtml)).href;
  const rootUrl = pathToFileURL(dirname(resolve(indexHtml))).href + '/';
  const hrefOf = (url: string) => url.slice(rootUrl.length);
  try {
    const visit = async (url: string): Promise<{ check: PageCheck; links: string[] }> => {
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
      const href = hrefOf(url);
      let screenshot: string | undefined;
      if (opts.screenshotsDir) {
        screenshot = join(opts.screenshotsDir, `${href.split('/').pop()!.replace(/\.html$/, '')}.png`);
        await page.screenshot({ path: screenshot, fullPage: true });
      }
      const title = await page.title();
      await page.close();
      return { check: { url, href, title, consoleErrors, failedRequests, figures, screenshot }, links };
    };
    // Breadth-first over the report's own links, so a page only the pager or nav bar leads to still counts.
    const seen = new Set<string>([indexUrl]);
    const queue: { url: string; from: string }[] = [];
    const brokenLinks: string[] = [];
    const enqueue = (links: string[], from: string) => {
      for (const u of reportLinks(links, rootUrl)) {
        if (seen.has(u)) continue;
        seen.add(u);
        if (existsSync(fileURLToPath(u))) queue.push({ url: u, from });
        else brokenLinks.push(`${from} -> ${hrefOf(u)}`);
      }
    };
    const first = await visit(indexUrl);
    enqueue(first.links, first.check.href);
    const pages: PageCheck[] = [];
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { check, links } = await visit(next.url);
      pages.push(check);
      enqueue(links, check.href);
    }
    const expected = opts.expectedPages ?? [];
    const unreachable = missingPages(expected.map((e) => e.href), pages.map((p) => p.href));
    return { index: first.check, pages, expected, unreachable, brokenLinks };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** Problems found by a browser check, as readable lines (empty when the report is fine). */
export function browserProblems(check: BrowserCheck): string[] {
  const problems: string[] = [];
  for (const p of [check.index, ...check.pages]) {
    for (const e of p.consoleErrors) problems.push(`${p.href}: console error: ${e}`);
    for (const r of p.failedRequests) problems.push(`${p.href}: failed request: ${r}`);
    for (const f of p.figures) if (f.traces === 0) problems.push(`${p.href}: plotly figure ${f.id} has no drawn traces`);
  }
  for (const h of check.unreachable) problems.push(`${h}: not reachable from the index`);
  for (const l of check.brokenLinks) problems.push(`broken link: ${l}`);
  for (const e of check.expected) {
    const page = check.pages.find((p) => p.href === e.href);
    if (page && e.figures !== undefined && page.figures.length !== e.figures) {
      problems.push(`${e.href}: ${page.figures.length} plotly figures on the page, the notebook's outputs hold ${e.figures}`);
    }
  }
  if (check.pages.length === 0) problems.push('index links to no other page');
  return problems;
}
