// The README's benchmark table, built from `convmixer bench ... --vs torch` run records (never typed by hand):
// the newest record per (model, engine, mode, batch, input size, threads), engine vs PyTorch measured in the same
// run. The engine (native-cpu, cpu, tensorflow; 'native-cpu bf16' for --precision bf16, PyTorch then under bf16 autocast) is
// part of the key, so a `--backend cpu` run never replaces a native row nor a bf16 run an fp32 one.
// ConvMixer rows are named by their sizes (ConvMixer-256/8 k9 p1); segmentation rows (Unet, ConvMixer-Unet, H x W
// inputs) by their registry name, with the config keys that differ from the registered model (e.g. smoke widths).
import { isDeepStrictEqual } from 'node:util';
import { isRegistered, modelInfo } from '../models/registry.ts';
import type { RunRecord } from '../runRecord.ts';

interface BenchRow {
  model: string;
  /** The backend's name without its details: 'native-cpu (AVX2+FMA, 2 threads)' -> 'native-cpu'; ' bf16' appended for a
   * --precision bf16 record (PyTorch under bf16 autocast in the same run). */
  engine: string;
  mode: string;
  batch: number;
  /** Input height and width (a ConvMixer record's square imageSize twice). */
  height: number;
  width: number;
  threads: number;
  /** PyTorch's own thread count (torch.get_num_threads()); null in records from before it was stored. */
  torchThreads: number | null;
  /** The BLAS behind PyTorch's matmuls, short ('OpenBLAS', 'reference'); null in records from before it was stored. */
  torchBlas: string | null;
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

/** A registry model's name, with the config values of the record that differ from the registered model's: 'unet_camvid (baseWidth 4)'. */
function registryModelCell(model: Record<string, unknown> & { name: string }): string {
  if (!isRegistered(model.name)) return model.name;
  const base = modelInfo(model.name).config as Record<string, unknown>;
  const diff = Object.keys(base).filter((k) => k in model && !isDeepStrictEqual(model[k], base[k]))
    .map((k) => `${k} ${Array.isArray(model[k]) ? (model[k] as unknown[]).join('/') : String(model[k])}`);
  return diff.length ? `${model.name} (${diff.join(', ')})` : model.name;
}

function rowOf(rec: RunRecord): BenchRow | null {
  const c = rec.config as {
    model?: { dim?: number; depth?: number; kernelSize?: number; patchSize?: number; name?: string }; mode?: string; batch?: number; imageSize?: number;
    height?: number; width?: number; threads?: number; precision?: string;
  };
  const m = rec.metrics;
  const ms = num(m.msPerImg), tms = num(m.torchMsPerImg), rss = num(m.peakRssMiB), trss = num(m.torchPeakRssMiB);
  if (!c.model || !c.mode || ms === null || tms === null || rss === null || trss === null) return null;
  const model = c.model.dim === undefined && typeof c.model.name === 'string'
    ? registryModelCell(c.model as Record<string, unknown> & { name: string })
    : `ConvMixer-${c.model.dim}/${c.model.depth} k${c.model.kernelSize} p${c.model.patchSize}`;
  return {
    model,
    engine: `${engineOf(rec.backend)}${c.precision === 'bf16' ? ' bf16' : ''}`,
    mode: c.mode, batch: c.batch ?? 0, height: c.height ?? c.imageSize ?? 0, width: c.width ?? c.imageSize ?? 0, threads: c.threads ?? 0, torchThreads: num(m.torchThreads),
    torchBlas: typeof m.torchBlas === 'string' ? blasShort(m.torchBlas) : null,
    msPerImg: ms, torchMsPerImg: tms, ratio: ms / tms, peakRssMiB: rss, torchPeakRssMiB: trss,
    backend: rec.backend, cpu: `${rec.machine.cpuModel}, ${rec.machine.cores} cores`, commit: rec.gitCommit.slice(0, 7), date: rec.startedAt.slice(0, 10),
  };
}

/** 'OpenBLAS (openblas-pthread/libblas.so.3)' -> 'OpenBLAS'; 'reference BLAS (...)' -> 'reference'. */
export function blasShort(blas: string): string {
  const head = blas.split(' (')[0]!.trim();
  return head === 'reference BLAS' ? 'reference' : head;
}

/** The engine a record ran on, from its backend description: 'native-cpu (AVX2+FMA, 2 threads)' -> 'native-cpu'. */
export function engineOf(backend: string): string {
  return backend.split(' (')[0]!.trim() || backend;
}

/** The threads cell: the engine's threads, and PyTorch's when they differ (e.g. the single-threaded JS backend). */
function threadsCell(r: BenchRow): string {
  return r.torchThreads !== null && r.torchThreads !== r.threads ? `${r.threads} (PyTorch ${r.torchThreads})` : `${r.threads}`;
}

const sizeOf = (r: BenchRow): string => `${r.height}x${r.width}`;

/** 'HxW inputs' for the input sizes of the rows; the model cells name the size only when there are several. */
function imageSizesText(list: string[]): string {
  return `${list.length > 1 ? `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}` : list[0]} inputs`;
}

/** Markdown table of the newest finished bench-vs-torch record per workload (records newest first, as loadRunRecords gives them). */
export function benchTable(records: RunRecord[]): string {
  const seen = new Set<string>();
  const rows: BenchRow[] = [];
  for (const rec of records) {
    if (rec.kind !== 'bench' || rec.status !== 'finished') continue;
    const row = rowOf(rec);
    if (!row) continue;
    const key = `${row.model}|${row.engine}|${row.mode}|${row.batch}|${sizeOf(row)}|${row.threads}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(row);
  }
  if (rows.length === 0) return '(no `convmixer bench ... --vs torch` run records yet)';
  rows.sort((a, b) => a.model.localeCompare(b.model) || a.engine.localeCompare(b.engine) || a.mode.localeCompare(b.mode) ||
    a.batch - b.batch || a.height - b.height || a.width - b.width || a.threads - b.threads);
  const sizes = [...new Set([...rows].sort((a, b) => a.height - b.height || a.width - b.width).map(sizeOf))];
  const modelCell = (r: BenchRow): string => (sizes.length > 1 ? `${r.model}, ${sizeOf(r)}` : r.model);
  const lines = [
    '| model | engine | mode | batch | threads | this engine ms/img | PyTorch ms/img | PyTorch BLAS | ratio | peak RSS MiB (this / PyTorch) | commit, date |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${modelCell(r)} | ${r.engine} | ${r.mode} | ${r.batch} | ${threadsCell(r)} | ${fmt(r.msPerImg)} | ${fmt(r.torchMsPerImg)} | ${r.torchBlas ?? 'not recorded'} | ${r.ratio.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} / ${r.torchPeakRssMiB.toFixed(0)} (${(r.peakRssMiB / r.torchPeakRssMiB).toFixed(2)}x) | ${r.commit}, ${r.date} |`),
  ];
  const machines = [...new Set(rows.map((r) => `${r.cpu}; ${r.backend}`))];
  return [...lines, '', `Measured on: ${machines.join(' | ')}. Ratio = this engine / PyTorch, both measured in the same \`convmixer bench ... --vs torch\` invocation (${imageSizesText(sizes)}).`].join('\n');
}

const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

/** Replaces the text between the bench-table markers of a README; throws if the markers are missing. */
export function replaceBenchTable(readme: string, table: string): string {
  const i = readme.indexOf(START), j = readme.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README lacks the markers ${START} ... ${END}`);
  return `${readme.slice(0, i + START.length)}\n${table}\n${readme.slice(j)}`;
}
