// The detection recipe (seed 000's YOLO-ConvMixer on Pascal VOC): everything that decides what a detection run
// computes, validated, with per-profile defaults. It trains on the same loop as classification and segmentation
// (loop.ts); only the task (tasks/detection.ts) differs.
//
// Seed 000, section IV: images "reshaped into a 448x448 pixel image and normalized", no augmentation, ConvMixer-768/32
// pretrained on ImageNet-1k, "classical Adam with B1=0.9 and B2=0.999" (AdamW diverged), no learning-rate schedule,
// 20 epochs, batch 3, VOC2012. The seed gives no learning rate: 2e-5 here is the one of the YOLOv1 training script its
// loss comes from (aladdinpersson's train.py, Adam, weight decay 0). Adam is AdamW with weight decay 0.
import { z } from 'zod';
import type { Profile } from '../runRecord.ts';
import { UserError } from '../errors.ts';
import { modelInfo } from '../models/registry.ts';
import { detAugmentSchema, SEED_DET_AUGMENT, type DetAugment } from '../data/detBatch.ts';
import { optimizerFields, precisionField, type RunOptions } from './config.ts';

export const DET_DATASETS = ['voc2007', 'voc2012'] as const;
export type DetDatasetName = (typeof DET_DATASETS)[number];

export const yoloLossSchema = z.object({
  lambdaCoord: z.number().min(0),
  lambdaNoobj: z.number().min(0),
  /** YOLOv1 Eq. 3's no-object term on the non-responsible box of an object cell (the seed's loss.py leaves it out). */
  noobjOnUnresponsible: z.boolean(),
  /** 'batchMean': the per-image loss averaged over the batch; 'sum': summed (the seed's loss.py). */
  reduction: z.enum(['batchMean', 'sum']),
}).strict();
export type YoloLossRecipe = z.infer<typeof yoloLossSchema>;

export const detRecipeSchema = z.object({
  task: z.literal('detection'),
  profile: z.enum(['smoke', 'quick', 'paper']),
  experiment: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  /** Pascal VOC year, read from <data root>/VOCdevkit/VOC<year> (the official layout). */
  dataset: z.enum(DET_DATASETS),
  trainSplit: z.string().regex(/^[\w-]+$/),
  evalSplit: z.string().regex(/^[\w-]+$/),
  /** First n images of each split file; 0 = all. */
  trainSubset: z.number().int().min(0),
  testSubset: z.number().int().min(0),
  /** A registry detection model (yolo_convmixer_256_8, yolo_convmixer_768_32) and its resolved config (input size inside). */
  modelName: z.string().min(1),
  model: z.record(z.unknown()),
  /** timm ConvMixer safetensors loaded into the backbone before training (the seed's ImageNet start); null = from scratch. */
  backboneWeights: z.string().min(1).nullable(),
  epochs: z.number().int().min(1).max(10000),
  batchSize: z.number().int().min(1).max(65536),
  evalBatchSize: z.number().int().min(1).max(65536),
  lrMax: z.number().gt(0).max(10),
  /** 'constant': lrMax throughout (the seed); 'step': lrMax then lrMax * stepFactor for the second half; 'onecycle'. */
  lrSchedule: z.enum(['constant', 'step', 'onecycle']),
  stepFactor: z.number().gt(0).max(1),
  ...optimizerFields,
  ...precisionField,
  augment: detAugmentSchema,
  loss: yoloLossSchema,
  /** Decoding for evaluation: boxes with class-specific score above confThreshold, class-wise NMS at nmsIou. */
  confThreshold: z.number().min(0).lt(1),
  nmsIou: z.number().gt(0).lte(1),
  /** Also score training images for mAP after every epoch (train vs test mAP: the seed's overfitting), the first
   * trainEvalSubset of them (0 = all). */
  evalTrain: z.boolean(),
  trainEvalSubset: z.number().int().min(0),
  evaluate: z.boolean(),
}).strict();

export type DetRecipe = Omit<z.infer<typeof detRecipeSchema>, 'profile' | 'augment'> & { profile: Profile; augment: DetAugment };
export type DetTrainConfig = DetRecipe & { run: RunOptions };

type DetDefaults = Omit<DetRecipe, 'profile' | 'experiment' | 'seed' | 'modelName' | 'model'>;

