// Status of every reproduced table, computed from run records and the paper's reference values: which rows have
// a record, the reproduced accuracy next to the paper's, the delta, the profile it ran at, and a status badge.
// Tables without any record are listed as not reproduced yet. Used by notebooks/00-overview.ipynb.
import { PROFILES, type Profile, type RunRecord } from '../runRecord.ts';
import { TABLE1, TABLE2, TABLE3, TABLE4 } from '../paper/tables.ts';
import { primaryMetric, type ExperimentTable } from '../experiments/table.ts';
import { SEGMENTATION_EXPERIMENT } from '../experiments/segmentation.ts';
import { DETECTION_EXPERIMENT } from '../experiments/detection.ts';
import { TABLE3_EXPERIMENT } from '../experiments/table3.ts';
import { TABLE4_EXPERIMENT } from '../experiments/table4.ts';
import { PILOT } from '../experiments/pilot.ts';
import { runOwners } from '../experiments/runner.ts';
import type { Badge } from './tables.ts';

export type ExperimentId = 'table1' | 'table2' | 'table3' | 'table4' | 'pilot' | 'segmentation' | 'detection' | 'cifar10-demo';

export interface ExperimentInfo {
  id: ExperimentId;
  title: string;
  /** What the paper's table measures (reference description). */
  what: string;
  /** Number of rows in the paper's table (reference data), 0 for the demo. */
  paperRows: number;
}

export const EXPERIMENTS: ExperimentInfo[] = [
  { id: 'table1', title: 'Table 1 — ConvMixers vs. other simple models (ImageNet-1k)', what: 'top-1 accuracy, parameters, throughput', paperRows: TABLE1.length },
  { id: 'table2', title: 'Table 2 — comparison with other simple models (ImageNet-1k, Appendix A)', what: 'top-1 accuracy, parameters, throughput', paperRows: TABLE2.length },
  { id: 'table3', title: 'Table 3 — ablation of ConvMixer-256/8 (CIFAR-10)', what: 'CIFAR-10 accuracy per architecture/recipe change', paperRows: TABLE3.length },
  { id: 'table4', title: 'Table 4 — tiny ConvMixers on CIFAR-10', what: 'CIFAR-10 accuracy and # params per width/depth/kernel/patch', paperRows: TABLE4.length },
  { id: 'pilot', title: 'Pilot — training budget vs seed spread (chooses the quick protocol of Tables 3 and 4)', what: 'CIFAR-10 accuracy of 4 rows at several budgets', paperRows: 0 },
  { id: 'segmentation', title: 'Seed 000 — Unet vs ConvMixer-Unet (CamVid standing in for Cityscapes)', what: 'test mean IoU (notebook 04: every column of the seed\'s table)', paperRows: 2 },
  { id: 'detection', title: 'Seed 000 — YOLO-ConvMixer on Pascal VOC (the VOC2007 subset standing in for VOC2012)', what: 'test mAP@0.5 (notebook 05: train vs test mAP, the seed reports none)', paperRows: 1 },
  { id: 'cifar10-demo', title: 'CIFAR-10 demo run (not a paper table)', what: 'a small real training run: test accuracy per epoch', paperRows: 0 },
];

export interface StatusRow {
  experiment: ExperimentId;
  /** The paper row (or model) the record reproduces. */
  row: string;
  profile: Profile | null;
  /** Reproduced value in %, from the run record: the table's primary metric (accuracy; mean IoU for segmentation; mAP@0.5 for detection). */
  reproduced: number | null;
  /** The paper's accuracy in % (reference value), when the record maps to a paper row. */
  paper: number | null;
  delta: number | null;
  status: Badge;
  runId: string | null;
  epochs: number | null;
}

/** Accuracy in percent: run records store fractions (0..1), the paper prints percents. */
export function asPercent(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return v <= 1 ? v * 100 : v;
}

interface ArchKey { dim: number; depth: number; kernelSize: number; patchSize: number }

/** The model a training record used: its registry name and architecture, wherever the recipe put them. */
export function recordModel(rec: RunRecord): { name: string | null; arch: ArchKey | null } {
  const cfg = rec.config as Record<string, unknown>;
  const model = cfg.model;
  const name = typeof cfg.modelName === 'string' ? cfg.modelName : typeof model === 'string' ? model : null;
  const m = (model && typeof model === 'object' ? model : cfg) as Record<string, unknown>;
  const arch = ['dim', 'depth', 'kernelSize', 'patchSize'].every((k) => typeof m[k] === 'number')
    ? { dim: m.dim as number, depth: m.depth as number, kernelSize: m.kernelSize as number, patchSize: m.patchSize as number }
    : null;
  return { name, arch };
}

/** Experiment tables whose runs carry a table and row id (lib/experiments/). */
const ROW_TABLES: Record<string, ExperimentTable> = { table3: TABLE3_EXPERIMENT, table4: TABLE4_EXPERIMENT, pilot: PILOT, segmentation: SEGMENTATION_EXPERIMENT, detection: DETECTION_EXPERIMENT };

/**
 * The paper row a record reproduces and the paper's accuracy for it (reference value), if any. Training runs of the
 * CIFAR tables are matched by the table and row ids they carry, never by their architecture (rows such as the
 * weight-decay ones share one); ImageNet rows by the registry name of the model.
 */
