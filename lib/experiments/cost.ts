// What a CIFAR-10 table costs on this machine, in hours, before it is run: the quick protocol's budget is sized in
// CPU-hours (README "The quick protocol and its pilot"), and a runner that trains for many sessions should say how much
// is left. The estimate is a linear model of a run's wall time, fitted to this machine's finished runs:
//   seconds = a * training images + b * GEMM work (GMAC) + c * depthwise work (GMAC)
// GEMM work (patch embedding, pointwise convs, head) and depthwise work are counted apart because the engine does
// them at very different speeds per multiply-add; the per-image term is augmentation, data and bookkeeping.
import { convMixerMacs, type ConvMixerConfig } from '../models/convmixer.ts';
import { loadRunRecords, machineInfo, RESULTS_DIR, type Profile, type RunRecord } from '../runRecord.ts';
import { EXPERIMENT_TABLES, planRuns, runStatus, type Dirs, type PlannedRun } from './runner.ts';
import type { Recipe } from '../train/config.ts';
import { primaryMetric, rowRecipe, type ExperimentTable } from './table.ts';

/** The work of one CIFAR-10 training run (a training image costs three forward passes; evaluation one). */
export interface RunWork { trainImages: number; gemmGmac: number; depthwiseGmac: number }

/** CIFAR-10's split sizes: a subset of 0 means the whole split. */
const CIFAR_TRAIN = 50000, CIFAR_TEST = 10000, IMAGE_SIZE = 32;

export function runWork(c: { model: ConvMixerConfig; epochs: number; trainSubset: number; testSubset: number; evaluate?: boolean }): RunWork {
  const train = c.trainSubset || CIFAR_TRAIN, test = c.evaluate === false ? 0 : c.testSubset || CIFAR_TEST;
  const passes = c.epochs * (3 * train + test);
  const m = convMixerMacs(c.model, IMAGE_SIZE);
  return { trainImages: c.epochs * train, gemmGmac: (passes * (m.stem + m.pointwise + m.head)) / 1e9, depthwiseGmac: (passes * m.depthwise) / 1e9 };
}

export interface CostModel {
  /** Seconds per training image, per GEMM GMAC, per depthwise GMAC. */
  perImage: number; perGemmGmac: number; perDepthwiseGmac: number;
  /** How many finished runs it was fitted to, and the largest relative error on them. */
  fittedOn: number; maxRelError: number;
  /** The machine it describes (CPU model and cores of those runs). */
  machine: string;
}

export function estimateSeconds(model: CostModel, w: RunWork): number {
  return model.perImage * w.trainImages + model.perGemmGmac * w.gemmGmac + model.perDepthwiseGmac * w.depthwiseGmac;
}

const features = (w: RunWork): number[] => [w.trainImages, w.gemmGmac, w.depthwiseGmac];

/** Least squares of relative error (each run weighs alike, small or large) over the features in `use`; null if singular. */
function fit(xs: number[][], ys: number[], use: number[]): number[] | null {
  const k = use.length;
  const a = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  xs.forEach((x, n) => {
    const row = use.map((j) => x[j]! / ys[n]!);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) a[i]![j]! += row[i]! * row[j]!;
      a[i]![k]! += row[i]!; // target: y / y = 1
    }
  });
  for (let i = 0; i < k; i++) { // Gauss-Jordan with partial pivoting
    let p = i;
    for (let r = i + 1; r < k; r++) if (Math.abs(a[r]![i]!) > Math.abs(a[p]![i]!)) p = r;
    [a[i], a[p]] = [a[p]!, a[i]!];
    if (Math.abs(a[i]![i]!) < 1e-12 * Math.max(1, Math.abs(a[0]![0]!))) return null;
    for (let r = 0; r < k; r++) {
      if (r === i) continue;
      const f = a[r]![i]! / a[i]![i]!;
      for (let c = i; c <= k; c++) a[r]![c]! -= f * a[i]![c]!;
    }
  }
  const coef = [0, 0, 0];
  use.forEach((j, i) => { coef[j] = a[i]![k]! / a[i]![i]!; });
  return coef;
}

