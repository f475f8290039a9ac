// The rendered report in a real browser (headless Chromium via playwright-core), from notebooks with stored outputs
// so no kernel runs: no console errors or failed requests, every plotly figure drawn with its SVG traces, every
// notebook page reachable from the index (also through nav bars and pagers only), broken links reported,
// screenshots written. Runs on the fixtures and on the shipped notebooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport, type RenderResult } from '../lib/report/render.ts';
import { readNotebook } from '../lib/notebooks/ipynb.ts';
import { browserProblems, checkReportInBrowser, chromiumAvailable, CHROMIUM_PATH } from '../lib/report/browser.ts';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('./fixtures/notebooks/', import.meta.url));
const NOTEBOOKS = fileURLToPath(new URL('../notebooks/', import.meta.url));
const skip = chromiumAvailable() ? false : `Chromium not found at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH); browser check skipped`;

const expectedOf = (rendered: RenderResult) => rendered.pages.map((p) => ({ href: p.href, figures: p.figures }));

/** Plotly figure divs in a notebook's stored text/html outputs, counted straight from the JSON. */
function storedFigureDivs(path: string): number {
  let n = 0;
  for (const c of readNotebook(path).cells) {
    for (const o of c.outputs ?? []) {
      const html = 'data' in o ? o.data['text/html'] : undefined;
      if (html !== undefined) n += ((Array.isArray(html) ? html.join('') : String(html)).match(/class="plotly-figure"/g) ?? []).length;
    }
  }
  return n;
}

test('rendered fixtures in headless Chromium: pages reachable, no console errors, plotly traces drawn', { skip, timeout: 90_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-browser-'));
  try {
    const rendered = renderReport([join(FIXTURES, 'outputs.ipynb'), join(FIXTURES, 'tiny.ipynb')], out);
    assert.deepEqual(expectedOf(rendered), [{ href: 'pages/outputs.html', figures: 3 }, { href: 'pages/tiny.html', figures: 0 }]);
    const check = await checkReportInBrowser(rendered.index, { expectedPages: expectedOf(rendered), screenshotsDir: join(out, 'screenshots') });
    assert.deepEqual(browserProblems(check), []);
    assert.deepEqual(check.pages.map((p) => [p.href, p.title]), [['pages/outputs.html', 'Rendering fixture'], ['pages/tiny.html', 'Tiny fixture']]);
    const outputsPage = check.pages.find((p) => p.title === 'Rendering fixture')!;
    // line figure: 1 trace; grouped bar: 2 traces; plotly JSON mime output: 1 trace.
    assert.deepEqual(outputsPage.figures.map((f) => f.traces), [1, 2, 1]);
    for (const p of [check.index, ...check.pages]) {
      assert.deepEqual(p.consoleErrors, [], p.url);
      assert.ok(statSync(p.screenshot!).size > 1000, `screenshot of ${p.url}`);
    }

    // An index that links only to the first page (plus a dead link): the second is still reached through the first
    // page's nav bar and pager; the dead link and a page nothing links to are reported.
    const index = readFileSync(rendered.index, 'utf8').replace(/<a href="pages\/tiny\.html"[^>]*>.*?<\/a>/g, '');
    assert.doesNotMatch(index, /pages\/tiny\.html/);
    writeFileSync(rendered.index, index.replace('</main>', '<a href="pages/gone.html">gone</a></main>'));
    const partial = await checkReportInBrowser(rendered.index, { expectedPages: [...expectedOf(rendered), { href: 'pages/orphan.html' }] });
    assert.deepEqual(partial.pages.map((p) => p.href), ['pages/outputs.html', 'pages/tiny.html']);
    assert.deepEqual(partial.unreachable, ['pages/orphan.html']);
    assert.deepEqual(partial.brokenLinks, ['index.html -> pages/gone.html']);
    assert.deepEqual(browserProblems(partial), ['pages/orphan.html: not reachable from the index', 'broken link: index.html -> pages/gone.html']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('shipped notebooks rendered from their stored outputs: every page reached, no console errors, every figure drawn', { skip, timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-browser-shipped-'));
  try {
    const notebooks = ['00-overview.ipynb', '01-architecture.ipynb'].map((n) => join(NOTEBOOKS, n));
    const rendered = renderReport(notebooks, out);
    const stored = notebooks.map(storedFigureDivs);
    assert.deepEqual(rendered.pages.map((p) => p.figures), stored);
    assert.ok(stored.reduce((a, b) => a + b, 0) > 0, 'the shipped notebooks store at least one figure');
    const check = await checkReportInBrowser(rendered.index, { expectedPages: expectedOf(rendered) });
    assert.deepEqual(browserProblems(check), []);
    assert.deepEqual(check.pages.map((p) => p.href), ['pages/00-overview.html', 'pages/01-architecture.html']);
    assert.deepEqual(check.unreachable, []);
    for (const [i, p] of check.pages.entries()) {
      assert.deepEqual(p.consoleErrors, [], p.href);
      assert.equal(p.figures.length, stored[i], `${p.href}: figures on the page`);
      for (const f of p.figures) assert.ok(f.traces > 0, `${p.href}: figure ${f.id} drawn`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