export function paperMatch(rec: RunRecord): { row: string; paper: number | null } | null {
  if (rec.table && rec.row) {
    const row = ROW_TABLES[rec.table]?.rows.find((r) => r.id === rec.row);
    return row ? { row: row.label, paper: row.paper?.accuracy ?? null } : null;
  }
  const { name } = recordModel(rec);
  if ((rec.experiment === 'table1' || rec.experiment === 'table2') && name) {
    const r = (rec.experiment === 'table1' ? TABLE1 : TABLE2).find((t) => t.model === name);
    if (r) return { row: `${r.network} k${r.kernelSize} p${r.patchSize}`, paper: r.top1 };
  }
  return null;
}

/** Largest |reproduced - paper| accuracy, in points, for each badge of a paper-profile run (beyond 'close': 'differs'). */
export const BADGE_THRESHOLDS = { reproduced: 0.5, close: 1.5 } as const;

/**
 * The badge for one record. Only runs at the paper's full settings (profile 'paper') are judged against the
 * paper, by BADGE_THRESHOLDS: 'reproduced', 'close', else 'differs'. Shorter profiles are 'partial'.
 */
export function statusOf(rec: RunRecord, delta: number | null): Badge {
  if (rec.status === 'running') return 'running';
  if (rec.status === 'failed') return 'failed';
  if (rec.profile !== 'paper' || delta === null) return 'partial';
  const d = Math.abs(delta);
  return d <= BADGE_THRESHOLDS.reproduced ? 'reproduced' : d <= BADGE_THRESHOLDS.close ? 'close' : 'differs';
}

/** The badge rule as a markdown sentence, generated from BADGE_THRESHOLDS so the notebook's text cannot drift from it. */
export function badgeRuleMarkdown(): string {
  return `Badges: only runs at the paper's full settings (\`paper\` profile) are judged against the paper — ` +
    `**reproduced** within ${BADGE_THRESHOLDS.reproduced} points, **close** within ${BADGE_THRESHOLDS.close}, ` +
    `**differs** otherwise; shorter profiles are **partial**.`;
}

/** One row per training record (newest per experiment+row), plus a 'not yet' row for every experiment without records. */
export function experimentStatus(records: RunRecord[], opts: { profile?: Profile } = {}): StatusRow[] {
  const train = records.filter((r) => r.kind === 'train' && (!opts.profile || r.profile === opts.profile));
  const rows: StatusRow[] = [];
  for (const exp of EXPERIMENTS) {
    const table = ROW_TABLES[exp.id];
    if (table) {
      rows.push(...tableRows(table, train));
      continue;
    }
    const seen = new Set<string>();
    const mine = train.filter((r) => r.experiment === exp.id).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    for (const rec of mine) {
      const match = paperMatch(rec);
      const { name, arch } = recordModel(rec);
      const label = match?.row ?? name ?? (arch ? `ConvMixer-${arch.dim}/${arch.depth} k${arch.kernelSize} p${arch.patchSize}` : rec.id);
      const key = `${label}|${rec.profile}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const reproduced = asPercent(rec.metrics.testAcc);
      const paper = match?.paper ?? null;
      const delta = reproduced !== null && paper !== null ? reproduced - paper : null;
      rows.push({ experiment: exp.id, row: label, profile: rec.profile, reproduced, paper, delta, status: statusOf(rec, delta), runId: rec.id, epochs: rec.epochs?.length ?? null });
    }
    if (mine.length === 0) rows.push(notYet(exp));
  }
  return rows;
}

function notYet(exp: ExperimentInfo): StatusRow {
  return { experiment: exp.id, row: `(${exp.paperRows ? `${exp.paperRows} paper rows` : 'no run'})`, profile: null, reproduced: null, paper: null, delta: null, status: 'not yet', runId: null, epochs: null };
}

/**
 * An experiment table's rows that have finished runs, per profile: the mean over the row's finished seeds (a row that
 * is another row's run, e.g. Table 3's baseline and the pilot's 1-epoch baseline, reports that run's records).
 */
function tableRows(table: ExperimentTable, train: RunRecord[]): StatusRow[] {
  const exp = EXPERIMENTS.find((e) => e.id === table.id)!;
  const out: StatusRow[] = [];
  for (const profile of PROFILES) {
    const owners = runOwners(table, profile);
    for (const row of table.rows) {
      const { owner, row: ownerRow } = owners.get(row.id)!;
      const runs = train.filter((r) => r.profile === profile && r.table === owner.id && r.row === ownerRow.id);
      const metric = primaryMetric(owner);
      const done = runs.filter((r) => r.status === 'finished' && typeof r.metrics[metric] === 'number').sort((a, b) => a.seed - b.seed);
      if (done.length === 0) continue;
      const reproduced = done.reduce((a, r) => a + asPercent(r.metrics[metric])!, 0) / done.length;
      const paper = row.paper?.accuracy ?? null;
      const delta = paper === null ? null : reproduced - paper;
      const status: Badge = profile === 'paper' ? statusOf(done[0]!, delta) : 'partial';
      out.push({ experiment: exp.id, row: `${row.label} (mean of ${done.length} seed${done.length > 1 ? 's' : ''})`, profile, reproduced, paper, delta, status, runId: done[0]!.id, epochs: done[0]!.epochs?.length ?? null });
    }
  }
  return out.length ? out : [notYet(exp)];
}

/**
 * The profile a report should be built at: the most thorough profile that has finished records
 * (paper > quick > smoke), or 'smoke' when there are none.
 */
export function profileWithRecords(records: RunRecord[]): Profile {
  // Only training runs: bench records carry a profile too, and must not decide which runs the report shows.
  const finished = new Set(records.filter((r) => r.kind === 'train' && r.status === 'finished').map((r) => r.profile));
  for (const p of [...PROFILES].reverse()) if (finished.has(p)) return p;
  return 'smoke';
}
