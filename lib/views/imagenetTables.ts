// What notebook 01-architecture shows of the paper's Tables 1 and 2 beyond "# Params": every printed row with its exact
// parameter count, the paper's throughput and its ratio to the paper's ResNet-50 (reference data), this engine's
// throughput and ratio to ResNet-50 measured here by `convmixer bench models --table 1|2` (run records of kind 'bench',
// experiment 'bench-models'), PyTorch's throughput when the run had --vs torch (ConvMixer rows, and the ResNet-50/101/152,
// ViT-B/16 and Swin-T/S rows torchvision builds) with PyTorch's own ratio to PyTorch's ResNet-50 of that run, and the paper's
// top-1 accuracy as reference data (ImageNet accuracy is not re-measured by these records; `convmixer eval imagenet`
// records, where any exist, are listed apart). Pure functions over run records: the notebook loads the records.
import { BASELINE_MODEL, BENCH_MODELS_EXPERIMENT, PAPER_PROTOCOL, PAPER_RESNET50_THROUGHPUT, tableBenchRows } from '../bench/models.ts';
import { convMixerMacs, resolveConfig, type ConvMixerConfig } from '../models/convmixer.ts';

export { convMixerMacs };
import { modelInfo } from '../models/registry.ts';
import { comparisonModel, TABLE1, TABLE2, type ImageNetRow } from '../paper/tables.ts';
import type { RunRecord } from '../runRecord.ts';
import { scatterFigure, type Figure } from './plots.ts';

export { PAPER_RESNET50_THROUGHPUT };
/** The paper's throughput protocol (reference), as `bench models` states it. */
export const PAPER_THROUGHPUT_PROTOCOL = PAPER_PROTOCOL;

export type ImageNetTable = 1 | 2;

/** The command that makes the bench records of a table (resumable: finished rows of the same settings are kept). */
export function benchModelsCommandLine(table: ImageNetTable, opts: { vsTorch?: boolean } = {}): string {
  return `convmixer bench models --table ${table}${opts.vsTorch === false ? '' : ' --vs torch'}`;
}

/** The command that measures ImageNet-1k top-1 (needs the validation set and weights; not run in this environment). */
export const IMAGENET_EVAL_COMMAND = 'convmixer eval imagenet --model NAME --weights FILE --data DIR';

/** A paper row's network as printed, with its ★ (A1-like recipe) or † (DeiT with 7x7 patches) mark. */
export function paperRowLabel(r: ImageNetRow): string {
  return `${r.network}${r.a1Recipe ? '★' : ''}${r.dagger ? '†' : ''}`;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The machine a record ran on, in words: 'AMD EPYC, 2 cores' (plus the GPU when there is one). */
export function machineText(rec: RunRecord): string {
  return `${rec.machine.cpuModel}, ${rec.machine.cores} cores${rec.machine.gpu ? `, GPU ${rec.machine.gpu}` : ''}`;
}

/** A record's bench settings (`bench models` stores them in config.settings), without `vs`. */
function settingsOf(rec: RunRecord): Record<string, unknown> {
  const s = rec.config.settings;
  if (!s || typeof s !== 'object') return {};
  const { vs: _vs, ...rest } = s as Record<string, unknown>;
  return rest;
}

const sortedJson = (o: Record<string, unknown>): string => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));

/**
 * Records measured with the same settings on the same machine: the same batch, steps, warm-up, image size, threads,
 * seed and backend. With and without --vs torch are one group (PyTorch's numbers are extra columns of the same
 * measurement), so a --vs torch run and a plain one at the same settings are compared as one.
 */
export interface BenchGroup {
  key: string;
  settings: Record<string, unknown>;
  machine: string;
  /** Finished records of the group, newest first. */
  records: RunRecord[];
  /** Rows (registry model names) with a record in the group. */
  rows: string[];
  hasBaseline: boolean;
  /** Some record of the group has PyTorch's numbers (--vs torch). */
  hasTorch: boolean;
  /** startedAt of its newest record. */
  newest: string;
}

