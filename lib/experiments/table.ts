// Experiments are data: a table is a list of typed rows, each a change relative to the paper's CIFAR-10 recipe, plus
// a protocol per profile that shrinks only what every row shares (epochs, training subset, test subset, batch).
// The runner (runner.ts) turns (table, row, profile, seed) into a TrainConfig; nothing here is a CLI string.
import { PROFILE_DEFAULTS, buildRecipe, type Recipe, type RecipeOverrides, type TrainConfig, type RunOptions } from '../train/config.ts';
import { resolveConfig, registryName, type ConvMixerConfig } from '../models/convmixer.ts';
import type { Profile } from '../runRecord.ts';
import { join } from 'node:path';
import { REPO_ROOT } from '../io.ts';
import type { SegRecipe, SegTrainConfig } from '../train/segConfig.ts';
import type { DetRecipe, DetTrainConfig } from '../train/detConfig.ts';

/** What the paper printed for a row (reference data, never a result of this suite). */
export interface PaperValue {
  /** CIFAR-10 accuracy (%), 200 epochs, full data. */
  accuracy: number;
  /** Printed parameter count in thousands, where the paper prints one. */
  paramsK?: number;
  /** Printed weight decay; null where the value was lost in the text extraction. */
  weightDecay?: number | null;
}

export interface ExperimentRow {
  /** Stable id within its table, used in run ids: letters, digits and '-'. */
  id: string;
  /** The row's label as the paper prints it. */
  label: string;
  /** The paper's section / group of rows (Table 4's "kernel adjustments", Table 3's "architecture" or "recipe"). */
  group: string;
  /** A registry model (lib/models/convmixer.ts MODELS); its numClasses must be 10. */
  model: string;
  /** Recipe changes relative to the paper recipe (e.g. { augment: { randAugment: null } } for "- RandAug"). */
  recipe?: RecipeOverrides;
  paper: PaperValue | null;
  /** A note shown beside the row (e.g. where a value is our choice because the paper's was not printed). */
  note?: string;
  /** Keep the trained weights of its seed-0 run under reports/weights/ (shipped, for Appendix C's pictures). */
  keepWeights?: boolean;
}

/** What a profile shrinks for every row of a table alike; the rest is the paper's recipe. */
export interface Protocol {
  trainSubset: number;
  testSubset: number;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  /** Smoke only: shrink the model so a table runs in seconds (its numbers test the plumbing, nothing else). */
  shrinkModel?: (c: ConvMixerConfig) => ConvMixerConfig;
  /** Why these values (shown in notebooks and `experiment list`). */
  why: string;
}

export interface ExperimentTable {
  id: string;
  title: string;
  /** Where the rows come from (paper table, appendix text). */
  source: string;
  rows: ExperimentRow[];
  protocols: Record<Profile, Protocol>;
  /** The metric a row reports (a key of its runs' final metrics, higher is better); default testAcc. */
  primary?: string;
  /**
   * The recipe of a row for tables that are not the paper's CIFAR-10 classification (segmentation, detection): built by the table
   * itself from the row and the profile's protocol. Absent: the paper's CIFAR-10 recipe with the row's changes (rowRecipe).
   */
  recipe?: (row: ExperimentRow, profile: Profile, seed: number) => SegRecipe | DetRecipe;
}

/** The metric the rows of a table report. */
export const primaryMetric = (table: ExperimentTable): string => table.primary ?? 'testAcc';

/** The paper's CIFAR-10 recipe (Appendix B + the authors' timm command): every recipe key of the paper profile. */
export function paperRecipe(): RecipeOverrides {
  const { modelName: _n, modelOverrides: _o, augment, ...rest } = PROFILE_DEFAULTS.paper;
  return { ...rest, augment: { ...augment, ...(augment.randAugment ? { randAugment: { ...augment.randAugment } } : {}) } };
}

/** The table protocols share these: quick and paper differ only in budget. */
export const SMOKE_PROTOCOL: Protocol = {
  trainSubset: 64, testSubset: 50, epochs: 1, batchSize: 32, evalBatchSize: 50,
  shrinkModel: (c) => ({ ...c, dim: Math.max(4, Math.round(c.dim / 32)), depth: Math.max(1, Math.round(c.depth / 4)) }),
  why: 'seconds per row for tests and CI: width/32, depth/4, 64 training and 50 test images, 1 epoch; the numbers mean nothing',
};

export const PAPER_PROTOCOL: Protocol = {
  trainSubset: 0, testSubset: 0, epochs: 200, batchSize: 128, evalBatchSize: 500,
  why: 'the paper: 200 epochs on the full 50k training images, evaluated on the 10k test images, batch 128 (a GPU job)',
};

/** Where the kept weights of a run are (reports/weights/<run id>.safetensors; in git, unlike checkpoints). */
export function keptWeightsPath(runId: string, root = REPO_ROOT): string {
  return join(root, 'reports', 'weights', `${runId}.safetensors`);
}

/** Run id of one (table, row, profile, seed): also the run-record file name and the checkpoint folder. */
export function runIdOf(table: string, row: string, profile: Profile, seed: number): string {
  return `${table}-${row}-${profile}-s${seed}`;
}

/** The recipe of one row at one profile and seed: paper recipe, then the profile's protocol, then the row's change (last word). */
export function rowRecipe(table: ExperimentTable, row: ExperimentRow, profile: Profile, seed: number): Recipe {
  if (table.recipe) throw new Error(`rowRecipe: table '${table.id}' builds its own recipes (use tableRowRecipe)`);
  const protocol = table.protocols[profile];
  const base = resolveConfig(row.model);
  const model = protocol.shrinkModel ? resolveConfig(protocol.shrinkModel(base)) : base;
  const paper = paperRecipe();
  const change = row.recipe ?? {};
  const overrides: RecipeOverrides = {
    ...paper,
    trainSubset: protocol.trainSubset, testSubset: protocol.testSubset, epochs: protocol.epochs,
    batchSize: protocol.batchSize, evalBatchSize: protocol.evalBatchSize,
    ...change,
    augment: { ...paper.augment, ...(change.augment ?? {}) },
    experiment: table.id, seed, model, modelName: registryName(model),
  };
  return buildRecipe(profile, overrides);
}

/** The recipe of one row of any table: the table's own recipe builder (segmentation, detection), else rowRecipe (CIFAR-10). */
export function tableRowRecipe(table: ExperimentTable, row: ExperimentRow, profile: Profile, seed: number): Recipe | SegRecipe | DetRecipe {
  return table.recipe ? table.recipe(row, profile, seed) : rowRecipe(table, row, profile, seed);
}

/** The full training config of one run of a table row. */
export function rowTrainConfig(table: ExperimentTable, row: ExperimentRow, profile: Profile, seed: number, run: Partial<RunOptions> = {}): TrainConfig | SegTrainConfig | DetTrainConfig {
  const recipe = tableRowRecipe(table, row, profile, seed);
  return {
    ...recipe,
    run: {
      runId: runIdOf(table.id, row.id, profile, seed), resume: false, backend: 'auto', explicit: [], checkpoint: true,
      table: table.id, row: row.id, ...run,
    },
  };
}
