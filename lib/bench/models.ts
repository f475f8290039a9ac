// `convmixer bench models --table 1|2`: inference speed of every row of the paper's Table 1 or 2 that the registry can
// build, next to ResNet-50 measured with the same settings, and the paper's throughput ratios (paper img/s / paper
// ResNet-50 img/s). One run record per row (kind 'bench', experiment 'bench-models', table 'table1'/'table2', row = the
// registry model name); a row whose finished record has the same settings, git commit and dirty flag is not re-run.
//
// Protocol. Paper (Table 1/2 note): batch 64, half precision, one RTX8000, throughput averaged over 20 batches after
// warm-up. Here: fp32 on this CPU, by default batch 8, 3 timed batches after 1 warm-up (flags --batch/--steps/--warmup),
// so absolute img/s are not comparable with the paper; only the ratios to ResNet-50 are shown side by side.
//
// --vs torch times in PyTorch, in the same invocation and with the same settings, the ConvMixer rows (the paper's
// Appendix D model, scripts/bench_torch.py) and the rows whose architecture torchvision builds (ResNet-50/101/152,
// ViT-B/16, Swin-T/S: torchvision.models.*, weights=None), ResNet-50 first; each torch-timed row's record then has PyTorch's own
// ratio to PyTorch's ResNet-50 of that invocation (torchThroughputRatioVsResnet50), so the two engines' rankings of the
// models can be compared. Each PyTorch model's parameter count must equal the registry model's (one-line error
// otherwise). Without torchvision the torchvision rows' PyTorch side is skipped with a note (torchNote), and the
// ConvMixer rows keep their PyTorch img/s without a ratio.
import { isDeepStrictEqual } from 'node:util';
import { benchSteps, type BenchResult } from './engine.ts';
import { benchMetrics } from './metrics.ts';
import { benchTorch, benchTorchvision, torchvisionModelFor, TorchUnavailableError, type TorchResult } from './torch.ts';
import { modelInfo } from '../models/registry.ts';
import type { ConvMixerConfig } from '../models/convmixer.ts';
import { comparisonModel, TABLE1, TABLE2, type ImageNetRow } from '../paper/tables.ts';
import { finishRunRecord, gitState, loadRunRecords, newRunRecord, saveRunRecord, RESULTS_DIR } from '../runRecord.ts';

/** The paper's ResNet-50 throughput (Table 2, img/s), the denominator of the paper's ratios. */
export const PAPER_RESNET50_THROUGHPUT = 1739;
export const BASELINE_MODEL = 'resnet50';
export const PAPER_PROTOCOL = 'paper: batch 64, fp16, 20 batches after warm-up, one RTX8000';

export interface ModelBenchRow {
  /** Row id in the record: the registry model name (rows of the same model, e.g. Table 2's ★ and plain ConvMixer-1536/20, share it). */
  id: string;
  model: string;
  overrides?: Record<string, unknown>;
  /** The table's network labels measured by this row. */
  networks: string[];
  /** Paper img/s (null where printed '–'). */
  paperThroughput: number | null;
}

export interface SkippedPaperRow { network: string; patchSize: number | null; reason: string }

function label(r: ImageNetRow): string {
  return `${r.network}${r.a1Recipe ? '★' : ''}${r.dagger ? '†' : ''} (p${r.patchSize ?? '-'}${r.kernelSize !== null ? ` k${r.kernelSize}` : ''})`;
}

/** The rows of Table 1 or 2 the registry builds (one per distinct model, in table order), and those it cannot. */
export function tableBenchRows(table: 1 | 2): { rows: ModelBenchRow[]; skipped: SkippedPaperRow[] } {
  const rows: ModelBenchRow[] = [];
  const skipped: SkippedPaperRow[] = [];
  for (const r of table === 1 ? TABLE1 : TABLE2) {
    const model = r.model ?? comparisonModel(r);
    if (!model) {
      skipped.push({ network: r.network, patchSize: r.patchSize, reason: 'no registry model (not built by this suite)' });
      continue;
    }
    const same = rows.find((x) => x.id === model);
    if (same) same.networks.push(label(r));
    else rows.push({ id: model, model, networks: [label(r)], paperThroughput: r.throughput });
  }
  return { rows, skipped };
}

