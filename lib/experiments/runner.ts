// The experiment runner: trains the missing runs of a table (row x seed at one profile), resumes interrupted ones
// from their checkpoints, skips finished ones, and reports each row's state. Stop it at any time (Ctrl-C, kill,
// the end of a session) and start it again: it picks up where the runs' checkpoints are.
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunRecord, RESULTS_DIR, type Profile, type RunRecord } from '../runRecord.ts';
import { loadCheckpoint, runCheckpointDir, runLockPath, CHECKPOINTS_DIR } from '../train/checkpoint.ts';
import { lockOwner } from '../lock.ts';
import { UserError } from '../errors.ts';
import { keptWeightsPath, primaryMetric, tableRowRecipe, rowTrainConfig, runIdOf, type ExperimentRow, type ExperimentTable } from './table.ts';
import { SEGMENTATION_EXPERIMENT } from './segmentation.ts';
import { DETECTION_EXPERIMENT } from './detection.ts';
import { atomicWrite, removeStaleTemps } from '../io.ts';
import { flattenRecipe, withKeysAddedLater } from '../train/config.ts';
import type { TrainHooks } from '../train/loop.ts';
import { PILOT } from './pilot.ts';
import { PRECISION_EXPERIMENT } from './precision.ts';
import { TABLE3_EXPERIMENT } from './table3.ts';
import { TABLE4_EXPERIMENT } from './table4.ts';

/** One training run of a table: a row (or the row it is the same run as) at one profile and seed. */
export interface PlannedRun {
  table: string;
  row: string;
  seed: number;
  profile: Profile;
  runId: string;
}

/** 'stale': a finished run whose record was trained under another recipe than the table's current one (a protocol changed). */
export type RunState = 'finished' | 'stale' | 'running' | 'interrupted' | 'failed' | 'diverged' | 'missing';

export interface RunStatus extends PlannedRun {
  state: RunState;
  /** Final test accuracy (0-1) of a finished run (classification tables). */
  testAcc: number | null;
  /** The table's primary metric (0-1) of a finished run: testAcc, testMIoU, ... */
  score: number | null;
  epochsDone: number;
  epochs: number;
  reason: string | null;
  record: RunRecord | null;
}

export interface Dirs { resultsDir?: string; checkpointRoot?: string }

/** Every table the runner knows, by id. */
export const EXPERIMENT_TABLES: Readonly<Record<string, ExperimentTable>> = {
  table3: TABLE3_EXPERIMENT, table4: TABLE4_EXPERIMENT, pilot: PILOT, segmentation: SEGMENTATION_EXPERIMENT, detection: DETECTION_EXPERIMENT,
  precision: PRECISION_EXPERIMENT,
};

export function experimentTable(id: string): ExperimentTable {
  const t = EXPERIMENT_TABLES[id];
  if (!t) throw new UserError(`unknown table '${id}' (expected one of: ${Object.keys(EXPERIMENT_TABLES).join(', ')})`);
  return t;
}

/** The tables in the order that decides which row owns a run that several rows share: the first row with that recipe. */
const OWNER_ORDER = ['pilot', 'table3', 'table4'];

/** A recipe without its experiment name: two rows with the same key are the same run. */
function recipeKey(table: ExperimentTable, row: ExperimentRow, profile: Profile): string {
  const flat = flattenRecipe(tableRowRecipe(table, row, profile, 0));
  delete flat['experiment'];
  return JSON.stringify(Object.keys(flat).sort().map((k) => [k, flat[k]]));
}

/**
 * Which row's run each row of `table` is at `profile`. Rows whose recipes are equal (apart from the experiment name)
 * are the same run and share one record, under the first such row in OWNER_ORDER: Table 3's baseline is Table 4's
 * kernel-9 row, and a pilot row whose budget equals the quick protocol's is that profile's table run. Found by
 * comparing recipes, so it follows the protocols instead of a hand-kept list.
 */
export function runOwners(table: ExperimentTable, profile: Profile): Map<string, { owner: ExperimentTable; row: ExperimentRow }> {
  // A table with its own recipes (segmentation) shares no runs with the CIFAR-10 tables.
  const ordered = table.recipe ? [table] : [...OWNER_ORDER.map((id) => EXPERIMENT_TABLES[id]!), ...(OWNER_ORDER.includes(table.id) ? [] : [table])];
  const first = new Map<string, { owner: ExperimentTable; row: ExperimentRow }>();
  for (const t of ordered) for (const r of t.rows) {
    const key = recipeKey(t, r, profile);
    if (!first.has(key)) first.set(key, { owner: t, row: r });
  }
  return new Map(table.rows.map((r) => [r.id, first.get(recipeKey(table, r, profile))!]));
}