/** The run's work, from a finished CIFAR-10 ConvMixer training record; null for anything else. */
export function recordWork(r: RunRecord): RunWork | null {
  const c = r.config as Record<string, unknown>;
  const model = c['model'] as ConvMixerConfig | undefined;
  if (r.kind !== 'train' || r.status !== 'finished' || c['dataset'] !== 'cifar10' || !model || typeof model.dim !== 'number') return null;
  if (typeof c['epochs'] !== 'number' || typeof c['trainSubset'] !== 'number' || typeof c['testSubset'] !== 'number') return null;
  return runWork({ model, epochs: c['epochs'], trainSubset: c['trainSubset'], testSubset: c['testSubset'], evaluate: c['evaluate'] !== false });
}

/**
 * A cost model for this machine from its most recent finished runs (`recent` of them): runs of the same CPU model and
 * core count and precision. The most recent only, because a record names a CPU model but not the exact machine (an
 * 'AMD EPYC' of one session may be two generations older than the next one's), and the engine gets faster. Runs more
 * than 50% off the first fit (a run that shared the machine) are dropped once and the model refitted; a coefficient
 * that comes out negative drops its feature. Null when fewer than 4 runs qualify. `asOf` (ISO time) fits only runs
 * finished by then: a decision taken with the costs known at one moment (the pilot's) reads the same model later.
 */
export function fitCostModel(records: RunRecord[], machine: { cpuModel: string; cores: number }, opts: { precision?: string; recent?: number; asOf?: string } = {}): CostModel | null {
  const precision = opts.precision ?? 'fp32';
  const eligible = records
    .filter((r) => r.machine.cpuModel === machine.cpuModel && r.machine.cores === machine.cores && (r.config['precision'] ?? 'fp32') === precision && (r.wallTimeSec ?? 0) > 0)
    .flatMap((r) => { const w = recordWork(r); return w ? [{ w, y: r.wallTimeSec!, at: r.finishedAt ?? r.startedAt }] : []; })
    .filter((r) => opts.asOf === undefined || r.at <= opts.asOf)
    .sort((p, q) => (p.at < q.at ? 1 : -1));
  const solve = (set: typeof eligible): number[] | null => {
    if (set.length < 4) return null;
    let use = [0, 1, 2];
    for (;;) {
      const coef = fit(set.map((r) => features(r.w)), set.map((r) => r.y), use);
      if (!coef) return null;
      const neg = use.filter((j) => coef[j]! < 0);
      if (!neg.length) return coef;
      use = use.filter((j) => !neg.includes(j));
      if (!use.length) return null;
    }
  };
  const relErr = (coef: number[], r: (typeof eligible)[number]): number => Math.abs(features(r.w).reduce((s, x, j) => s + x * coef[j]!, 0) / r.y - 1);
  // The newest `recent` runs; while they cannot separate the three costs (a table's rows of one architecture in a row,
  // so the least-squares system is singular), the window doubles into older runs.
  let n = Math.min(eligible.length, opts.recent ?? 16);
  let runs = eligible.slice(0, n);
  let coef = solve(runs);
  while (!coef && n < eligible.length) {
    n = Math.min(eligible.length, 2 * n);
    runs = eligible.slice(0, n);
    coef = solve(runs);
  }
  if (!coef) return null;
  const kept = runs.filter((r) => relErr(coef!, r) <= 0.5);
  const refit = kept.length < runs.length ? solve(kept) : coef;
  const used = refit ? kept : runs;
  coef = refit ?? coef;
  return {
    perImage: coef[0]!, perGemmGmac: coef[1]!, perDepthwiseGmac: coef[2]!, fittedOn: used.length,
    maxRelError: Math.max(...used.map((r) => relErr(coef!, r))), machine: `${machine.cores} x ${machine.cpuModel}`,
  };
}

