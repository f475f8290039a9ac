// The segmentation recipe (seed 000's Unet vs ConvMixer-Unet comparison): everything that decides what a
// segmentation run computes, validated, with per-profile defaults. It trains on the same loop as classification
// (loop.ts); only the task (tasks/segmentation.ts) differs.
//
// Seed 000, section VI: both models trained "under the same conditions": Cityscapes at 256x512, 20 epochs, batch 24,
// AdamW "with same parameters", Dice loss, random horizontal flip only, no pretraining. The seed's learning rate for
// ConvMixer-Unet (section V): 1e-3 for the first half of the epochs, 2e-4 for the second ('step' schedule below);
// the other AdamW values are PyTorch's defaults (betas 0.9/0.999, eps 1e-8, weight decay 0.01), which the seed does
// not change.
import { z } from 'zod';
import type { Profile } from '../runRecord.ts';
import { UserError } from '../errors.ts';
import { segAugmentSchema, SEED_SEG_AUGMENT, type SegAugment } from '../data/segBatch.ts';
import { modelInfo } from '../models/registry.ts';
import { optimizerFields, precisionField, type RunOptions } from './config.ts';


export const SEG_DATASETS = ['camvid', 'cityscapes'] as const;
export type SegDatasetName = (typeof SEG_DATASETS)[number];

export const segRecipeSchema = z.object({
  task: z.literal('segmentation'),
  profile: z.enum(['smoke', 'quick', 'paper']),
  experiment: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  dataset: z.enum(SEG_DATASETS),
  /** Training and evaluation resolution (frames bilinear, labels nearest). */
  height: z.number().int().min(16).max(4096),
  width: z.number().int().min(16).max(4096),
  /** The split evaluated after every epoch (the seed's comparison reports its test split). */
  evalSplit: z.enum(['val', 'test']),
  /** First n frames of each split; 0 = all (smoke only). */
  trainSubset: z.number().int().min(0),
  testSubset: z.number().int().min(0),
  /** A registry segmentation model (unet_camvid, convmixer_unet, ...) and its resolved config. */
  modelName: z.string().min(1),
  model: z.record(z.unknown()),
  epochs: z.number().int().min(1).max(10000),
  batchSize: z.number().int().min(1).max(65536),
  evalBatchSize: z.number().int().min(1).max(65536),
  lrMax: z.number().gt(0).max(10),
  /** 'step': lrMax for the first half of the epochs, lrMax * stepFactor after (the seed); 'onecycle': the paper's. */
  lrSchedule: z.enum(['step', 'onecycle']),
  stepFactor: z.number().gt(0).max(1),
  ...optimizerFields,
  ...precisionField,
  augment: segAugmentSchema,
  loss: z.literal('dice'),
  evaluate: z.boolean(),
}).strict();

export type SegRecipe = Omit<z.infer<typeof segRecipeSchema>, 'profile' | 'augment'> & { profile: Profile; augment: SegAugment };
export type SegTrainConfig = SegRecipe & { run: RunOptions };

type SegDefaults = Omit<SegRecipe, 'profile' | 'experiment' | 'seed' | 'modelName' | 'model'>;

/** What all the seed's comparison rows share, per profile (the rows choose the model). */
export const SEG_PROFILE_DEFAULTS: Record<Profile, SegDefaults> = {
  // Seconds on tfjs kernels: tiny frames, a few of them, 1 epoch; the numbers test the plumbing only.
  smoke: {
    task: 'segmentation', dataset: 'camvid', height: 32, width: 48, evalSplit: 'test', trainSubset: 8, testSubset: 4,
    epochs: 1, batchSize: 4, evalBatchSize: 4, lrMax: 1e-3, lrSchedule: 'step', stepFactor: 0.2, weightDecay: 0.01, decayBiasAndNorm: true,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0, precision: 'fp32', augment: { ...SEED_SEG_AUGMENT }, loss: 'dice', evaluate: true,
  },
  // 2 CPU cores: CamVid (the seed's Cityscapes is not public) at 96x128 (a quarter of 360x480 per side, about
  // 1/11 of the seed's 256x512 pixels), all 367 training frames, evaluated on the 233 test frames; batch 8.
  // Epochs are set by the table protocol so that one model trains within a session.
  quick: {
    task: 'segmentation', dataset: 'camvid', height: 96, width: 128, evalSplit: 'test', trainSubset: 0, testSubset: 0,
    epochs: 10, batchSize: 8, evalBatchSize: 16, lrMax: 1e-3, lrSchedule: 'step', stepFactor: 0.2, weightDecay: 0.01, decayBiasAndNorm: true,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0, precision: 'fp32', augment: { ...SEED_SEG_AUGMENT }, loss: 'dice', evaluate: true,
  },
  // The seed: 256x512, 20 epochs, batch 24 (on Cityscapes; here the dataset is a row choice).
  paper: {
    task: 'segmentation', dataset: 'cityscapes', height: 256, width: 512, evalSplit: 'val', trainSubset: 0, testSubset: 0,
    epochs: 20, batchSize: 24, evalBatchSize: 24, lrMax: 1e-3, lrSchedule: 'step', stepFactor: 0.2, weightDecay: 0.01, decayBiasAndNorm: true,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0, precision: 'fp32', augment: { ...SEED_SEG_AUGMENT }, loss: 'dice', evaluate: true,
  },
};

export type SegRecipeOverrides = Partial<Omit<SegRecipe, 'augment'>> & { augment?: Partial<SegAugment> };

/** Number of classes of a segmentation dataset (void / ignored labels excluded). */
export const SEG_NUM_CLASSES: Record<SegDatasetName, number> = { camvid: 11, cityscapes: 19 };

/**
 * The full segmentation recipe for a profile with overrides on top, validated (one-line errors naming the key).
 * The model's class count is set from the dataset, so a row names the architecture only.
 */
export function buildSegRecipe(profile: Profile, modelName: string, overrides: SegRecipeOverrides = {}): SegRecipe {
  const d = SEG_PROFILE_DEFAULTS[profile];
  const dataset = overrides.dataset ?? d.dataset;
  const info = modelInfo(modelName, { ...(overrides.model ?? {}), numClasses: SEG_NUM_CLASSES[dataset] });
  if (info.task !== 'segmentation') throw new UserError(`--model: '${modelName}' is a ${info.task} model, expected a segmentation model`);
  const candidate = {
    ...d, experiment: 'segmentation-train', seed: 0, ...overrides,
    profile, dataset, modelName: info.name, model: info.config as Record<string, unknown>,
    augment: { ...d.augment, ...(overrides.augment ?? {}) },
  };
  const parsed = segRecipeSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`segmentation recipe: '${issue.path.join('.') || 'recipe'}': ${issue.message}`);
  }
  return parsed.data as SegRecipe;
}

export function isSegRecipe<T extends object>(r: T): r is T & SegRecipe {
  return (r as { task?: unknown }).task === 'segmentation';
}
