// The report without a browser: the renderer on a fixture notebook with stored outputs of every kind, table/plot HTML
// helpers, table status from run records, the "# Params" columns, the Quarto config and the shipped notebooks' shape.
import { QUICK_CIFAR_PROTOCOL } from '../lib/experiments/protocol.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { runInNewContext } from 'node:vm';
import { parse as parseYaml } from 'yaml';
import * as tf from '@tensorflow/tfjs';
import { renderReport, stripAnsi, markdownHtml, notebookFigureCount } from '../lib/report/render.ts';
import { dataFrameHtml, rowsHtml, rawHtml, badgeHtml, formatValue } from '../lib/views/tables.ts';
import { drawScript, figureHtml, lineFigure, plotlyBundlePath, PLOTLY_MISSING_MESSAGE } from '../lib/views/plots.ts';
import { experimentStatus, profileWithRecords, asPercent, BADGE_THRESHOLDS, badgeRuleMarkdown, statusOf } from '../lib/views/overview.ts';
import { learningCurveFigures, paperInputSize, paramsTable } from '../lib/views/architecture.ts';
import { missingPages, reportLinks } from '../lib/report/browser.ts';
import { cellSource, declaredParameters, hasTag, readNotebook } from '../lib/notebooks/ipynb.ts';
import { listNotebooks, REPO_ROOT } from '../lib/notebooks/paths.ts';
import { PARAM_DISCREPANCIES, TABLE4 } from '../lib/paper/tables.ts';
import { MODELS } from '../lib/models/convmixer.ts';
import type { RunRecord } from '../lib/runRecord.ts';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('./fixtures/notebooks/', import.meta.url));

