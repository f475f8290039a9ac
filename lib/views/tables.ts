// Tables as HTML outputs. `dataFrameHtml` takes a danfojs DataFrame (structurally: columns, values, index), so
// library code need not load danfojs; `rowsHtml` does the same for plain row objects.

export interface FrameLike {
  columns: string[];
  values: unknown[][] | unknown[];
  index: (string | number)[];
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Numbers with up to `digits` decimals (no trailing zeros), thousands separated; null/undefined as an em dash. */
export function formatValue(v: unknown, digits = 4): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '—';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return v.toLocaleString('en-US', { maximumFractionDigits: digits });
  }
  return String(v);
}

/** Cells whose string starts with this marker are inserted as HTML (badges); everything else is escaped. */
export const RAW_HTML = '\u0000html:';
export function rawHtml(html: string): string {
  return RAW_HTML + html;
}

function cellHtml(v: unknown, digits: number): string {
  if (typeof v === 'string' && v.startsWith(RAW_HTML)) return v.slice(RAW_HTML.length);
  return escapeHtml(formatValue(v, digits));
}

export function tableHtml(columns: string[], rows: unknown[][], opts: { caption?: string; index?: (string | number)[]; digits?: number; className?: string } = {}): string {
  const digits = opts.digits ?? 4;
  const head = `<tr>${opts.index ? '<th></th>' : ''}${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r, i) => {
    const idx = opts.index ? `<th>${escapeHtml(String(opts.index[i]))}</th>` : '';
    const cells = r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${cellHtml(v, digits)}</td>`).join('');
    return `<tr>${idx}${cells}</tr>`;
  }).join('\n');
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  return `<table class="${opts.className ?? 'data-table'}">${caption}<thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/** A danfojs DataFrame (or anything shaped like one) as an HTML table, its index as the first column. */
export function dataFrameHtml(df: FrameLike, opts: { caption?: string; digits?: number; showIndex?: boolean } = {}): string {
  const rows = (df.values as unknown[]).map((r) => (Array.isArray(r) ? r : [r]));
  return tableHtml(df.columns, rows, { caption: opts.caption, digits: opts.digits, index: opts.showIndex ? df.index : undefined });
}

/** Plain objects as a table; columns default to the keys of the first row. */
export function rowsHtml(rows: Record<string, unknown>[], opts: { columns?: string[]; caption?: string; digits?: number } = {}): string {
  const columns = opts.columns ?? Object.keys(rows[0] ?? {});
  return tableHtml(columns, rows.map((r) => columns.map((c) => r[c])), { caption: opts.caption, digits: opts.digits });
}

export type Badge = 'reproduced' | 'close' | 'differs' | 'partial' | 'running' | 'finished' | 'failed' | 'not yet' | 'matches' | 'discrepancy';

export function badgeHtml(status: Badge): string {
  return `<span class="badge badge-${status.replace(/\s+/g, '-')}">${escapeHtml(status)}</span>`;
}

/** Styles for tables and badges, emitted once per notebook so outputs look the same in Jupyter and in the report. */
export const TABLE_CSS = `<style>
.data-table{border-collapse:collapse;font-size:13px;margin:.5em 0}
.data-table th,.data-table td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
.data-table td.num{text-align:right;font-variant-numeric:tabular-nums}
.data-table thead th{background:#f3f5f7}
.data-table caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;color:#fff;background:#6e7781}
.badge-reproduced,.badge-matches,.badge-finished{background:#1a7f37}.badge-close{background:#4d8f2a}.badge-differs,.badge-discrepancy{background:#bc4c00}
.badge-partial,.badge-running{background:#0969da}.badge-failed{background:#cf222e}.badge-not-yet{background:#8c959f}
</style>`;
