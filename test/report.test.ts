// The report without a browser: the renderer on a fixture notebook with stored outputs of every kind, table/plot HTML
// helpers, table status from run records, the "# Params" columns, the Quarto config and the shipped notebooks' shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as tf from '@tensorflow/tfjs';
import { renderReport, stripAnsi, markdownHtml } from '../lib/report/render.ts';
import { dataFrameHtml, rowsHtml, rawHtml, badgeHtml, formatValue } from '../lib/report/tables.ts';
import { figureHtml, lineFigure, plotlyBundlePath } from '../lib/report/plots.ts';
import { experimentStatus, profileWithRecords, asPercent } from '../lib/report/overview.ts';
import { learningCurveFigures, paramsTable } from '../lib/report/architecture.ts';
import { cellSource, declaredParameters, hasTag, readNotebook } from '../lib/report/notebook.ts';
import { listNotebooks, REPO_ROOT } from '../lib/report/paths.ts';
import { PARAM_DISCREPANCIES, TABLE4 } from '../lib/paper/tables.ts';
import type { RunRecord } from '../lib/runRecord.ts';

const FIXTURES = new URL('./fixtures/notebooks/', import.meta.url).pathname;

test('renderer: index + page with math, highlighted code, escaped ANSI-free streams, HTML/PNG/plotly outputs, assets', () => {
  const out = mkdtempSync(join(tmpdir(), 'convmixer-render-'));
  try {
    const res = renderReport([join(FIXTURES, 'outputs.ipynb'), join(FIXTURES, 'tiny.ipynb')], out);
    assert.deepEqual(res.pages.map((p) => [p.href, p.title]), [['pages/outputs.html', 'Rendering fixture'], ['pages/tiny.html', 'Tiny fixture']]);
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

test('experimentStatus: paper values matched by architecture, delta, badges by profile, untouched tables listed as not yet', () => {
  const paper128 = TABLE4.find((r) => r.width === 128 && r.depth === 4)!.accuracy; // 91.26, reference value
  const rows = experimentStatus([
    record({ id: 'a', testAcc: 0.9, startedAt: '2026-01-02T00:00:00Z' }),
    record({ id: 'old', testAcc: 0.5, startedAt: '2026-01-01T00:00:00Z' }), // same row and profile, older: hidden
    record({ id: 'b', profile: 'quick', testAcc: 0.6 }),
    record({ id: 'c', experiment: 'cifar10-demo', profile: 'quick', testAcc: 0.42, model: { dim: 128, depth: 4, kernelSize: 5, patchSize: 2 }, config: { modelName: 'convmixer_128_4' } }),
    record({ id: 'd', kind: 'bench', experiment: 'table1' }),
  ]);
  const byExp = (e: string) => rows.filter((r) => r.experiment === e);
  assert.deepEqual(byExp('table4').map((r) => [r.runId, r.row, r.profile, r.status]), [['a', 'ConvMixer-128/4 k8 p1', 'paper', 'close'], ['b', 'ConvMixer-128/4 k8 p1', 'quick', 'partial']]);
  const a = byExp('table4')[0]!;
  assert.equal(a.paper, paper128);
  assert.ok(Math.abs(a.reproduced! - 90) < 1e-9);
  assert.ok(Math.abs(a.delta! - (90 - paper128)) < 1e-9);
  assert.deepEqual(byExp('cifar10-demo').map((r) => [r.row, r.paper, r.status]), [['convmixer_128_4', null, 'partial']]);
  for (const e of ['table1', 'table2', 'table3']) assert.deepEqual(byExp(e).map((r) => r.status), ['not yet']);
  assert.equal(asPercent(0.9512), 95.12);
  assert.equal(asPercent(null), null);
  assert.equal(profileWithRecords([]), 'smoke');
  assert.equal(profileWithRecords([record({ profile: 'quick' }), record({ profile: 'paper', status: 'failed' })]), 'quick');
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

test('_quarto.yml parses and renders every shipped notebook with plotly.js bundled locally', () => {
  const cfg = parseYaml(readFileSync(join(REPO_ROOT, '_quarto.yml'), 'utf8')) as { project: { render: string[]; resources: string[]; 'output-dir': string }; execute: { enabled: boolean }; format: { html: { 'include-in-header': { text: string }[] } } };
  const shipped = listNotebooks().map((p) => `notebooks/${basename(p)}`);
  assert.ok(shipped.length >= 2);
  assert.deepEqual([...cfg.project.render].sort(), shipped.sort());
  assert.equal(cfg.execute.enabled, false);
  assert.notEqual(cfg.project['output-dir'], 'reports');
  for (const r of cfg.project.resources) assert.ok(statSync(join(REPO_ROOT, r)).isFile(), r);
  const header = cfg.format.html['include-in-header'].map((h) => h.text).join('\n');
  const src = /<script src="\.\.\/([^"]+)"><\/script>/.exec(header)?.[1];
  assert.ok(src && cfg.project.resources.includes(src), 'the header loads a bundled resource');
});

test('shipped notebooks: tslab kernel, a parameters cell with profile, the library imported, no model or training code', () => {
  for (const path of listNotebooks()) {
    const nb = readNotebook(path);
    assert.equal((nb.metadata.kernelspec as { name: string }).name, 'tslab', path);
    const params = nb.cells.filter((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
    assert.equal(params.length, 1, path);
    assert.ok(declaredParameters(cellSource(params[0]!)).includes('profile'), path);
    const code = nb.cells.filter((c) => c.cell_type === 'code').map(cellSource).join('\n');
    assert.match(code, /require\('\.\.\/lib\/index\.ts'\)/, path);
    assert.doesNotMatch(code, /tf\.(conv2d|depthwiseConv2d|variableGrads|train\.)|class \w+|new AdamW|createAdamW/, path);
  }
});