/** ResNet-50 as in Table 2 (the baseline of the ratios; Table 1 has no ResNet-50 row, so it is measured in addition). */
export function baselineRow(): ModelBenchRow {
  return { id: BASELINE_MODEL, model: BASELINE_MODEL, networks: ['ResNet-50 (Table 2)'], paperThroughput: PAPER_RESNET50_THROUGHPUT };
}

export interface BenchModelsSettings {
  mode: 'infer';
  batch: number;
  imageSize: number;
  steps: number;
  warmup: number;
  threads: number;
  seed: number;
  vs: 'torch' | null;
  backend: string;
}

export interface BenchModelsOptions {
  /** 'table1' / 'table2' (or a test's fake table id). */
  table: string;
  rows: ModelBenchRow[];
  baseline: ModelBenchRow;
  settings: BenchModelsSettings;
  /** Threads for PyTorch with --vs torch. */
  torchThreads?: number;
  resultsDir?: string;
  log?: (line: string) => void;
  /** Times one model (default: benchSteps, plus measureTorchRow with vs 'torch'). */
  measure?: (row: ModelBenchRow, s: BenchModelsSettings) => RowMeasurement;
}

/** What measuring one row gives: this engine's numbers and, with --vs torch, PyTorch's (or why there are none). */
export interface RowMeasurement extends Partial<TorchSide> {
  ours: BenchResult;
  torch: TorchResult | null;
}

export interface TorchSide {
  torch: TorchResult | null;
  /** What PyTorch ran: 'bench_torch.py ConvMixer (Appendix D)' or 'torchvision resnet50' etc.; null when nothing ran. */
  torchModel: string | null;
  /** Why PyTorch has no img/s (or no ratio) for the row; null when it has both, and without --vs torch. */
  torchNote: string | null;
}

export interface BenchModelsResult {
  id: string;
  model: string;
  networks: string[];
  /** 'measured' in this invocation, or 'resumed' from a finished record of the same settings and commit. */
  source: 'measured' | 'resumed';
  record: string;
  msPerImg: number;
  imgPerSec: number;
  /** img/s / ResNet-50's img/s (this invocation's baseline). */
  ratio: number;
  paperThroughput: number | null;
  /** paper img/s / 1739 (paper ResNet-50). */
  paperRatio: number | null;
  torchMsPerImg: number | null;
  /** PyTorch img/s of the row (same settings, same invocation), with --vs torch where PyTorch builds the model. */
  torchImgPerSec: number | null;
  /** PyTorch img/s / PyTorch's ResNet-50 img/s of the same invocation; null where either is missing. */
  torchRatioVsResnet50: number | null;
  torchModel: string | null;
  torchNote: string | null;
}

/** The note of a row PyTorch cannot build here. */
export const NO_TORCH_DEFINITION = 'no PyTorch definition here (bench_torch.py builds ConvMixers; torchvision ResNet-50/101/152, ViT-B/16 and Swin-T/S)';

/** The experiment of every `bench models` record. */
export const BENCH_MODELS_EXPERIMENT = 'bench-models';
const EXPERIMENT = BENCH_MODELS_EXPERIMENT;

/**
 * PyTorch's side of one row with --vs torch (same mode, batch, image size, steps, warm-up, seed; `torchThreads`
 * threads): a ConvMixer through bench_torch.py's Appendix D model, a ResNet-50/101/152, ViT-B/16 or Swin-T/S architecture
 * through torchvision; both checked to have the registry model's parameter count (a one-line UserError otherwise). No
 * torchvision: no numbers, and the reason in torchNote. Nothing without --vs torch.
 */
export function measureTorchRow(row: ModelBenchRow, s: BenchModelsSettings, torchThreads: number): TorchSide {
  if (s.vs !== 'torch') return { torch: null, torchModel: null, torchNote: null };
  const info = modelInfo(row.model, row.overrides ?? {});
  const common = { mode: s.mode, batch: s.batch, imageSize: s.imageSize, steps: s.steps, warmup: s.warmup, threads: torchThreads, seed: s.seed, expectParams: info.paramCount };
  if (info.family === 'convmixer') {
    return { torch: benchTorch({ config: info.config as ConvMixerConfig, ...common }), torchModel: 'bench_torch.py ConvMixer (Appendix D)', torchNote: null };
  }
  const tv = torchvisionModelFor(info);
  if (!tv) return { torch: null, torchModel: null, torchNote: NO_TORCH_DEFINITION };
  const torchModel = `torchvision ${tv}`;
  try {
    return { torch: benchTorchvision({ model: tv, numClasses: (info.config as { numClasses: number }).numClasses, ...common }), torchModel, torchNote: null };
  } catch (err) {
    if (err instanceof TorchUnavailableError) return { torch: null, torchModel: null, torchNote: `PyTorch side skipped: ${err.message}` };
    throw err;
  }
}

