// The README's benchmark table, built from `convmixer bench ... --vs torch` run records (never typed by hand):
// the newest record per (model, mode, batch, image size, threads), engine vs PyTorch measured in the same run.
import type { RunRecord } from '../runRecord.ts';

interface BenchRow {
  model: string;
  mode: string;
  batch: number;
  imageSize: number;
  threads: number;
  msPerImg: number;
  torchMsPerImg: number;
  ratio: number;
  peakRssMiB: number;
  torchPeakRssMiB: number;
  backend: string;
  cpu: string;
  commit: string;
  date: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function rowOf(rec: RunRecord): BenchRow | null {
  const c = rec.config as { model?: { dim: number; depth: number; kernelSize: number; patchSize: number }; mode?: string; batch?: number; imageSize?: number; threads?: number };
  const m = rec.metrics;
  const ms = num(m.msPerImg), tms = num(m.torchMsPerImg), rss = num(m.peakRssMiB), trss = num(m.torchPeakRssMiB);
  if (!c.model || !c.mode || ms === null || tms === null || rss === null || trss === null) return null;
  return {
    model: `ConvMixer-${c.model.dim}/${c.model.depth} k${c.model.kernelSize} p${c.model.patchSize}`,
    mode: c.mode, batch: c.batch ?? 0, imageSize: c.imageSize ?? 0, threads: c.threads ?? 0,
    msPerImg: ms, torchMsPerImg: tms, ratio: ms / tms, peakRssMiB: rss, torchPeakRssMiB: trss,
    backend: rec.backend, cpu: `${rec.machine.cpuModel}, ${rec.machine.cores} cores`, commit: rec.gitCommit.slice(0, 7), date: rec.startedAt.slice(0, 10),
  };
}

/** Markdown table of the newest finished bench-vs-torch record per workload (records newest first, as loadRunRecords gives them). */
export function benchTable(records: RunRecord[]): string {
  const seen = new Set<string>();
  const rows: BenchRow[] = [];
  for (const rec of records) {
    if (rec.kind !== 'bench' || rec.status !== 'finished') continue;
    const row = rowOf(rec);
    if (!row) continue;
    const key = `${row.model}|${row.mode}|${row.batch}|${row.imageSize}|${row.threads}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(row);
  }
  if (rows.length === 0) return '(no `convmixer bench ... --vs torch` run records yet)';
  rows.sort((a, b) => a.model.localeCompare(b.model) || a.mode.localeCompare(b.mode) || a.batch - b.batch);
  const lines = [
    '| model | mode | batch | threads | this engine ms/img | PyTorch ms/img | ratio | peak RSS MiB (this / PyTorch) | commit, date |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.mode} | ${r.batch} | ${r.threads} | ${fmt(r.msPerImg)} | ${fmt(r.torchMsPerImg)} | ${r.ratio.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} / ${r.torchPeakRssMiB.toFixed(0)} (${(r.peakRssMiB / r.torchPeakRssMiB).toFixed(2)}x) | ${r.commit}, ${r.date} |`),
  ];
  const machines = [...new Set(rows.map((r) => `${r.cpu}; ${r.backend}`))];
  return [...lines, '', `Measured on: ${machines.join(' | ')}. Ratio = this engine / PyTorch, both measured in the same \`convmixer bench ... --vs torch\` invocation (32x32 inputs).`].join('\n');
}

const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

/** Replaces the text between the bench-table markers of a README; throws if the markers are missing. */
export function replaceBenchTable(readme: string, table: string): string {
  const i = readme.indexOf(START), j = readme.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README lacks the markers ${START} ... ${END}`);
  return `${readme.slice(0, i + START.length)}\n${table}\n${readme.slice(j)}`;
}
