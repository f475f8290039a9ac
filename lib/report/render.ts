// The built-in renderer: executed .ipynb files -> static HTML under reports/ (index.html, pages/*.html, assets/*).
// Markdown with math (marked + KaTeX), highlighted code (highlight.js), escaped text/stream/error outputs with ANSI
// codes stripped, HTML/PNG/SVG outputs, plotly figures drawn by the locally bundled plotly.js. Works offline.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Marked, type TokenizerAndRendererExtension } from 'marked';
import katex from 'katex';
import hljs from 'highlight.js/lib/core';
import typescript from 'highlight.js/lib/languages/typescript';
import { atomicWrite } from '../io.ts';
import { gitState, type SkippedRecord } from '../runRecord.ts';
import type { GitProvenance } from '../notebooks/executor.ts';
import { cellSource, hasTag, readNotebook, type Notebook, type NotebookCell } from '../notebooks/ipynb.ts';
import type { NotebookOutput } from '../notebooks/kernel.ts';
import { plotlyBundlePath, scriptSafeJson } from '../views/plots.ts';
import { escapeHtml } from '../views/tables.ts';

hljs.registerLanguage('typescript', typescript);

export interface RenderedPage {
  notebook: string;
  /** Path relative to the output folder, e.g. 'pages/00-overview.html'. */
  href: string;
  title: string;
  summary: string;
  status: string;
  /** Plotly figures in the notebook's stored outputs: what the browser check expects to see drawn. */
  figures: number;
}

export interface RenderResult {
  index: string;
  pages: RenderedPage[];
}

// --- markdown with math ---------------------------------------------------------------------------------------

function tex(src: string, displayMode: boolean): string {
  return katex.renderToString(src, { displayMode, throwOnError: false, output: 'html' });
}

const mathBlock: TokenizerAndRendererExtension = {
  name: 'mathBlock',
  level: 'block',
  start: (src) => src.match(/\$\$/)?.index,
  tokenizer(src) {
    const m = /^\$\$([\s\S]+?)\$\$[^\S\n]*(?:\n|$)/.exec(src);
    return m ? { type: 'mathBlock', raw: m[0], text: m[1]!.trim() } : undefined;
  },
  renderer: (token) => `<div class="math-display">${tex(token.text as string, true)}</div>\n`,
};

const mathInline: TokenizerAndRendererExtension = {
  name: 'mathInline',
  level: 'inline',
  start: (src) => src.match(/\$/)?.index,
  tokenizer(src) {
    const display = /^\$\$([^$]+?)\$\$/.exec(src);
    if (display) return { type: 'mathInline', raw: display[0], text: display[1]!.trim(), display: true };
    // $...$ with no space just inside the dollars, so prices like "$5 and $6" stay text.
    const m = /^\$(?!\s)((?:\\\$|[^$\n])+?)(?<!\s)\$(?!\d)/.exec(src);
    return m ? { type: 'mathInline', raw: m[0], text: m[1]!, display: false } : undefined;
  },
  renderer: (token) => tex(token.text as string, Boolean(token.display)),
};

const markdown = new Marked({ gfm: true });
markdown.use({ extensions: [mathBlock, mathInline] });

export function markdownHtml(src: string): string {
  return markdown.parse(src, { async: false }) as string;
}

// --- outputs ----------------------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

function joined(v: unknown): string {
  return Array.isArray(v) ? v.join('') : String(v ?? '');
}

function plotlyJsonHtml(spec: unknown, id: string): string {
  return `<div class="plotly-figure" id="${id}" style="width:100%;height:400px"></div><script>(function(){var s=${scriptSafeJson(spec)};Plotly.newPlot(${JSON.stringify(id)},s.data,s.layout||{},{responsive:true,displaylogo:false});})();</script>`;
}

let outputCounter = 0;
export function outputHtml(o: NotebookOutput): string {
  switch (o.output_type) {
    case 'stream': {
      const text = stripAnsi(joined(o.text));
      return `<pre class="output stream ${o.name}">${escapeHtml(text)}</pre>`;
    }
    case 'error': {
      // Jupyter tracebacks already start with the message; without one, show 'Name: message'.
      const text = stripAnsi(o.traceback?.length ? o.traceback.join('\n') : `${o.ename}: ${o.evalue}`);
      return `<pre class="output error">${escapeHtml(text)}</pre>`;
    }
    case 'display_data':
    case 'execute_result': {
      const d = o.data;
      if (d['application/vnd.plotly.v1+json']) return `<div class="output html">${plotlyJsonHtml(d['application/vnd.plotly.v1+json'], `plotly-json-${++outputCounter}`)}</div>`;
      if (d['text/html'] !== undefined) return `<div class="output html">${joined(d['text/html'])}</div>`;
      if (d['image/png'] !== undefined) return `<div class="output image"><img alt="figure" src="data:image/png;base64,${joined(d['image/png']).replace(/\s/g, '')}"></div>`;
      if (d['image/svg+xml'] !== undefined) return `<div class="output image">${joined(d['image/svg+xml'])}</div>`;
      if (d['text/markdown'] !== undefined) return `<div class="output markdown">${markdownHtml(joined(d['text/markdown']))}</div>`;
      if (d['text/plain'] !== undefined) return `<pre class="output text">${escapeHtml(stripAnsi(joined(d['text/plain'])))}</pre>`;
      return '';
    }
  }
}