test('renderer: index + page with math, highlighted code, escaped ANSI-free streams, HTML/PNG/plotly outputs, assets', () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-render-'));
  try {
    const res = renderReport([join(FIXTURES, 'outputs.ipynb'), join(FIXTURES, 'tiny.ipynb')], out);
    assert.deepEqual(res.pages.map((p) => [p.href, p.title, p.figures]), [['pages/outputs.html', 'Rendering fixture', 3], ['pages/tiny.html', 'Tiny fixture', 0]]);
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(index, /<a href="pages\/outputs\.html">Rendering fixture<\/a>/);
    assert.match(index, /<a href="pages\/tiny\.html">Tiny fixture<\/a>/);
    assert.match(index, /executed 2026-01-01T00:00:00\.000Z, parameters \{&quot;profile&quot;:&quot;smoke&quot;\}/);
    const page = readFileSync(join(out, 'pages', 'outputs.html'), 'utf8');
    // Inline and display math through KaTeX (no raw dollars left), code through highlight.js.
    assert.ok((page.match(/class="katex"/g) ?? []).length >= 2);
    assert.doesNotMatch(page, /\$d\[/);
    assert.match(page, /<span class="hljs-keyword">const<\/span> <span class="hljs-attr">profile<\/span>/);
    // Streams: ANSI codes stripped, HTML escaped; stderr marked; error output with traceback.
    assert.match(page, /<pre class="output stream stdout">green &lt;b&gt;not bold&lt;\/b&gt;\n<\/pre>/);
    assert.doesNotMatch(page, /\u001b/);
    assert.match(page, /<pre class="output stream stderr">a warning\n<\/pre>/);
    assert.match(page, /<pre class="output error">Error: x &lt; y\n    at &lt;cell&gt;<\/pre>/);
    // Rich outputs: raw HTML table, PNG as a data URI, plotly figures (text/html and the plotly JSON mime type).
    assert.match(page, /<td>convmixer_128_4<\/td><td class="num">103,000<\/td><td><span class="badge badge-matches">matches<\/span><\/td>/);
    assert.match(page, /<img alt="figure" src="data:image\/png;base64,iVBORw0KGgo/);
    assert.equal((page.match(/class="plotly-figure"/g) ?? []).length, 3);
    assert.match(page, /<script src="\.\.\/assets\/plotly\.min\.js"><\/script>/);
    // Navigation between notebooks.
    assert.match(page, /<a href="\.\.\/pages\/tiny\.html">Tiny fixture &rarr;<\/a>/);
    assert.match(page, /<a href="\.\.\/index\.html"/);
    // Assets copied (plotly bundled locally, KaTeX CSS and fonts).
    assert.equal(statSync(join(out, 'assets', 'plotly.min.js')).size, statSync(plotlyBundlePath()).size);
    assert.ok(statSync(join(out, 'assets', 'katex', 'fonts', 'KaTeX_Main-Regular.woff2')).size > 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('markdown: $...$ is math, prices and code spans are not', () => {
  assert.match(markdownHtml('a $x^2$ b'), /<p>a <span class="katex">/);
  assert.equal(markdownHtml('costs $5 and $6'), '<p>costs $5 and $6</p>\n');
  assert.equal(markdownHtml('`$x$`'), '<p><code>$x$</code></p>\n');
  assert.equal(stripAnsi('\u001b[1;31mred\u001b[0m plain'), 'red plain');
});

test('dataFrameHtml renders a danfojs DataFrame (values, escaping, raw badge cells)', async () => {
  const dfd = (await import('danfojs-node')) as unknown as { DataFrame: new (rows: unknown[]) => { columns: string[]; values: unknown[][]; index: number[] } };
  const df = new dfd.DataFrame([{ name: 'a<b', acc: 95.884, n: 1234567, s: rawHtml(badgeHtml('partial')) }, { name: 'c', acc: 12.5, n: 2, s: 'x' }]);
  const html = dataFrameHtml(df, { digits: 2 });
  assert.equal(html, '<table class="data-table"><thead><tr><th>name</th><th>acc</th><th>n</th><th>s</th></tr></thead><tbody>\n' +
    '<tr><td>a&lt;b</td><td class="num">95.88</td><td class="num">1,234,567</td><td><span class="badge badge-partial">partial</span></td></tr>\n' +
    '<tr><td>c</td><td class="num">12.5</td><td class="num">2</td><td>x</td></tr>\n</tbody></table>');
  assert.equal(rowsHtml([{ a: null }]), '<table class="data-table"><thead><tr><th>a</th></tr></thead><tbody>\n<tr><td>—</td></tr>\n</tbody></table>');
  assert.equal(formatValue(Number.NaN), '—');
});

test('figureHtml: a div and a script whose JSON cannot close the script element; headless runs do not inline plotly.js', () => {
  const html = figureHtml(lineFigure([{ name: '</script><b>', x: [1], y: [2] }]), { id: 'f1', inlineBundle: false });
  assert.match(html, /^<div class="plotly-figure" id="f1" style="width:100%;height:360px"><\/div>\n<script>/);
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.match(html, /\\u003c\/script>\\u003cb>/);
  const prev = process.env.CONVMIXER_NOTEBOOK_HEADLESS;
  process.env.CONVMIXER_NOTEBOOK_HEADLESS = '1';
  try {
    assert.ok(figureHtml(lineFigure([])).length < 2000);
  } finally {
    if (prev === undefined) delete process.env.CONVMIXER_NOTEBOOK_HEADLESS;
    else process.env.CONVMIXER_NOTEBOOK_HEADLESS = prev;
  }
});

/** Runs a figure's draw script against a minimal page: what it drew, what the div says, whether it waits for 'load'. */
function runDrawScript(script: string, page: { plotly: boolean; readyState: 'loading' | 'interactive' | 'complete' }) {
  const div = { textContent: '' };
  const drawn: string[] = [];
  const listeners: (() => void)[] = [];
  const window: Record<string, unknown> = {
    addEventListener: (type: string, fn: () => void) => { if (type === 'load') listeners.push(fn); },
  };
  if (page.plotly) window.Plotly = { newPlot: (id: string) => drawn.push(id) };
  const document = { readyState: page.readyState, getElementById: (id: string) => (id === 'f1' ? div : null) };
  runInNewContext(script, { window, document, Plotly: window.Plotly });
  return { drawn, message: () => div.textContent, waitsForLoad: listeners.length, fireLoad: () => listeners.forEach((fn) => fn()) };
}

test('drawScript: draws when plotly.js is there, waits for load while loading, says so at once on a loaded page without it', () => {
  const script = drawScript('f1', { data: [{ x: [1], y: [2] }], layout: {} });
  assert.deepEqual(runDrawScript(script, { plotly: true, readyState: 'complete' }).drawn, ['f1']);
  // A stored output opened in Jupyter: the page loaded long ago and nothing provides plotly.js.
  const stored = runDrawScript(script, { plotly: false, readyState: 'complete' });
  assert.deepEqual([stored.drawn, stored.message(), stored.waitsForLoad], [[], PLOTLY_MISSING_MESSAGE, 0]);
  assert.match(PLOTLY_MISSING_MESSAGE, /^plotly\.js is not loaded: restart the kernel and run all cells/);
  // A rendered page still parsing: the bundle in <head> may still arrive, so wait for 'load'.
  const loading = runDrawScript(script, { plotly: false, readyState: 'interactive' });
  assert.deepEqual([loading.drawn, loading.message(), loading.waitsForLoad], [[], '', 1]);
  loading.fireLoad();
  assert.equal(loading.message(), PLOTLY_MISSING_MESSAGE);
});

function record(over: Partial<RunRecord> & { testAcc?: number; model?: Record<string, unknown> }): RunRecord {
  const { testAcc, model, ...rest } = over;
  return {
    version: 1, id: 'r', kind: 'train', experiment: 'table4', profile: 'paper', seed: 0,
    config: { model: model ?? { dim: 128, depth: 4, kernelSize: 8, patchSize: 1 }, modelName: null }, backend: 'cpu',
    machine: { cpuModel: 'x', cores: 2, memoryGiB: 1, platform: 'linux', arch: 'x64', node: 'v20', gpu: null },
    gitCommit: 'abc', gitDirty: false, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T01:00:00Z', wallTimeSec: 3600,
    status: 'finished', metrics: { testAcc: testAcc ?? null }, epochs: [{ epoch: 1, testAcc: testAcc ?? 0 }], ...rest,
  };
}

test('experimentStatus: table rows matched by table and row id (never by architecture), mean over seeds, shared runs, delta, badges by profile, untouched tables listed as not yet', () => {
  const paper128 = TABLE4.find((r) => r.width === 128 && r.depth === 4)!.accuracy; // 91.26, reference value
  const wd = TABLE4.filter((r) => r.section === 'weight decay adjustments'); // five rows, one architecture
  const rows = experimentStatus([
    record({ id: 'a', table: 'table4', row: 'w128-d4', testAcc: 0.9, startedAt: '2026-01-02T00:00:00Z' }),
    record({ id: 'old', table: 'table4', row: 'w128-d4', seed: 1, testAcc: 0.5, startedAt: '2026-01-01T00:00:00Z' }), // the row's second seed
    record({ id: 'b', table: 'table4', row: 'w128-d4', profile: 'quick', testAcc: 0.6 }),
    // same architecture (256/8 k9 p1), different rows: told apart by their row ids
    record({ id: 'wd2', table: 'table4', row: 'wd2-p1', profile: 'quick', testAcc: 0.7, model: { dim: 256, depth: 8, kernelSize: 9, patchSize: 1 } }),
    record({ id: 'wd4', table: 'table4', row: 'wd4-p1', profile: 'quick', testAcc: 0.71, model: { dim: 256, depth: 8, kernelSize: 9, patchSize: 1 } }),
    // a table4 record without a row id is not guessed into a row from its architecture
    record({ id: 'guess', profile: 'smoke', testAcc: 0.3 }),
    // a run of Table 3's baseline at quick is the pilot's baseline run at the quick protocol's budget: Table 3 reports it
    record({ id: 'pb', experiment: 'pilot', table: 'pilot', row: `baseline-e${QUICK_CIFAR_PROTOCOL.epochs}`, profile: 'quick', testAcc: 0.3 }),
    record({ id: 'c', experiment: 'cifar10-demo', profile: 'quick', testAcc: 0.42, model: { dim: 128, depth: 4, kernelSize: 5, patchSize: 2 }, config: { modelName: 'convmixer_128_4' } }),
    record({ id: 'd', kind: 'bench', experiment: 'table1' }),
    // segmentation rows report their mean IoU (the table's primary metric); the seed's values are not accuracies
    record({ id: 'su', experiment: 'segmentation', table: 'segmentation', row: 'unet', profile: 'quick', metrics: { testMIoU: 0.31 } }),
    // detection rows report their test mAP@0.5; the seed printed none
    record({ id: 'dq', experiment: 'detection', table: 'detection', row: 'yolo-convmixer', profile: 'quick', metrics: { testMAP: 0.042 } }),
  ]);
  const byExp = (e: string) => rows.filter((r) => r.experiment === e);
  const k9 = TABLE4.find((r) => r.section === 'kernel adjustments' && r.kernelSize === 9)!.accuracy;
  assert.deepEqual(byExp('table4').map((r) => [r.runId, r.row, r.profile, r.status, r.paper]), [
    ['b', 'ConvMixer-128/4 p1 k8 (mean of 1 seed)', 'quick', 'partial', paper128],
    // the pilot's baseline at the quick budget is the quick run of the kernel-9 row and of the weight-decay-0 row
    ['pb', 'ConvMixer-256/8 p1 k9 (mean of 1 seed)', 'quick', 'partial', k9], ['pb', 'ConvMixer-256/8 p1 k9, wd 0 (mean of 1 seed)', 'quick', 'partial', wd[0]!.accuracy],
    ['wd2', 'ConvMixer-256/8 p1 k9, wd 0.01 (mean of 1 seed)', 'quick', 'partial', wd[1]!.accuracy], ['wd4', 'ConvMixer-256/8 p1 k9, wd 0.05 (mean of 1 seed)', 'quick', 'partial', wd[3]!.accuracy],
    ['a', 'ConvMixer-128/4 p1 k8 (mean of 2 seeds)', 'paper', 'differs', paper128],
  ]);
  // the mean over seeds: (90 + 50) / 2
  const a = byExp('table4')[5]!;
  assert.ok(Math.abs(a.reproduced! - 70) < 1e-9);
  assert.ok(Math.abs(a.delta! - (70 - paper128)) < 1e-9);
  assert.deepEqual(byExp('table3').map((r) => [r.runId, r.row, r.reproduced]), [['pb', 'Baseline (mean of 1 seed)', 30]]);
  assert.deepEqual(byExp('pilot').map((r) => [r.runId, r.profile]), [['pb', 'quick']]);
  assert.deepEqual(byExp('cifar10-demo').map((r) => [r.row, r.paper, r.status]), [['convmixer_128_4', null, 'partial']]);
  for (const e of ['table1', 'table2']) assert.deepEqual(byExp(e).map((r) => r.status), ['not yet']);
  assert.deepEqual(byExp('segmentation').map((r) => [r.runId, r.row, r.reproduced, r.paper, r.status]), [['su', 'Unet (mean of 1 seed)', 31, null, 'partial']]);
  assert.deepEqual(byExp('detection').map((r) => [r.runId, r.row, r.reproduced, r.paper, r.status]), [['dq', 'YOLO-ConvMixer (mean of 1 seed)', 4.2, null, 'partial']]);
  assert.equal(asPercent(0.9512), 95.12);
  assert.equal(asPercent(null), null);
  assert.equal(profileWithRecords([]), 'smoke');
  assert.equal(profileWithRecords([record({ profile: 'quick' }), record({ profile: 'paper', status: 'failed' })]), 'quick');
  // bench records (profile 'quick' by construction) do not decide the report's profile
  assert.equal(profileWithRecords([record({ profile: 'smoke' }), record({ kind: 'bench', profile: 'quick' })]), 'smoke');
});

test('paramsTable: printed # Params vs Eq. 4 vs built models; exactly the recorded discrepancies are flagged', async () => {
  await tf.setBackend('cpu');
  const rows = paramsTable({ buildLimit: 400_000, tables: ['Table 4'] });
  assert.equal(rows.length, TABLE4.length);
  const built = rows.filter((r) => r.built !== null);
  assert.ok(built.length >= 4);
  for (const r of built) assert.equal(r.built, r.eq4, r.where);
  const r128 = rows.find((r) => r.model === 'convmixer_128_4')!;
  assert.deepEqual([r128.printed, r128.eq4, r128.eq4AsPrinted, r128.status], ['103K', 128 * (4 * (64 + 128 + 6) + 3 + 10 + 3) + 10, '103K', 'matches']);
  const all = paramsTable({ buildLimit: 0 });
  assert.deepEqual(all.filter((r) => r.status === 'discrepancy').map((r) => [r.model, r.printed, r.eq4]).sort(), PARAM_DISCREPANCIES.map((d) => [d.model, d.printed, d.computed]).sort());
});

test('learningCurveFigures: one trace per run with records, accuracy in percent, missing evaluations as gaps', () => {
  const run = record({ id: 'demo', experiment: 'cifar10-demo', profile: 'quick', epochs: [{ epoch: 1, trainLoss: 2.1, testAcc: 0.31 }, { epoch: 2, trainLoss: 1.7 }, { epoch: 3, trainLoss: 1.5, testAcc: 0.52 }] });
  const { accuracy, loss } = learningCurveFigures([run, record({ id: 'empty', epochs: [] })]);
  assert.equal(accuracy.data.length, 1);
  assert.equal(accuracy.data[0]!.name, 'demo (quick)');
  assert.deepEqual(accuracy.data[0]!.x, [1, 2, 3]);
  assert.deepEqual(accuracy.data[0]!.y.map((v) => (v === null ? null : Math.round(v * 100) / 100)), [31, null, 52]);
  assert.deepEqual(loss.data[0]!.y, [2.1, 1.7, 1.5]);
});

test('paperInputSize: the resolutions the paper uses, ImageNet-1k 224 and CIFAR-10 32; other class counts are an error', () => {
  assert.equal(paperInputSize(MODELS.convmixer_1536_20!), 224);
  assert.equal(paperInputSize(MODELS.convmixer_256_8!), 32);
  assert.throws(() => paperInputSize({ numClasses: 100 }), /100 classes/);
});

test('badge thresholds: statusOf applies BADGE_THRESHOLDS and the rule sentence prints the same numbers', () => {
  const rec = record({});
  const at = (delta: number) => statusOf(rec, delta);
  assert.deepEqual([at(BADGE_THRESHOLDS.reproduced), at(-BADGE_THRESHOLDS.reproduced - 0.01), at(BADGE_THRESHOLDS.close), at(BADGE_THRESHOLDS.close + 0.01)], ['reproduced', 'close', 'close', 'differs']);
  assert.deepEqual([BADGE_THRESHOLDS.reproduced, BADGE_THRESHOLDS.close], [0.5, 1.5]);
  assert.match(badgeRuleMarkdown(), /\*\*reproduced\*\* within 0\.5 points, \*\*close\*\* within 1\.5, \*\*differs\*\* otherwise/);
  assert.equal(statusOf({ ...rec, profile: 'quick' }, 0), 'partial');
});

test('notebookFigureCount counts plotly figures the way the renderer draws them (text/html divs and the plotly JSON type)', () => {
  assert.equal(notebookFigureCount(readNotebook(join(FIXTURES, 'outputs.ipynb'))), 3);
  assert.equal(notebookFigureCount(readNotebook(join(FIXTURES, 'tiny.ipynb'))), 0);
});

test('reportLinks keeps links to the report\'s own HTML pages (no fragments, once each); missingPages lists the unreached', () => {
  const root = 'file:///r/out/';
  assert.deepEqual(reportLinks([`${root}pages/a.html#x`, `${root}pages/a.html`, `${root}index.html?q=1`, `${root}assets/plotly.min.js`, 'file:///r/other/b.html', 'https://example.org/c.html'], root),
    [`${root}pages/a.html`, `${root}index.html`]);
  assert.deepEqual(missingPages(['pages/a.html', 'pages/b.html', 'pages/c.html'], ['pages/b.html']), ['pages/a.html', 'pages/c.html']);
});

/** Files a Quarto resource entry names: a path, or a '*' glob in its last segment. */
function resourceFiles(pattern: string): string[] {
  const dir = posix.dirname(pattern);
  const last = posix.basename(pattern);
  if (!last.includes('*')) return existsSync(join(REPO_ROOT, pattern)) ? [pattern] : [];
  const re = new RegExp(`^${last.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return readdirSync(join(REPO_ROOT, dir)).filter((f) => re.test(f)).map((f) => `${dir}/${f}`);
}

test('_quarto.yml: a website listing every shipped notebook (navbar, render list, index listing), local plotly.js and KaTeX', () => {
  type Html = { 'include-in-header'?: { text: string }[]; 'html-math-method'?: { method: string; url: string }; 'html-table-processing'?: string };
  const cfg = parseYaml(readFileSync(join(REPO_ROOT, '_quarto.yml'), 'utf8')) as {
    project: { type: string; render: string[]; resources: string[]; 'output-dir': string };
    website: { navbar: { left: { href: string }[] } };
    execute: { enabled: boolean };
    format: { html: Html };
  };
  const shipped = listNotebooks().map((p) => `notebooks/${basename(p)}`);
  assert.ok(shipped.length >= 2);
  assert.equal(cfg.project.type, 'website');
  assert.deepEqual([...cfg.project.render].sort(), ['index.qmd', ...shipped].sort());
  assert.deepEqual(cfg.website.navbar.left.map((i) => i.href).sort(), ['index.qmd', ...shipped].sort());
  assert.equal(cfg.execute.enabled, false);
  assert.notEqual(cfg.project['output-dir'], 'reports');
  assert.equal(cfg.format.html['html-table-processing'], 'none');
  // The index lists the notebooks by glob (nothing retyped) and that glob finds every shipped notebook.
  const index = parseYaml(/^---\n([\s\S]*?)\n---/.exec(readFileSync(join(REPO_ROOT, 'index.qmd'), 'utf8'))![1]!) as { listing: { contents: string } };
  assert.deepEqual(resourceFiles(index.listing.contents).sort(), shipped.sort());
  // Every resource exists; the notebooks' pages load plotly.js and KaTeX from copied resources ('../' = project root).
  const copied = new Set(cfg.project.resources.flatMap((r) => {
    const files = resourceFiles(r);
    assert.ok(files.length > 0, `resource ${r} matches no file`);
    return files;
  }));
  const nbHtml = (parseYaml(readFileSync(join(REPO_ROOT, 'notebooks', '_metadata.yml'), 'utf8')) as { format: { html: Html } }).format.html;
  const fromNotebooks = (rel: string) => posix.normalize(posix.join('notebooks', rel));
  const plotlySrc = /<script src="([^"]+)"><\/script>/.exec(nbHtml['include-in-header']!.map((h) => h.text).join('\n'))![1]!;
  assert.ok(copied.has(fromNotebooks(plotlySrc)), `${plotlySrc} is a copied resource`);
  assert.equal(nbHtml['html-math-method']!.method, 'katex');
  const katexDir = fromNotebooks(nbHtml['html-math-method']!.url);
  for (const f of ['katex.min.js', 'katex.min.css']) assert.ok(copied.has(posix.join(katexDir, f)), `${f} is a copied resource`);
  // The fonts katex.min.css asks for first (woff2) are copied too.
  const css = readFileSync(join(REPO_ROOT, katexDir, 'katex.min.css'), 'utf8');
  for (const m of css.matchAll(/url\((fonts\/[^)]+\.woff2)\)/g)) assert.ok(copied.has(posix.join(katexDir, m[1]!)), m[1]);
});

test('shipped notebooks: tslab kernel, a parameters cell with profile, the library imported, no model or training code', () => {
  assert.match(readFileSync(join(REPO_ROOT, 'lib/views/notebookSetup.cjs'), 'utf8'), /suite: require\('\.\.\/index\.ts'\)/);
  for (const path of listNotebooks()) {
    const nb = readNotebook(path);
    assert.equal((nb.metadata.kernelspec as { name: string }).name, 'tslab', path);
    const params = nb.cells.filter((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
    assert.equal(params.length, 1, path);
    assert.ok(declaredParameters(cellSource(params[0]!)).includes('profile'), path);
    const code = nb.cells.filter((c) => c.cell_type === 'code').map(cellSource).join('\n');
    // the library through the one set-up helper, which loads lib/index.ts
    assert.match(code, /require\('\.\.\/lib\/views\/notebookSetup\.cjs'\)/, path);
    assert.doesNotMatch(code, /tf\.(conv2d|depthwiseConv2d|variableGrads|train\.)|class \w+|new AdamW|createAdamW/, path);
    // Values that live in the library are printed from it, not retyped (input sizes, badge thresholds).
    const text = nb.cells.map(cellSource).join('\n');
    assert.doesNotMatch(text, /\b(224|0\.5|1\.5)\b/, path);
  }
});

test('convmixer report: run records that are not valid are named (one line each, and on the index page), not fatal', () => {
  const results = mkdtempSync(join(tmpdir(), 'convmixer-results-'));
  const out = mkdtempSync(join(tmpdir(), 'convmixer-render-'));
  try {
    writeFileSync(join(results, 'null-record.json'), 'null');
    writeFileSync(join(results, 'half-record.json'), JSON.stringify({ id: 'half', kind: 'train' }));
    const res = spawnSync(process.execPath, ['bin/convmixer.mjs', 'report', '--no-run', '--out', out, '--results-dir', results], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stderr.trim().split('\n').filter((l) => l.includes('skipped'));
    assert.equal(lines.length, 2, res.stderr);
    for (const name of ['null-record.json', 'half-record.json']) {
      assert.equal(lines.filter((l) => l.startsWith('report: skipped ') && l.includes(name) && l.includes('not a valid run record')).length, 1, res.stderr);
    }
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(index, /Skipped run records/);
    assert.match(index, /null-record\.json/);
    assert.match(index, /half-record\.json/);
    // --results-dir only names the records to check: the notebooks always read reports/results
    const refused = spawnSync(process.execPath, ['bin/convmixer.mjs', 'report', '--out', out, '--results-dir', results], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(refused.status, 2);
  } finally {
    rmSync(results, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('convmixer report: --results-dir or --out naming a file (or a missing results folder) is one line naming the flag, nothing rendered', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'convmixer-report-flags-'));
  try {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'not a folder\n');
    const results = join(tmp, 'results');
    mkdirSync(results);
    const out = join(tmp, 'out');
    const cases: [string[], RegExp][] = [
      [['--results-dir', file, '--out', out], /^convmixer report: --results-dir .*a-file: not a folder/],
      [['--results-dir', '/dev/null', '--out', out], /^convmixer report: --results-dir \/dev\/null: not a folder/],
      [['--results-dir', join(tmp, 'missing'), '--out', out], /^convmixer report: --results-dir .*missing: no such folder/],
      [['--results-dir', results, '--out', file], /^convmixer report: --out .*a-file: not a writable folder/],
    ];
    for (const [flags, pattern] of cases) {
      const res = spawnSync(process.execPath, ['bin/convmixer.mjs', 'report', '--no-run', ...flags], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
      assert.equal(res.status, 2, `${flags.join(' ')}: ${res.stderr}`);
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${flags.join(' ')}: expected one line, got:\n${res.stderr}`);
      assert.match(lines[0]!, pattern);
    }
    assert.equal(readFileSync(file, 'utf8'), 'not a folder\n');
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('renderReport lists no skipped-records section when none were skipped', () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-render-'));
  try {
    renderReport([join(FIXTURES, 'tiny.ipynb')], out, { git: { commit: 'abc', dirty: false } });
    assert.doesNotMatch(readFileSync(join(out, 'index.html'), 'utf8'), /Skipped run records/);
    renderReport([join(FIXTURES, 'tiny.ipynb')], out, { git: { commit: 'abc', dirty: false }, skipped: [{ file: 'a<b.json', reason: 'not JSON' }] });
    assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /Skipped run records[\s\S]*<code>a&lt;b\.json<\/code>: not JSON/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