/** The finished `bench models` records of a table, newest first. */
export function benchModelsRecords(records: RunRecord[], table: ImageNetTable): RunRecord[] {
  return records.filter((r) => r.kind === 'bench' && r.experiment === BENCH_MODELS_EXPERIMENT && r.table === `table${table}` && r.status === 'finished' && r.row)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** The table's records in groups of equal settings and machine; the group shown first: with a ResNet-50 baseline, most rows, newest. */
export function benchModelsGroups(records: RunRecord[], table: ImageNetTable): BenchGroup[] {
  const groups = new Map<string, BenchGroup>();
  for (const rec of benchModelsRecords(records, table)) {
    const settings = settingsOf(rec);
    const machine = machineText(rec);
    const key = `${sortedJson(settings)}|${machine}`;
    let g = groups.get(key);
    if (!g) {
      g = { key, settings, machine, records: [], rows: [], hasBaseline: false, hasTorch: false, newest: rec.startedAt };
      groups.set(key, g);
    }
    g.records.push(rec);
    if (!g.rows.includes(rec.row!)) g.rows.push(rec.row!);
    if (rec.row === BASELINE_MODEL) g.hasBaseline = true;
    if (num(rec.metrics.torchMsPerImg) !== null) g.hasTorch = true;
  }
  return [...groups.values()].sort((a, b) => Number(b.hasBaseline) - Number(a.hasBaseline) || b.rows.length - a.rows.length || b.newest.localeCompare(a.newest));
}

/** A group's settings in words: 'batch 8, 3 timed batches after 1 warm-up, 224x224, 2 threads, backend ...'. */
export function groupSettingsText(g: BenchGroup): string {
  const s = g.settings as { batch?: number; steps?: number; warmup?: number; imageSize?: number; threads?: number; backend?: string; mode?: string };
  return `${s.mode ?? 'infer'}, batch ${s.batch}, ${s.steps} timed batches after ${s.warmup} warm-up, ${s.imageSize}x${s.imageSize}, `
    + `${s.threads} threads, backend ${s.backend}; ${g.machine}`;
}

export interface ThroughputRow {
  table: ImageNetTable;
  /** 'row': a printed row of the table; 'baseline': ResNet-50 appended to Table 1 (its printed row is in Table 2), the ratios' denominator. */
  role: 'row' | 'baseline';
  network: string;
  /** Registry model measured for the row; null where the suite builds none (the isotropic MobileNetV3s). */
  model: string | null;
  family: string | null;
  patch: number | null;
  kernel: number | null;
  /** "# Params" as printed, millions [reference]. */
  paramsPrinted: number;
  /** Exact trainable parameters of the registry model (Eq. 4 for ConvMixers; equal to the built model's). */
  params: number | null;
  /** Paper img/s (batch 64, fp16, RTX8000) [reference]; null where printed '–'. */
  paperImgPerSec: number | null;
  /** Paper img/s / paper ResNet-50's img/s [reference]. */
  paperRatio: number | null;
  /** This engine here (the record's img/s at its settings). */
  imgPerSec: number | null;
  /** This engine's img/s / ResNet-50's img/s in the same `bench models` invocation (as the record stores it). */
  ratio: number | null;
  /** PyTorch here, same model and settings (a --vs torch run: ConvMixer rows, and ResNet-50/101/152, ViT-B/16, Swin-T/S via torchvision). */
  torchImgPerSec: number | null;
  /** PyTorch's img/s / PyTorch's ResNet-50 img/s in the same `bench models` invocation (the record's torchThroughputRatioVsResnet50). */
  torchRatio: number | null;
  /** What PyTorch ran ('torchvision resnet50', 'bench_torch.py ConvMixer (Appendix D)'); null for records that do not say. */
  torchModel: string | null;
  /** PyTorch's img/s / this engine's img/s for the same model, measured in the same record. */
  torchVsEngine: number | null;
  /** ImageNet-1k top-1 (%) as printed [reference, not reproduced here]. */
  top1Paper: number | null;
  activation: string;
  epochs: number | null;
  record: string | null;
  /** The record PyTorch's numbers come from, when it is not `record`. */
  torchRecord: string | null;
  batch: number | null;
  steps: number | null;
  machine: string | null;
  commit: string | null;
  note: string;
}

/** Why a row of a group with PyTorch numbers has no PyTorch img/s or no PyTorch ratio: the newest --vs torch record's note. */
function torchNoteOf(group: BenchGroup, model: string): string {
  const recs = group.records.filter((x) => x.row === model && (x.config.settings as { vs?: unknown } | undefined)?.vs === 'torch');
  const withTorch = recs.find((x) => num(x.metrics.torchMsPerImg) !== null);
  const rec = withTorch ?? recs[0];
  if (!rec) return 'no --vs torch record of this model at these settings';
  if (typeof rec.metrics.torchNote === 'string') return rec.metrics.torchNote;
  // Records made before `bench models --vs torch` timed ResNet-50 in PyTorch carry no note.
  return withTorch ? 'no PyTorch ratio (record made before PyTorch timed ResNet-50)' : 'PyTorch side timed ConvMixers only when this record was made';
}

/** Finds the group a caller asked for (by key), else the preferred one. */
function chooseGroup(groups: BenchGroup[], key?: string): BenchGroup | null {
  if (key !== undefined) return groups.find((g) => g.key === key) ?? null;
  return groups[0] ?? null;
}

function throughputRow(r: ImageNetRow, table: ImageNetTable, role: ThroughputRow['role'], group: BenchGroup | null): ThroughputRow {
  const model = r.model ?? comparisonModel(r);
  const info = model ? modelInfo(model) : null;
  const rec = model && group ? group.records.find((x) => x.row === model) ?? null : null;
  const torchRec = model && group ? group.records.find((x) => x.row === model && num(x.metrics.torchMsPerImg) !== null) ?? null : null;
  const imgPerSec = rec ? num(rec.metrics.imgPerSec) : null;
  const torchMs = torchRec ? num(torchRec.metrics.torchMsPerImg) : null;
  const engineMsSameRecord = torchRec ? num(torchRec.metrics.msPerImg) : null;
  const torchRatio = torchRec ? num(torchRec.metrics.torchThroughputRatioVsResnet50) : null;
  const note = !model ? 'not built by this suite (no registry model)'
    : !group ? 'no bench record yet'
    : !rec ? 'no record at these settings'
    : group.hasTorch && (!torchRec || torchRatio === null) ? torchNoteOf(group, model) : '';
  return {
    table, role, network: paperRowLabel(r), model, family: info?.family ?? null, patch: r.patchSize, kernel: r.kernelSize,
    paramsPrinted: r.paramsM, params: info?.paramCount ?? null,
    paperImgPerSec: r.throughput, paperRatio: r.throughput !== null ? r.throughput / PAPER_RESNET50_THROUGHPUT : null,
    imgPerSec, ratio: rec ? num(rec.metrics.throughputRatioVsResnet50) : null,
    torchImgPerSec: torchMs !== null ? 1000 / torchMs : null, torchRatio,
    torchModel: torchRec && typeof torchRec.metrics.torchModel === 'string' ? torchRec.metrics.torchModel : null,
    torchVsEngine: torchMs !== null && engineMsSameRecord !== null ? engineMsSameRecord / torchMs : null,
    top1Paper: r.top1, activation: r.activation, epochs: r.epochs,
    record: rec?.id ?? null, torchRecord: torchRec && torchRec !== rec ? torchRec.id : null,
    batch: rec ? num(rec.config.batch) : null, steps: rec ? num((rec.config.settings as { steps?: unknown } | undefined)?.steps) : null,
    machine: rec ? machineText(rec) : null, commit: rec ? rec.gitCommit.slice(0, 7) : null, note,
  };
}

/**
 * Every printed row of Table 1 or 2 (in the paper's order), with the measurement of its registry model from one group
 * of records (default: the preferred group of benchModelsGroups; the newest record per row in it). Table 2's ★ and
 * plain rows of one model share its one measurement. Table 1 has no ResNet-50 row: its baseline is appended (role
 * 'baseline', the paper values of Table 2's ResNet-50 row).
 */
export function throughputRows(records: RunRecord[], table: ImageNetTable, opts: { group?: string } = {}): ThroughputRow[] {
  const group = chooseGroup(benchModelsGroups(records, table), opts.group);
  const rows = (table === 1 ? TABLE1 : TABLE2).map((r) => throughputRow(r, table, 'row', group));
  if (table === 1) {
    const resnet50 = TABLE2.find((r) => comparisonModel(r) === BASELINE_MODEL)!;
    const base = throughputRow(resnet50, table, 'baseline', group);
    rows.push({ ...base, note: ['the ratios\' baseline (its paper row is in Table 2)', base.note].filter(Boolean).join('; ') });
  }
  return rows;
}

/** What the notebook prints above a table: which records it shows, which rows lack one, and the commands that make them. */
export interface ThroughputSummary {
  table: ImageNetTable;
  group: BenchGroup | null;
  otherGroups: BenchGroup[];
  baselineImgPerSec: number | null;
  /** Registry models `bench models --table N` times (plus the baseline) that have no record in the group. */
  missing: string[];
  lines: string[];
}

/** The swapped pairs the summary names (the rest are counted). */
const SWAPS_LISTED = 6;

export function throughputSummary(records: RunRecord[], table: ImageNetTable, opts: { group?: string } = {}): ThroughputSummary {
  const groups = benchModelsGroups(records, table);
  const group = chooseGroup(groups, opts.group);
  const cmd = benchModelsCommandLine(table);
  if (!group) {
    return {
      table, group: null, otherGroups: groups, baselineImgPerSec: null, missing: [],
      lines: [`No \`bench models\` record for Table ${table} yet: the "here" columns are empty. ${cmd} makes them (one record per row, `
        + `resumable; without --vs torch: ${benchModelsCommandLine(table, { vsTorch: false })}).`],
    };
  }
  const wanted = [BASELINE_MODEL, ...tableBenchRows(table).rows.map((r) => r.id).filter((id) => id !== BASELINE_MODEL)];
  const missing = wanted.filter((m) => !group.rows.includes(m));
  const base = group.records.find((r) => r.row === BASELINE_MODEL);
  const baselineImgPerSec = base ? num(base.metrics.imgPerSec) : null;
  const torchBase = group.records.find((r) => r.row === BASELINE_MODEL && num(r.metrics.torchMsPerImg) !== null);
  const agreement = torchRankAgreement(throughputRows(records, table, { group: group.key }));
  const torchLines = !group.hasTorch ? [`No PyTorch numbers in this group (${cmd} adds them).`]
    : torchBase ? [
      `PyTorch here (--vs torch, same settings): ConvMixers through scripts/bench_torch.py (the paper's Appendix D model), ResNet-50/101/152, ViT-B/16 and `
        + `Swin-T/S through torchvision (random init; DeiT-B is ViT-B/16); ResNet-50 ${(1000 / num(torchBase.metrics.torchMsPerImg)!).toFixed(2)} img/s (record ${torchBase.id}). `
        + 'Its ratios are to that ResNet-50, so they show how PyTorch ranks the models on this machine. '
        + `PyTorch's BLAS (its Linear and attention matmuls): ${[...new Set(group.records.filter((r) => num(r.metrics.torchMsPerImg) !== null).map((r) => (typeof r.metrics.torchBlas === 'string' ? r.metrics.torchBlas : 'not recorded')))].join('; ')}.`,
      agreement.models.length >= 2
        ? `Ranking, this engine vs PyTorch (ratios to their own ResNet-50): ${agreement.concordant} of ${agreement.pairs} pairs of the ${agreement.models.length} models timed by both in the same order`
          + `${agreement.discordant.length ? `; swapped (faster here / faster in PyTorch): ${agreement.discordant.slice(0, SWAPS_LISTED).map(([a, b]) => `${a} / ${b}`).join(', ')}`
            + `${agreement.discordant.length > SWAPS_LISTED ? ` and ${agreement.discordant.length - SWAPS_LISTED} more` : ''}` : ''}.`
        : 'Fewer than two models with both ratios: no ranking to compare.',
    ]
    : [`PyTorch: some rows timed with --vs torch, but PyTorch has no ResNet-50 in this group (${torchNoteOf(group, BASELINE_MODEL)}), so no PyTorch ratios.`];
  const lines = [
    `Table ${table}: ${group.rows.length} models measured (${group.records.length} records), ${groupSettingsText(group)}.`,
    baselineImgPerSec !== null ? `ResNet-50 here: ${baselineImgPerSec.toFixed(2)} img/s (record ${base!.id}); paper: ${PAPER_RESNET50_THROUGHPUT} img/s.`
      : 'No ResNet-50 record in this group: ratios are those stored by each record (its own invocation\'s ResNet-50).',
    ...torchLines,
  ];
  if (missing.length) lines.push(`Not measured at these settings: ${missing.join(', ')} (${cmd} with the same settings resumes).`);
  if (groups.length > 1) lines.push(`Other settings with records (not shown): ${groups.filter((g) => g !== group).map((g) => `${groupSettingsText(g)} (${g.rows.length} models)`).join('; ')}.`);
  return { table, group, otherGroups: groups.filter((g) => g !== group), baselineImgPerSec, missing, lines };
}

/** How far this engine orders the models as PyTorch does: pairs of distinct models with both ratios to ResNet-50, same order or swapped. */
export interface RankAgreement {
  /** Registry models with this engine's ratio and PyTorch's (each once, ResNet-50 included). */
  models: string[];
  pairs: number;
  /** Pairs ordered alike (ties on either side count as alike). */
  concordant: number;
  /** Pairs ordered differently: [faster here, faster in PyTorch]. */
  discordant: Array<[string, string]>;
}

export function torchRankAgreement(rows: ThroughputRow[]): RankAgreement {
  const byModel = new Map<string, { here: number; torch: number }>();
  for (const r of rows) if (r.model && r.ratio !== null && r.torchRatio !== null && !byModel.has(r.model)) byModel.set(r.model, { here: r.ratio, torch: r.torchRatio });
  const models = [...byModel.keys()];
  const discordant: Array<[string, string]> = [];
  let pairs = 0;
  for (let i = 0; i < models.length; i++) {
    for (let j = i + 1; j < models.length; j++) {
      pairs++;
      const a = byModel.get(models[i]!)!, b = byModel.get(models[j]!)!;
      if ((a.here - b.here) * (a.torch - b.torch) < 0) discordant.push(a.here > b.here ? [models[i]!, models[j]!] : [models[j]!, models[i]!]);
    }
  }
  return { models, pairs, concordant: pairs - discordant.length, discordant };
}

/**
 * Parameters (exact; printed where the suite builds no model) against throughput relative to ResNet-50: the paper's
 * points and this engine's, ConvMixers apart from the other models; both axes logarithmic. Rows that repeat a point
 * (Table 2's ★ and plain rows of one model, a model in both tables) are drawn once, the first row's measurement winning.
 */
export function throughputScatter(rows: ThroughputRow[], opts: { title?: string } = {}): Figure {
  const points = new Map<string, { labels: string[]; x: number; y: number; group: string; detail: string }>();
  const kind = (r: ThroughputRow) => (r.family === 'convmixer' || r.network.startsWith('ConvMixer') ? 'ConvMixer' : 'other models');
  const add = (key: string, label: string, p: { x: number; y: number; group: string; detail: string }) => {
    const e = points.get(key);
    if (!e) points.set(key, { labels: [label], ...p });
    else if (!e.labels.includes(label)) e.labels.push(label);
  };
  const where = (r: ThroughputRow) => `p${r.patch ?? '-'}${r.kernel !== null ? ` k${r.kernel}` : ''}`;
  for (const r of rows) {
    const x = (r.params ?? r.paramsPrinted * 1e6) / 1e6;
    if (r.paperRatio !== null) {
      add(`paper|${r.model ?? r.network}|${where(r)}|${r.paperImgPerSec}`, r.network,
        { x, y: r.paperRatio, group: `paper [reference]: ${kind(r)}`, detail: `${where(r)}; paper ${r.paperImgPerSec} img/s` });
    }
    if (r.ratio !== null && r.model) {
      add(`here|${r.model}`, r.model, { x, y: r.ratio, group: `this engine here: ${kind(r)}`, detail: `${where(r)}; ${r.imgPerSec?.toFixed(2)} img/s here` });
    }
  }
  return scatterFigure([...points.values()].map((p) => ({ label: `${p.labels.join(' / ')} (${p.detail})`, x: p.x, y: p.y, group: p.group })), {
    title: opts.title ?? 'Parameters vs throughput relative to ResNet-50', xTitle: 'parameters (millions)', yTitle: 'img/s relative to ResNet-50', logX: true, logY: true,
  });
}

/** Pairs of Table 2 ConvMixers that differ in kernel and/or patch size only: the paper's explanation of ConvMixer's low throughput. */
export const THROUGHPUT_CONTRASTS: ReadonlyArray<{ what: string; slower: string; faster: string }> = [
  { what: 'ConvMixer-1536/20, kernel 9 -> 3 (patch 7)', slower: 'convmixer_1536_20', faster: 'convmixer_1536_20_k3' },
  { what: 'ConvMixer-1536/20, patch 7 -> 14 (kernel 9)', slower: 'convmixer_1536_20', faster: 'convmixer_1536_20_p14' },
  { what: 'ConvMixer-768/32, patch 7 -> 14 and kernel 7 -> 3', slower: 'convmixer_768_32', faster: 'convmixer_768_32_k3_p14' },
];

export interface ThroughputContrast {
  what: string;
  slower: string;
  faster: string;
  /** Multiply-adds of the slower model / of the faster one: the speed-up if time followed arithmetic. */
  macRatio: number;
  /** Share of the slower model's multiply-adds in its depthwise convolutions. */
  depthwiseShare: number;
  /** Faster img/s / slower img/s: paper [reference], this engine here, PyTorch here. */
  paperSpeedup: number | null;
  hereSpeedup: number | null;
  torchSpeedup: number | null;
}

/** The speed-ups of THROUGHPUT_CONTRASTS on the paper's GPU, on this engine and in PyTorch here, next to the ratio of multiply-adds. */
export function throughputContrasts(rows: ThroughputRow[]): ThroughputContrast[] {
  const first = (model: string) => rows.find((r) => r.model === model && r.role === 'row') ?? null;
  const speedup = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? a / b : null);
  return THROUGHPUT_CONTRASTS.map((c) => {
    const slow = first(c.slower), fast = first(c.faster);
    const macs = (m: string) => convMixerMacs(resolveConfig(m), modelInfo(m).defaultCfg.inputSize[1]);
    const ms = macs(c.slower), mf = macs(c.faster);
    return {
      ...c, macRatio: ms.total / mf.total, depthwiseShare: ms.depthwise / ms.total,
      paperSpeedup: speedup(fast?.paperImgPerSec, slow?.paperImgPerSec), hereSpeedup: speedup(fast?.imgPerSec, slow?.imgPerSec),
      torchSpeedup: speedup(fast?.torchImgPerSec, slow?.torchImgPerSec),
    };
  });
}