/** Plotly figures an output renders to (mirrors outputHtml: the plotly JSON mime type wins over text/html). */
export function outputFigureCount(o: NotebookOutput): number {
  if (o.output_type !== 'display_data' && o.output_type !== 'execute_result') return 0;
  if (o.data['application/vnd.plotly.v1+json']) return 1;
  if (o.data['text/html'] !== undefined) return (joined(o.data['text/html']).match(/class="plotly-figure"/g) ?? []).length;
  return 0;
}

/** Plotly figures in a notebook's stored outputs. */
export function notebookFigureCount(nb: Notebook): number {
  return nb.cells.reduce((n, c) => n + (c.outputs ?? []).reduce((m, o) => m + outputFigureCount(o), 0), 0);
}

function cellHtml(cell: NotebookCell): string {
  const src = cellSource(cell);
  if (cell.cell_type === 'markdown') return `<section class="cell markdown">${markdownHtml(src)}</section>`;
  if (cell.cell_type === 'raw') return `<section class="cell raw"><pre>${escapeHtml(src)}</pre></section>`;
  const label = hasTag(cell, 'parameters') ? '<span class="cell-tag">parameters</span>' : hasTag(cell, 'injected-parameters') ? '<span class="cell-tag">injected parameters</span>' : '';
  const count = cell.execution_count ?? ' ';
  const code = hljs.highlight(src, { language: 'typescript' }).value;
  const outputs = (cell.outputs ?? []).map(outputHtml).join('\n');
  return `<section class="cell code"><div class="input"><span class="prompt">[${count}]</span>${label}<pre><code class="hljs language-typescript">${code}</code></pre></div>${outputs ? `<div class="outputs">${outputs}</div>` : ''}</section>`;
}

// --- pages ------------------------------------------------------------------------------------------------------

export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== 'markdown') continue;
    const m = /^#\s+(.+)$/m.exec(cellSource(c));
    if (m) return m[1]!.trim();
  }
  return fallback;
}

function notebookSummary(nb: Notebook): string {
  const first = nb.cells.find((c) => c.cell_type === 'markdown');
  if (!first) return '';
  const para = cellSource(first).split(/\n\s*\n/).map((p) => p.trim()).find((p) => p && !p.startsWith('#'));
  return para ?? '';
}

function runStatus(nb: Notebook): string {
  const meta = nb.metadata.convmixer as { executedAt?: string; status?: string; failedCell?: number; parameters?: Record<string, unknown>; gitCommit?: string; gitDirty?: boolean } | undefined;
  if (!meta?.executedAt) return 'not executed by convmixer notebooks run';
  const commit = meta.gitCommit ? `, code ${meta.gitCommit.slice(0, 10)}${meta.gitDirty ? ' (with uncommitted changes)' : ''}` : '';
  const params = `${commit}${meta.parameters && Object.keys(meta.parameters).length ? `, parameters ${JSON.stringify(meta.parameters)}` : ''}`;
  return meta.status === 'failed' ? `FAILED at cell ${meta.failedCell} (run ${meta.executedAt}${params})` : `executed ${meta.executedAt}${params}`;
}

const CSS = `body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
nav.top{background:#24292f;padding:8px 16px;display:flex;flex-wrap:wrap;gap:14px}nav.top a{color:#fff;text-decoration:none}nav.top a.current{font-weight:700;text-decoration:underline}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
.cell{margin:10px 0}.cell.code .input{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:4px 8px;position:relative}
.cell.code pre{margin:0;overflow-x:auto}.prompt{color:#6e7781;font:12px monospace;margin-right:8px}.cell-tag{font-size:11px;background:#ddf4ff;color:#0969da;border-radius:4px;padding:0 6px}
.outputs{padding:4px 8px 4px 36px}.output{margin:4px 0}pre.output{background:#fff;border-left:3px solid #d0d7de;padding:4px 8px;overflow-x:auto;white-space:pre-wrap}
pre.output.stderr{border-color:#d4a72c;background:#fff8c5}pre.output.error{border-color:#cf222e;background:#ffebe9}
footer.pager{display:flex;justify-content:space-between;max-width:1100px;margin:24px auto;padding:0 24px 24px}
.index-list li{margin:10px 0}.meta{color:#57606a;font-size:13px}.math-display{overflow-x:auto}`;