/** The runs a table needs at a profile for seeds 0..seeds-1, in table order; a shared run appears once, under its owner's id. */
export function planRuns(table: ExperimentTable, profile: Profile, seeds: number): PlannedRun[] {
  const owners = runOwners(table, profile);
  const out: PlannedRun[] = [];
  const seen = new Set<string>();
  for (const row of table.rows) {
    const { owner, row: ownerRow } = owners.get(row.id)!;
    for (let seed = 0; seed < seeds; seed++) {
      const runId = runIdOf(owner.id, ownerRow.id, profile, seed);
      if (seen.has(runId)) continue;
      seen.add(runId);
      out.push({ table: owner.id, row: ownerRow.id, seed, profile, runId });
    }
  }
  return out;
}

/** Shard i of n (1-based): every n-th run starting at i-1, so n machines split a table without talking to each other. */
export function shardRuns<T>(runs: T[], shard: { index: number; count: number } | null): T[] {
  if (!shard) return runs;
  return runs.filter((_, k) => k % shard.count === shard.index - 1);
}

/** Parses '--shard i/n'. */
export function parseShard(raw: string | undefined): { index: number; count: number } | null {
  if (raw === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UserError(`--shard: expected i/n with 1 <= i <= n (e.g. 2/4), got '${raw}'`);
  return { index, count };
}

/** Where a planned run stands, from its run record and checkpoint. */
export function runStatus(run: PlannedRun, epochs: number, dirs: Dirs = {}, primary = 'testAcc', recipe: unknown = null): RunStatus {
  const recordPath = join(dirs.resultsDir ?? RESULTS_DIR, `${run.runId}.json`);
  const parsed = existsSync(recordPath) ? parseRunRecord(readFileSync(recordPath, 'utf8')) : null;
  const record = parsed && 'record' in parsed ? parsed.record : null;
  const ckptEpoch = checkpointEpoch(run.runId, dirs);
  const ckpt = ckptEpoch !== null;
  // A run that resumes continues from its checkpoint, whatever its record says (the record may be gone or older).
  const epochsDone = ckpt && record?.status !== 'finished' ? ckptEpoch : (record?.epochs?.length ?? 0);
  const base = { ...run, record, epochs, epochsDone, testAcc: null as number | null, score: null as number | null, reason: null as string | null };
  if (!record) return { ...base, state: ckpt ? 'interrupted' : 'missing' };
  if (record.status === 'finished') {
    const changed = recipe === null ? null : recipeChange(record, recipe);
    if (changed) return { ...base, state: 'stale', score: (record.metrics[primary] as number | null) ?? null, reason: `trained with ${changed}` };
    return { ...base, state: 'finished', testAcc: (record.metrics['testAcc'] as number | null) ?? null, score: (record.metrics[primary] as number | null) ?? null };
  }
  if (record.status === 'failed' && record.metrics['failure'] === 'diverged') return { ...base, state: 'diverged', reason: record.notes ?? null };
  // A stopped run (Ctrl-C, SIGTERM: failure 'aborted') is not a failure of the run: it resumes, or starts again.
  if (record.status === 'failed' && record.metrics['failure'] !== 'aborted' && !ckpt) return { ...base, state: 'failed', reason: record.notes ?? null };
  // 'running' with a live owner is running; otherwise it was stopped (kill, Ctrl-C, end of session) and resumes.
  if (record.status === 'running' && ownerAlive(run.runId, dirs)) return { ...base, state: 'running' };
  return { ...base, state: ckpt ? 'interrupted' : 'missing', reason: record.notes ?? null };
}

/**
 * How a finished record's recipe differs from the table's current one ('epochs 5, now 15'), or null when it is the same
 * run. Only the recipe's own keys are compared (a record's config adds bookkeeping: image counts, params, paths), and not
 * the experiment name, which differs for a run that several tables share.
 */
export function recipeChange(record: RunRecord, recipe: unknown): string | null {
  const now = flattenRecipe(recipe), then = flattenRecipe(withKeysAddedLater(record.config));
  delete now['experiment'];
  const diffs = Object.keys(now).filter((k) => JSON.stringify(then[k]) !== JSON.stringify(now[k]));
  if (!diffs.length) return null;
  const show = (v: unknown): string => (v === undefined ? 'unset' : JSON.stringify(v));
  return diffs.slice(0, 3).map((k) => `${k} ${show(then[k])}, now ${show(now[k])}`).join('; ') + (diffs.length > 3 ? ` (+${diffs.length - 3} more)` : '');
}

/** The epoch a run's checkpoint resumes after, or null without a usable one. */
function checkpointEpoch(runId: string, dirs: Dirs): number | null {
  try {
    return loadCheckpoint(runCheckpointDir(runId, dirs.checkpointRoot ?? CHECKPOINTS_DIR))?.manifest.epoch ?? null;
  } catch {
    return null; // a damaged checkpoint: the run starts again (the runner says so)
  }
}

/** Whether a live process holds the run's lock (trainRun takes it for as long as it trains the run; lib/lock.ts). */
function ownerAlive(runId: string, dirs: Dirs): boolean {
  return lockOwner(runLockPath(runId, dirs.checkpointRoot ?? CHECKPOINTS_DIR)) !== null;
}

export interface RunTableOptions extends Dirs {
  profile: Profile;
  seeds: number;
  shard: { index: number; count: number } | null;
  /** Train again runs whose record says they diverged or failed without a checkpoint. */
  retryFailed?: boolean;
  /** Train again finished runs whose recipe changed since (state 'stale'); their old checkpoints are moved aside, not deleted. */
  retrainStale?: boolean;
  /** Dataset root (the folder holding cifar10/); default data/ or $CONVMIXER_DATA. */
  dataRoot?: string;
  signal?: AbortSignal;
  log?(line: string): void;
  hooks?: Omit<TrainHooks, 'signal' | 'resultsDir' | 'checkpointRoot'>;
}

export interface RunTableResult { trained: string[]; skipped: string[]; failed: string[] }

/** Trains what is missing of a table (this shard's share), one run at a time, resuming interrupted runs. */
export async function runTable(table: ExperimentTable, opts: RunTableOptions): Promise<RunTableResult> {
  const log = opts.log ?? (() => {});
  const { trainRun } = await import('../train/loop.ts');
  const runs = shardRuns(planRuns(table, opts.profile, opts.seeds), opts.shard);
  const tableOf = (id: string): ExperimentTable => (id === table.id ? table : EXPERIMENT_TABLES[id]!);
  const result: RunTableResult = { trained: [], skipped: [], failed: [] };
  removeStaleTemps(opts.resultsDir ?? RESULTS_DIR); // temporary files of a killed earlier runner
  for (const [k, run] of runs.entries()) {
    if (opts.signal?.aborted) break;
    const row = tableOf(run.table).rows.find((r) => r.id === run.row)!;
    const config = rowTrainConfig(tableOf(run.table), row, run.profile, run.seed, { backend: 'auto', dataRoot: opts.dataRoot });
    const primary = primaryMetric(tableOf(run.table));
    const st = runStatus(run, config.epochs, opts, primary, tableRowRecipe(tableOf(run.table), row, run.profile, run.seed));
    const tag = `[${k + 1}/${runs.length}] ${run.runId}`;
    if (st.state === 'finished') keepWeights(row, run, opts, log);
    if (st.state === 'finished' || st.state === 'running' || ((st.state === 'diverged' || st.state === 'failed') && !opts.retryFailed) || (st.state === 'stale' && !opts.retrainStale)) {
      const hint = st.state === 'stale' ? '; --retrain-stale trains it again under the current recipe' : '';
      log(`${tag}: ${st.state}${st.state === 'finished' ? ` (${pct(st.score)})` : st.reason ? ` (${st.reason})` : ''}, skipped${hint}`);
      result.skipped.push(run.runId);
      continue;
    }
    if (st.state === 'stale') log(`${tag}: ${st.reason}; ${supersede(run.runId, st.record!, opts)}`);
    const resume = st.state === 'interrupted';
    log(`${tag}: ${resume ? `resuming after epoch ${st.epochsDone}` : 'training'} (${row.label}; ${config.epochs} epoch${config.epochs > 1 ? 's' : ''} on ${config.trainSubset || 'all'} ${'height' in config ? 'frames' : 'images'}, seed ${run.seed})`);
    try {
      // A run this runner owns and retrains from scratch (no record, or one that says it failed/diverged/stopped without a
      // checkpoint) replaces its record; anything else keeps trainRun's refusal to overwrite a record.
      const overwrite = !resume && (st.state === 'missing' || st.state === 'failed' || st.state === 'diverged' || st.state === 'stale');
      const out = await trainRun({ ...config, run: { ...config.run, resume, overwrite } }, { ...opts.hooks, signal: opts.signal, resultsDir: opts.resultsDir, checkpointRoot: opts.checkpointRoot });
      out.model.dispose();
      keepWeights(row, run, opts, log);
      log(`${tag}: finished, ${primary} ${pct(out.record.metrics[primary] as number | null)}`);
      result.trained.push(run.runId);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (!(err instanceof UserError)) throw err;
      log(`${tag}: ${err.message}`);
      result.failed.push(run.runId);
    }
  }
  return result;
}

/**
 * Before a stale run trains again: its checkpoint folder (final weights included) moves to <checkpoints>/superseded/,
 * named by when the old run finished, so the new run starts clean and nothing is deleted. The old record is replaced
 * when the new run writes its own (git keeps the committed one).
 */
function supersede(runId: string, record: RunRecord, dirs: Dirs): string {
  const root = dirs.checkpointRoot ?? CHECKPOINTS_DIR;
  const src = runCheckpointDir(runId, root);
  if (!existsSync(src)) return 'training it again under the current recipe';
  const dest = join(root, 'superseded', `${runId}@${(record.finishedAt ?? record.startedAt ?? 'unknown').replace(/[:.]/g, '-')}`);
  if (existsSync(dest)) throw new UserError(`cannot move ${src} aside: ${dest} exists already; move or delete one of them`);
  mkdirSync(join(root, 'superseded'), { recursive: true });
  renameSync(src, dest);
  return `its old checkpoints moved to ${dest}; training it again under the current recipe`;
}

/** Copies a finished seed-0 run's final weights to reports/weights/ when its row asks for it and they are not there yet. */
function keepWeights(row: ExperimentRow, run: PlannedRun, dirs: Dirs, log: (line: string) => void): void {
  if (!row.keepWeights || run.seed !== 0 || dirs.resultsDir) return; // (runs into other folders are not the shipped ones)
  const dest = keptWeightsPath(run.runId);
  const src = join(dirs.checkpointRoot ?? CHECKPOINTS_DIR, run.runId, 'final.weights.safetensors');
  if (existsSync(dest) || !existsSync(src)) return;
  atomicWrite(dest, readFileSync(src));
  log(`  kept its weights: ${dest}`);
}

/** Each row of a table at a profile: its runs' states, the mean and spread of their accuracy, the paper's value. */
export interface RowStatus {
  table: string;
  id: string;
  label: string;
  group: string;
  /** The row whose runs this row reports (itself, or the row it is the same run as). */
  runOf: { table: string; row: string };
  paper: number | null;
  runs: RunStatus[];
  /** Every seed finished. */
  done: boolean;
  /** Mean / sample std of the table's primary metric (%; test accuracy for CIFAR-10) over finished seeds; null without finished runs. */
  value: number | null;
  std: number | null;
  seedsFinished: number;
}

export function tableStatus(table: ExperimentTable, profile: Profile, seeds: number, dirs: Dirs = {}): RowStatus[] {
  const owners = runOwners(table, profile);
  const out: RowStatus[] = [];
  for (const row of table.rows) {
    const { owner, row: ownerRow } = owners.get(row.id)!;
    const runOf = { table: owner.id, row: ownerRow.id };
    const epochs = tableRowRecipe(owner, ownerRow, profile, 0).epochs;
    const primary = primaryMetric(owner);
    const runs = Array.from({ length: seeds }, (_, seed) => runStatus({ ...runOf, seed, profile, runId: runIdOf(owner.id, ownerRow.id, profile, seed) }, epochs, dirs, primary, tableRowRecipe(owner, ownerRow, profile, seed)));
    const accs = runs.filter((r) => r.state === 'finished' && r.score !== null).map((r) => 100 * r.score!);
    const mean = accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : null;
    const std = accs.length > 1 ? Math.sqrt(accs.reduce((a, b) => a + (b - mean!) ** 2, 0) / (accs.length - 1)) : null;
    out.push({ table: table.id, id: row.id, label: row.label, group: row.group, runOf, paper: row.paper?.accuracy ?? null, runs, done: runs.every((r) => r.state === 'finished'), value: mean, std, seedsFinished: accs.length });
  }
  return out;
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(100 * x).toFixed(2)}%`;
}
