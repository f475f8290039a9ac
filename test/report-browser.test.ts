// The rendered report in a real browser (headless Chromium via playwright-core), from fixture notebooks with stored
// outputs so no kernel runs: no console errors or failed requests, every plotly figure drawn with its SVG traces,
// every notebook page reachable from the index, screenshots written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../lib/report/render.ts';
import { browserProblems, checkReportInBrowser, chromiumAvailable, CHROMIUM_PATH } from '../lib/report/browser.ts';

const FIXTURES = new URL('./fixtures/notebooks/', import.meta.url).pathname;
const skip = chromiumAvailable() ? false : `Chromium not found at ${CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH); browser check skipped`;

test('rendered report in headless Chromium: pages reachable, no console errors, plotly traces drawn', { skip, timeout: 90_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-browser-'));
  try {
    const rendered = renderReport([join(FIXTURES, 'outputs.ipynb'), join(FIXTURES, 'tiny.ipynb')], out);
    const check = await checkReportInBrowser(rendered.index, { screenshotsDir: join(out, 'screenshots') });
    assert.deepEqual(browserProblems(check), []);
    assert.deepEqual(check.linkedPages.map((u) => u.split('/').slice(-2).join('/')).sort(), ['pages/outputs.html', 'pages/tiny.html']);
    assert.deepEqual(check.pages.map((p) => p.title).sort(), ['Rendering fixture', 'Tiny fixture']);
    const outputsPage = check.pages.find((p) => p.title === 'Rendering fixture')!;
    // line figure: 1 trace; grouped bar: 2 traces; plotly JSON mime output: 1 trace.
    assert.deepEqual(outputsPage.figures.map((f) => f.traces), [1, 2, 1]);
    for (const p of [check.index, ...check.pages]) {
      assert.deepEqual(p.consoleErrors, [], p.url);
      assert.ok(statSync(p.screenshot!).size > 1000, `screenshot of ${p.url}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