function page(title: string, body: string, opts: { root: string; nav: string; pager?: string }): string {
  const r = opts.root;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${r}assets/katex/katex.min.css">
<link rel="stylesheet" href="${r}assets/hljs-github.min.css">
<link rel="stylesheet" href="${r}assets/report.css">
<script src="${r}assets/plotly.min.js"></script>
</head><body>
${opts.nav}
<main>
${body}
</main>
${opts.pager ?? ''}
</body></html>
`;
}

function navHtml(pages: RenderedPage[], current: string | null, root: string): string {
  const links = [`<a href="${root}index.html"${current === null ? ' class="current"' : ''}>Overview of the report</a>`,
    ...pages.map((p) => `<a href="${root}${p.href}"${current === p.href ? ' class="current"' : ''}>${escapeHtml(p.title)}</a>`)];
  return `<nav class="top">${links.join('')}</nav>`;
}

function copyAssets(outDir: string): void {
  const assets = join(outDir, 'assets');
  const require = createRequire(import.meta.url);
  // Through atomicWrite like every other write, so a killed render never leaves a half-copied plotly.min.js behind.
  const copy = (src: string, dst: string): void => atomicWrite(dst, readFileSync(src));
  copy(plotlyBundlePath(), join(assets, 'plotly.min.js'));
  const katexDist = dirname(require.resolve('katex/dist/katex.min.css'));
  copy(join(katexDist, 'katex.min.css'), join(assets, 'katex', 'katex.min.css'));
  for (const f of readdirSync(join(katexDist, 'fonts'))) if (f.endsWith('.woff2')) copy(join(katexDist, 'fonts', f), join(assets, 'katex', 'fonts', f));
  copy(require.resolve('highlight.js/styles/github.min.css'), join(assets, 'hljs-github.min.css'));
  atomicWrite(join(assets, 'report.css'), CSS);
}

/** The run records the report could not use, named on the index page (they are missing from every table). */
function skippedHtml(skipped: SkippedRecord[]): string {
  if (skipped.length === 0) return '';
  const items = skipped.map((s) => `<li><code>${escapeHtml(s.file)}</code>: ${escapeHtml(s.reason)}</li>`).join('\n');
  return `<section class="skipped-records"><h2>Skipped run records</h2>
<p>${skipped.length} file${skipped.length === 1 ? ' is' : 's are'} not a valid run record and ${skipped.length === 1 ? 'is' : 'are'} left out of every table and figure:</p>
<ul>\n${items}\n</ul></section>
`;
}

/** Renders notebooks (in the given order) into outDir: index.html, pages/<name>.html, assets/. */
export function renderReport(notebooks: string[], outDir: string, opts: { title?: string; git?: GitProvenance; skipped?: SkippedRecord[] } = {}): RenderResult {
  const title = opts.title ?? 'ConvMixer reproduction report';
  copyAssets(outDir);
  const loaded = notebooks.map((path) => ({ path, nb: readNotebook(path) }));
  const pages: RenderedPage[] = loaded.map(({ path, nb }) => {
    const stem = basename(path, '.ipynb');
    return { notebook: path, href: `pages/${stem}.html`, title: notebookTitle(nb, stem), summary: notebookSummary(nb), status: runStatus(nb), figures: notebookFigureCount(nb) };
  });
  loaded.forEach(({ nb }, i) => {
    const p = pages[i]!;
    const prev = pages[i - 1];
    const next = pages[i + 1];
    const pager = `<footer class="pager"><span>${prev ? `<a href="../${prev.href}">&larr; ${escapeHtml(prev.title)}</a>` : `<a href="../index.html">&larr; Overview of the report</a>`}</span>` +
      `<span>${next ? `<a href="../${next.href}">${escapeHtml(next.title)} &rarr;</a>` : ''}</span></footer>`;
    const body = `<p class="meta">Notebook <code>${escapeHtml(basename(p.notebook))}</code> — ${escapeHtml(p.status)}</p>\n${nb.cells.map(cellHtml).join('\n')}`;
    atomicWrite(join(outDir, p.href), page(p.title, body, { root: '../', nav: navHtml(pages, p.href, '../'), pager }));
  });
  const git = opts.git ?? gitState();
  const list = pages.map((p) => `<li><a href="${p.href}">${escapeHtml(p.title)}</a><div>${markdownHtml(p.summary)}</div><div class="meta">${escapeHtml(p.status)}</div></li>`).join('\n');
  const indexBody = `<h1>${escapeHtml(title)}</h1>
<p>Every number in these pages is computed by the suite's code from run records in <code>reports/results/</code>; values from the paper are reference data and are marked as such.</p>
<ol class="index-list">\n${list}\n</ol>
${skippedHtml(opts.skipped ?? [])}<p class="meta">Rendered ${new Date().toISOString()} from commit ${escapeHtml(git.commit.slice(0, 12))}${git.dirty ? ' (with uncommitted changes)' : ''}.</p>`;
  const index = join(outDir, 'index.html');
  atomicWrite(index, page(title, indexBody, { root: '', nav: navHtml(pages, null, '') }));
  return { index, pages };
}