/** A finished `convmixer eval imagenet` record, with the paper's printed top-1 of the rows of that model [reference]. */
export interface ImageNetEvalRow {
  record: string;
  model: string;
  weights: string;
  weightsSha256: string;
  images: number | null;
  /** --limit N (first N images), null for the whole validation set. */
  limit: number | null;
  top1: number | null;
  top5: number | null;
  /** e.g. 'Table 2 ConvMixer-1536/20★ 82.2; Table 1 ConvMixer-1536/20 81.37' (which row the weights belong to is not in the record). */
  paperTop1: string;
  machine: string;
  date: string;
}

export function imagenetEvalRows(records: RunRecord[]): ImageNetEvalRow[] {
  return records.filter((r) => r.kind === 'eval' && r.experiment === 'imagenet-eval' && r.status === 'finished')
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .map((r) => {
      const model = String(r.config.model ?? '');
      const paper = [...TABLE1, ...TABLE2].filter((p) => (p.model ?? comparisonModel(p)) === model && p.top1 !== null);
      const weights = String(r.config.weights ?? '');
      return {
        record: r.id, model, weights: weights.split('/').pop() ?? weights, weightsSha256: String(r.config.weightsSha256 ?? '').slice(0, 12),
        images: num(r.metrics.images), limit: num(r.config.limit), top1: num(r.metrics.top1), top5: num(r.metrics.top5),
        paperTop1: paper.map((p) => `Table ${p.table} ${paperRowLabel(p)} ${p.top1}`).join('; ') || '—',
        machine: machineText(r), date: r.startedAt.slice(0, 10),
      };
    });
}