function defaultMeasure(row: ModelBenchRow, s: BenchModelsSettings, torchThreads: number): RowMeasurement {
  const ours = benchSteps({ config: null, registryModel: { name: row.model, overrides: row.overrides ?? {} }, mode: 'infer', batch: s.batch, imageSize: s.imageSize, steps: s.steps, warmup: s.warmup, seed: s.seed });
  return { ours, ...measureTorchRow(row, s, torchThreads) };
}

/** A row's PyTorch img/s over PyTorch's ResNet-50 img/s of the same invocation (null where either is missing). */
export function torchRatio(torchImgPerSec: number | null, baselineTorchImgPerSec: number | null): number | null {
  return torchImgPerSec !== null && baselineTorchImgPerSec !== null && baselineTorchImgPerSec > 0 ? torchImgPerSec / baselineTorchImgPerSec : null;
}

/** Benchmarks the baseline, then every row (resuming finished ones); prints and returns the rows with their ratios. */
export function benchModels(opts: BenchModelsOptions): { baseline: BenchModelsResult; rows: BenchModelsResult[] } {
  const dir = opts.resultsDir ?? RESULTS_DIR;
  const log = opts.log ?? ((): void => {});
  const git = gitState();
  const s = opts.settings;
  const measure = opts.measure ?? ((row, st) => defaultMeasure(row, st, opts.torchThreads ?? s.threads));

  const done = (row: ModelBenchRow) => loadRunRecords({ kind: 'bench', experiment: EXPERIMENT, table: opts.table, row: row.id, status: 'finished' }, dir)
    .find((r) => r.gitCommit === git.commit && r.gitDirty === git.dirty && isDeepStrictEqual(r.config.settings, { ...s })
      && isDeepStrictEqual(r.config.overrides ?? {}, row.overrides ?? {}));

  let baselineImgPerSec = NaN;
  /** PyTorch's ResNet-50 img/s of this invocation (null without --vs torch or when it was skipped), and why it is missing. */
  let baselineTorchImgPerSec: number | null = null;
  let baselineTorchNote: string | null = null;
  /** The note of a row PyTorch timed but that has no PyTorch ratio, because its ResNet-50 has no PyTorch img/s. */
  const noRatioNote = (): string => `no PyTorch ratio: PyTorch has no ResNet-50 img/s in this run${baselineTorchNote ? ` (${baselineTorchNote})` : ''}`;
  const one = (row: ModelBenchRow, isBaseline: boolean): BenchModelsResult => {
    const paperRatio = row.paperThroughput !== null ? row.paperThroughput / PAPER_RESNET50_THROUGHPUT : null;
    const base = { id: row.id, model: row.model, networks: row.networks, paperThroughput: row.paperThroughput, paperRatio };
    const prev = done(row);
    if (prev) {
      const m = prev.metrics;
      const imgPerSec = m.imgPerSec as number;
      const torchMsPerImg = typeof m.torchMsPerImg === 'number' ? m.torchMsPerImg : null;
      const torchImgPerSec = typeof m.torchImgPerSec === 'number' ? m.torchImgPerSec : torchMsPerImg !== null ? 1000 / torchMsPerImg : null;
      const torchNote = typeof m.torchNote === 'string' ? m.torchNote : null;
      if (isBaseline) {
        baselineImgPerSec = imgPerSec;
        baselineTorchImgPerSec = torchImgPerSec;
        baselineTorchNote = torchNote;
      }
      return { ...base, source: 'resumed', record: `${dir}/${prev.id}.json`, msPerImg: m.msPerImg as number, imgPerSec,
        ratio: imgPerSec / baselineImgPerSec, torchMsPerImg, torchImgPerSec, torchRatioVsResnet50: torchRatio(torchImgPerSec, baselineTorchImgPerSec),
        torchModel: typeof m.torchModel === 'string' ? m.torchModel : null, torchNote };
    }
    const info = modelInfo(row.model, row.overrides ?? {});
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const record = newRunRecord({
      id: `bench-models-${opts.table}-${row.id}-b${s.batch}-${stamp}`, kind: 'bench', experiment: EXPERIMENT, table: opts.table, row: row.id,
      profile: 'quick', seed: s.seed, backend: s.backend,
      config: { model: { name: info.name, family: info.family, ...(info.config as Record<string, unknown>) }, overrides: row.overrides ?? {}, networks: row.networks,
        baseline: isBaseline, settings: { ...s }, mode: s.mode, batch: s.batch, imageSize: s.imageSize, threads: s.threads,
        paperThroughput: row.paperThroughput, paperProtocol: PAPER_PROTOCOL },
    });
    let result: RowMeasurement;
    try {
      result = measure(row, s);
    } catch (err) {
      saveRunRecord(finishRunRecord(record, { error: (err as Error).message.split('\n')[0]! }, 'failed'), dir);
      throw err;
    }
    const { ours, torch } = result;
    const torchImgPerSec = torch?.img_per_s ?? null;
    let torchNote = result.torchNote ?? (s.vs === 'torch' && !torch ? NO_TORCH_DEFINITION : null);
    if (isBaseline) {
      baselineImgPerSec = ours.imgPerSec;
      baselineTorchImgPerSec = torchImgPerSec;
      baselineTorchNote = torchNote;
    }
    const ratio = ours.imgPerSec / baselineImgPerSec;
    const torchRatioVsResnet50 = torchRatio(torchImgPerSec, baselineTorchImgPerSec);
    if (torch && torchRatioVsResnet50 === null) torchNote = noRatioNote();
    const torchModel = torch ? result.torchModel ?? null : null;
    const path = saveRunRecord(finishRunRecord(record, {
      ...benchMetrics(ours, torch), resnet50ImgPerSec: baselineImgPerSec, throughputRatioVsResnet50: ratio, paperThroughput: row.paperThroughput, paperRatioVsResnet50: paperRatio,
      torchImgPerSec, torchModel, torchParams: torch?.params ?? null, torchvisionVersion: torch?.torchvision ?? null,
      torchResnet50ImgPerSec: s.vs === 'torch' ? baselineTorchImgPerSec : null, torchThroughputRatioVsResnet50: torchRatioVsResnet50, torchNote,
    }), dir);
    return { ...base, source: 'measured', record: path, msPerImg: ours.msPerImg, imgPerSec: ours.imgPerSec, ratio, torchMsPerImg: torch?.ms_per_img ?? null,
      torchImgPerSec, torchRatioVsResnet50, torchModel, torchNote };
  };

  const fmtRow = (r: BenchModelsResult): string => [
    r.id.padEnd(28), f2(r.msPerImg).padStart(8), f2(r.imgPerSec).padStart(8), `${r.ratio.toFixed(2)}x`.padStart(8),
    String(r.paperThroughput ?? '–').padStart(7), (r.paperRatio !== null ? `${r.paperRatio.toFixed(2)}x` : '–').padStart(9),
    `${r.networks.join(', ')}${torchText(r)}${r.source === 'resumed' ? ' (resumed)' : ''}`,
  ].join(' ');
  const torchText = (r: BenchModelsResult): string => {
    if (r.torchMsPerImg === null) return r.torchNote ? `; ${r.torchNote}` : '';
    const vs = r.torchRatioVsResnet50 !== null ? `, ${r.torchRatioVsResnet50.toFixed(2)}x PyTorch's ResNet-50` : `; ${r.torchNote ?? 'no PyTorch ratio'}`;
    return `; PyTorch ${f2(r.torchMsPerImg)} ms/img (${r.torchModel ?? 'PyTorch'})${vs}`;
  };
  log(['model'.padEnd(28), 'ms/img'.padStart(8), 'img/s'.padStart(8), 'vs R50'.padStart(8), 'paper'.padStart(7), 'paper/R50'.padStart(9), 'rows'].join(' '));
  const baseline = one(opts.baseline, true);
  log(fmtRow(baseline));
  const rows: BenchModelsResult[] = [];
  for (const row of opts.rows) {
    const r = row.id === opts.baseline.id ? { ...baseline, networks: row.networks, paperThroughput: row.paperThroughput,
      paperRatio: row.paperThroughput !== null ? row.paperThroughput / PAPER_RESNET50_THROUGHPUT : null } : one(row, false);
    if (row.id !== opts.baseline.id) log(fmtRow(r));
    rows.push(r);
  }
  return { baseline, rows };
}

const f2 = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
