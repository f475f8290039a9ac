// Plotly figures as `text/html` outputs: a div plus a script that draws it with plotly.js. Jupyter, Quarto and
// the built-in renderer all display text/html (Quarto cannot render plotly's own JSON mime type).
// Where plotly.js comes from: rendered pages load the locally bundled copy (reports/assets/plotly.min.js) in
// their <head>; in an interactive Jupyter session the first figure inlines the bundle once (there is no stable
// URL Jupyter would serve it from). Headless runs (the executor sets CONVMIXER_NOTEBOOK_HEADLESS) never inline it,
// so stored notebooks stay small, and their figures, opened in Jupyter, say so instead of staying blank.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface PlotTrace {
  type?: 'scatter' | 'bar';
  mode?: 'lines' | 'markers' | 'lines+markers';
  name?: string;
  x: (number | string)[];
  y: (number | null)[];
  text?: string[];
  hovertemplate?: string;
  [extra: string]: unknown;
}

export interface Figure {
  data: PlotTrace[];
  layout?: Record<string, unknown>;
}

export function plotlyBundlePath(): string {
  return createRequire(import.meta.url).resolve('plotly.js-dist-min/plotly.min.js');
}

let figureCounter = 0;
let bundleInlined = false;

/** Escapes `</script` (and `<!--`) so JSON can sit inside a script element. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Shown in a figure's div when plotly.js is absent once the page has loaded (a stored output opened in Jupyter). */
export const PLOTLY_MISSING_MESSAGE = "plotly.js is not loaded: restart the kernel and run all cells to draw this figure";

/**
 * The script that draws figure `id`: at once when `window.Plotly` exists; else, while the page is still loading,
 * on its 'load' event (the bundle is a plain <script> in the page head). When the page has already loaded and
 * there is no plotly.js (Jupyter showing stored outputs: 'load' fired long ago), the message appears at once.
 */
export function drawScript(id: string, spec: { data: PlotTrace[]; layout: Record<string, unknown> }): string {
  const idJson = JSON.stringify(id);
  return `(function(){var spec=${scriptSafeJson(spec)};` +
    `function draw(){Plotly.newPlot(${idJson},spec.data,spec.layout,{responsive:true,displaylogo:false});}` +
    `function missing(){var d=document.getElementById(${idJson});if(d){d.textContent=${JSON.stringify(PLOTLY_MISSING_MESSAGE)};}}` +
    `if(window.Plotly){draw();}else if(document.readyState==='complete'){missing();}` +
    `else{window.addEventListener('load',function(){if(window.Plotly){draw();}else{missing();}});}})();`;
}

/** The figure as an HTML fragment: its div and the script that draws it (plus, interactively, plotly.js once). */
export function figureHtml(fig: Figure, opts: { id?: string; height?: number; inlineBundle?: boolean } = {}): string {
  figureCounter += 1;
  const height = opts.height ?? 360;
  const layout = { height, margin: { l: 60, r: 20, t: 40, b: 50 }, hovermode: 'closest', ...fig.layout };
  // Deterministic ids (content hash + counter) keep re-executed notebooks diff-stable.
  const id = opts.id ?? `fig-${createHash('sha1').update(JSON.stringify(fig)).digest('hex').slice(0, 10)}-${figureCounter}`;
  const inline = opts.inlineBundle ?? (!process.env.CONVMIXER_NOTEBOOK_HEADLESS && !bundleInlined);
  let bundle = '';
  if (inline) {
    bundleInlined = true;
    // Hide AMD/CommonJS globals (Jupyter's require.js) so the UMD bundle sets window.Plotly.
    bundle = `<script>(function(define, module, exports){${readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/script/gi, '<\\/script')}\n}).call(window);</script>\n`;
  }
  return `${bundle}<div class="plotly-figure" id="${id}" style="width:100%;height:${height}px"></div>\n<script>${drawScript(id, { data: fig.data, layout })}</script>`;
}

/** Line chart of several series over a shared x axis (e.g. accuracy per epoch). */
/** One line per row with a training record: a per-epoch metric of it (null where an epoch lacks it), times scale. */
export function epochSeries(rows: readonly { label: string; train: { epochs?: Record<string, number>[] } | null }[], key: string, scale = 1):
{ name: string; x: number[]; y: (number | null)[] }[] {
  return rows.filter((r) => r.train).map((r) => {
    const epochs = r.train!.epochs ?? [];
    return { name: r.label, x: epochs.map((e) => e['epoch']!), y: epochs.map((e) => (e[key] === undefined ? null : e[key]! * scale)) };
  });
}

export function lineFigure(series: { name: string; x: number[]; y: (number | null)[] }[], opts: { title?: string; xTitle?: string; yTitle?: string; yRange?: [number, number] } = {}): Figure {
  return {
    data: series.map((s) => ({ type: 'scatter', mode: 'lines+markers', name: s.name, x: s.x, y: s.y })),
    layout: {
      title: opts.title ? { text: opts.title } : undefined,
      xaxis: { title: { text: opts.xTitle ?? '' } },
      yaxis: { title: { text: opts.yTitle ?? '' }, ...(opts.yRange ? { range: opts.yRange } : {}) },
    },
  };
}

/** Grouped bar chart: one trace per series over shared category labels. */
export function barFigure(categories: string[], series: { name: string; y: (number | null)[]; text?: string[] }[], opts: { title?: string; yTitle?: string; logY?: boolean } = {}): Figure {
  return {
    data: series.map((s) => ({ type: 'bar', name: s.name, x: categories, y: s.y, text: s.text })),
    layout: {
      barmode: 'group',
      title: opts.title ? { text: opts.title } : undefined,
      yaxis: { title: { text: opts.yTitle ?? '' }, ...(opts.logY ? { type: 'log' } : {}) },
    },
  };
}

/** Scatter of labelled points (e.g. parameters vs accuracy), labels shown on hover. */
export function scatterFigure(points: { label: string; x: number; y: number; group?: string }[], opts: { title?: string; xTitle?: string; yTitle?: string; logX?: boolean; logY?: boolean } = {}): Figure {
  const groups = [...new Set(points.map((p) => p.group ?? ''))];
  return {
    data: groups.map((g) => {
      const ps = points.filter((p) => (p.group ?? '') === g);
      return { type: 'scatter', mode: 'markers', name: g || 'points', x: ps.map((p) => p.x), y: ps.map((p) => p.y), text: ps.map((p) => p.label), hovertemplate: '%{text}<br>%{x}, %{y}<extra></extra>' };
    }),
    layout: {
      title: opts.title ? { text: opts.title } : undefined,
      xaxis: { title: { text: opts.xTitle ?? '' }, ...(opts.logX ? { type: 'log' } : {}) },
      yaxis: { title: { text: opts.yTitle ?? '' }, ...(opts.logY ? { type: 'log' } : {}) },
    },
  };
}