/** YOLOv1's loss (Eq. 3, lambda_coord 5, lambda_noobj 0.5), averaged over the images of a batch. */
export const YOLOV1_LOSS: YoloLossRecipe = { lambdaCoord: 5, lambdaNoobj: 0.5, noobjOnUnresponsible: true, reduction: 'batchMean' };

const ADAM = { weightDecay: 0, decayBiasAndNorm: true, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0, precision: 'fp32' } as const;

/** What all detection rows share, per profile (the rows choose the model). */
export const DET_PROFILE_DEFAULTS: Record<Profile, DetDefaults> = {
  // Seconds on tfjs kernels: a few images at a tiny size, 1 epoch; the numbers test the plumbing only.
  smoke: {
    task: 'detection', dataset: 'voc2007', trainSplit: 'trainval', evalSplit: 'test', trainSubset: 8, testSubset: 4, backboneWeights: null,
    epochs: 1, batchSize: 4, evalBatchSize: 4, lrMax: 1e-4, lrSchedule: 'constant', stepFactor: 1, ...ADAM,
    augment: { ...SEED_DET_AUGMENT }, loss: { ...YOLOV1_LOSS }, confThreshold: 0, nmsIou: 0.5, evalTrain: true, trainEvalSubset: 4, evaluate: true,
  },
  // 2 CPU cores, the VOC2007 subset (765 trainval / 400 test): a from-scratch ConvMixer-256/8 at 224 (the table's
  // protocol sets epochs and batch); no ImageNet weights exist here for a backbone of that size.
  quick: {
    task: 'detection', dataset: 'voc2007', trainSplit: 'trainval', evalSplit: 'test', trainSubset: 0, testSubset: 0, backboneWeights: null,
    epochs: 20, batchSize: 16, evalBatchSize: 32, lrMax: 1e-4, lrSchedule: 'constant', stepFactor: 1, ...ADAM,
    augment: { ...SEED_DET_AUGMENT }, loss: { ...YOLOV1_LOSS }, confThreshold: 0, nmsIou: 0.5, evalTrain: true, trainEvalSubset: 0, evaluate: true,
  },
  // The seed: ConvMixer-768/32 from timm's ImageNet weights at 448, Adam without schedule, 20 epochs, batch 3, VOC2012.
  paper: {
    task: 'detection', dataset: 'voc2012', trainSplit: 'train', evalSplit: 'val', trainSubset: 0, testSubset: 0, backboneWeights: null,
    epochs: 20, batchSize: 3, evalBatchSize: 16, lrMax: 2e-5, lrSchedule: 'constant', stepFactor: 1, ...ADAM,
    augment: { ...SEED_DET_AUGMENT }, loss: { ...YOLOV1_LOSS }, confThreshold: 0, nmsIou: 0.5, evalTrain: true, trainEvalSubset: 1000, evaluate: true,
  },
};

export type DetRecipeOverrides = Partial<Omit<DetRecipe, 'augment' | 'loss'>> & { augment?: Partial<DetAugment>; loss?: Partial<YoloLossRecipe> };

/** The full detection recipe for a profile with overrides on top, validated (one-line errors naming the key). */
export function buildDetRecipe(profile: Profile, modelName: string, overrides: DetRecipeOverrides = {}): DetRecipe {
  const d = DET_PROFILE_DEFAULTS[profile];
  const info = modelInfo(modelName, { ...(overrides.model ?? {}), numClasses: 20 });
  if (info.task !== 'detection') throw new UserError(`--model: '${modelName}' is a ${info.task} model, expected a detection model`);
  const candidate = {
    ...d, experiment: 'detection-train', seed: 0, ...overrides,
    profile, modelName: info.name, model: info.config as Record<string, unknown>,
    augment: { ...d.augment, ...(overrides.augment ?? {}) },
    loss: { ...d.loss, ...(overrides.loss ?? {}) },
  };
  const parsed = detRecipeSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`detection recipe: '${issue.path.join('.') || 'recipe'}': ${issue.message}`);
  }
  return parsed.data as DetRecipe;
}

export function isDetRecipe<T extends object>(r: T): r is T & DetRecipe {
  return (r as { task?: unknown }).task === 'detection';
}

/** The VOC year of a recipe's dataset. */
export const vocYearOf = (dataset: DetDatasetName): '2007' | '2012' => (dataset === 'voc2007' ? '2007' : '2012');