/** The recipe of a planned run: its owner row's (a shared run is planned under the table that owns it). */
function plannedRecipe(table: ExperimentTable, run: PlannedRun): Recipe {
  const owner = EXPERIMENT_TABLES[run.table] ?? table;
  return rowRecipe(owner, owner.rows.find((r) => r.id === run.row)!, run.profile, run.seed);
}

/** What is left of a CIFAR-10 table at a profile: runs not finished, and their estimated hours on this machine. */
export interface TableCost {
  runs: number;
  runsLeft: number;
  /** Estimated hours of the runs left (an interrupted run counts its epochs left); null without a cost model. */
  hoursLeft: number | null;
  /** Estimated hours of every run of the table, done or not. */
  hoursTotal: number | null;
  model: CostModel | null;
}

/** The cost of a table's runs: null for tables that build their own recipes (segmentation, detection: not modelled). */
export function tableCost(table: ExperimentTable, profile: Profile, seeds: number, model: CostModel | null, dirs: Dirs = {}): TableCost | null {
  if (table.recipe) return null;
  let left = 0, total = 0, runsLeft = 0;
  const runs = planRuns(table, profile, seeds);
  for (const run of runs) {
    const owner = EXPERIMENT_TABLES[run.table] ?? table;
    const recipe = plannedRecipe(table, run);
    const secs = model ? estimateSeconds(model, runWork(recipe)) : 0;
    total += secs;
    const st = runStatus(run, recipe.epochs, dirs, primaryMetric(owner), recipe);
    if (st.state === 'finished') continue;
    runsLeft++;
    left += secs * (1 - Math.min(st.epochsDone, recipe.epochs) / recipe.epochs);
  }
  return { runs: runs.length, runsLeft, hoursLeft: model ? left / 3600 : null, hoursTotal: model ? total / 3600 : null, model };
}

/** One line for the CLI and notebooks: '40 runs left, about 5.3 h on this machine (...)'. */
export function tableCostLine(c: TableCost): string {
  if (!c.runsLeft) return `all ${c.runs} runs finished`;
  if (!c.model || c.hoursLeft === null) return `${c.runsLeft} of ${c.runs} runs left (no estimate: fewer than 4 finished CIFAR-10 runs on this machine)`;
  return `${c.runsLeft} of ${c.runs} runs left, about ${c.hoursLeft.toFixed(1)} h of ${c.hoursTotal!.toFixed(1)} h on this machine ` +
    `(${c.model.machine}; cost model fitted to its ${c.model.fittedOn} most recent finished runs, each within ${Math.round(100 * c.model.maxRelError)}%)`;
}

/**
 * The cost model of a machine (default: this one) from the finished runs in `resultsDir` (default reports/results).
 * Notebooks pass the machine that made a table's runs, so that a report rendered elsewhere shows the same estimate.
 */
export function machineCostModel(resultsDir?: string, precision = 'fp32', machine: { cpuModel: string; cores: number } = machineInfo(), asOf?: string): CostModel | null {
  return fitCostModel(loadRunRecords({ kind: 'train', status: 'finished' }, resultsDir ?? RESULTS_DIR), machine, { precision, asOf });
}

/**
 * Estimated hours of every distinct run of `tables` with `seeds` seeds if the protocol trained `epochs` epochs (the
 * pilot's question: which budgets can the tables afford). A run several tables share counts once.
 */
export function hoursAtEpochs(tables: ExperimentTable[], profile: Profile, seeds: number, epochs: number, model: CostModel): { runs: number; hours: number } {
  const seen = new Set<string>();
  let secs = 0;
  for (const table of tables) for (const run of planRuns(table, profile, seeds)) {
    if (seen.has(run.runId)) continue;
    seen.add(run.runId);
    const recipe = plannedRecipe(table, run);
    secs += estimateSeconds(model, runWork({ ...recipe, epochs }));
  }
  return { runs: seen.size, hours: secs / 3600 };
}
