// Every knob of the training recipe in one validated object, with per-profile defaults.
//
// Where the defaults come from (the paper gives no CIFAR-10 hyperparameter values beyond the list of techniques
// in Sec. 3 / Appendix B, so each value below names its source):
// - paper: Appendix B (200 epochs; RandAugment, mixup, CutMix, random erasing, gradient-norm clipping, timm's standard
//   augmentation; weight decay 0 for most Table 4 rows) + the authors' only published command line (locuslab/convmixer
//   README, ImageNet: --opt adamw --sched onecycle --lr 0.01 --aa rand-m9-mstd0.5-inc1 --mixup 0.5 --cutmix 0.5
//   --reprob 0.25 --remode pixel --opt-eps 1e-3 --clip-grad 1.0) + timm's defaults for what neither states
//   (batch 128, no weight decay on biases and norm parameters). The augmentation values are lib/data/augment.ts's
//   PAPER_CIFAR_AUGMENT (its comment gives the source of each: scale 0.75, hflip, RandAugment m9 n2 mstd0.5, no colour
//   jitter, mixup 0.5, CutMix 0.5, smoothing 0.1, erasing 0.25 pixel).
// - quick: the official CIFAR-10 script (locuslab/convmixer-cifar10 train.py) defaults: ConvMixer-256/8 k5 p2,
//   25 epochs, lr-max 0.01, AdamW wd 0.01 on all parameters, eps 1e-8, --clip-norm (max norm 1.0), scale 0.75,
//   hflip, RandAugment n1 m8 (torchvision's scale: magnitude 8 of 30 bins; our RandAugment uses timm's 0-10 scale,
//   so that is m = 8 * 10 / 30 = 2.67 here — TORCHVISION_RA_M8), colour jitter 0.1, random erasing 0.25 (zeros), plain cross-entropy (smoothing 0), no
//   mixup/CutMix. Changed for 2 CPU cores: batch 128 instead of 512 (more steps on the small subsets), and a class-balanced
//   5,000-image train subset evaluated on 1,000 test images.
// - smoke: seconds on tfjs's JS kernels, every code path on (augmentations, mixup/CutMix, clipping), tiny model and data.
import { z } from 'zod';
import { UserError } from '../errors.ts';
import type { Profile } from '../runRecord.ts';
import { resolveConfig, type ConvMixerConfig } from '../models/convmixer.ts';
import { PAPER_CIFAR_AUGMENT } from '../data/augment.ts';
import { PRECISIONS } from '../backend/index.ts';

const prob = z.number().min(0).max(1);
const nonneg = z.number().min(0);

export const augmentSchema = z.object({
  scaleMin: z.number().gt(0).max(1),
  hflip: z.boolean(),
  // m is on timm's 0-10 magnitude scale: RandAugment clips every sampled magnitude to [0, 10], so a larger m
  // would silently train as m = 10; refuse it instead.
  randAugment: z.object({ n: z.number().int().min(0), m: z.number().min(0).max(10), mstd: nonneg }).strict().nullable(),
  colorJitter: nonneg,
  mixupAlpha: nonneg,
  cutmixAlpha: nonneg,
  mixupProb: prob,
  mixupSwitchProb: prob,
  labelSmoothing: z.number().min(0).lt(1),
  reprob: prob,
  remode: z.enum(['pixel', 'rand', 'const']),
}).strict();

/** AdamW and clipping keys every task's recipe has (classification here, segmentation in segConfig.ts). */
export const optimizerFields = {
  weightDecay: nonneg,
  /** false = timm's filter (no decay on biases and 1-D norm parameters); true = torch AdamW over all parameters. */
  decayBiasAndNorm: z.boolean(),
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  eps: z.number().gt(0),
  /** Max global gradient norm; 0 = no clipping. */
  clipNorm: nonneg,
};

/**
 * Arithmetic of the convolutions and matmuls (lib/backend setPrecision): 'fp32', or 'bf16' mixed precision as under
 * PyTorch's CPU autocast (bf16 operands, fp32 accumulation; weights, optimizer state, BatchNorm and the loss in fp32).
 */
export const precisionField = { precision: z.enum(PRECISIONS) };

/**
 * Recipe keys added after runs were recorded, with the value every run had before the key existed: a saved recipe
 * (run record, checkpoint) without the key was trained with that value, so it compares equal to a recipe that sets it.
 */
export const RECIPE_KEYS_ADDED_LATER: Record<string, unknown> = { precision: 'fp32' };

/** A saved recipe with the keys added since it was written filled in (see RECIPE_KEYS_ADDED_LATER). */
export function withKeysAddedLater<T>(saved: T): T {
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) return saved;
  return { ...RECIPE_KEYS_ADDED_LATER, ...(saved as Record<string, unknown>) } as T;
}

/** The recipe: everything that decides what a run computes. A resumed run must match it exactly. */
export const recipeSchema = z.object({
  profile: z.enum(['smoke', 'quick', 'paper']),
  experiment: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  dataset: z.literal('cifar10'),
  /** Class-balanced subset sizes; 0 = the whole split. */
  trainSubset: z.number().int().min(0),
  testSubset: z.number().int().min(0),
  modelName: z.string().nullable(),
  model: z.record(z.unknown()),
  epochs: z.number().int().min(1).max(10000),
  batchSize: z.number().int().min(2).max(65536),
  evalBatchSize: z.number().int().min(1).max(65536),
  lrMax: z.number().gt(0).max(10),
  ...optimizerFields,
  ...precisionField,
  augment: augmentSchema,
  /** Evaluate on the test split after every epoch. */
  evaluate: z.boolean(),
}).strict();

export type Recipe = Omit<z.infer<typeof recipeSchema>, 'model' | 'augment' | 'profile'> & {
  profile: Profile;
  model: ConvMixerConfig;
  augment: z.infer<typeof augmentSchema>;
};

/** How a run is executed; none of it changes the numbers, so a resume may differ here. */
export interface RunOptions {
  /** Run id = run-record file name and checkpoint folder; generated when absent. */
  runId?: string;
  resume: boolean;
  /** Dataset root (the folder holding cifar10/); default data/ or $CONVMIXER_DATA. */
  dataRoot?: string;
  backend: 'auto' | 'native' | 'cpu' | 'tensorflow';
  /** Recipe keys set explicitly (flags), the rest came from the profile; stored in the run record. */
  explicit: string[];
  /** Write a checkpoint after every epoch (tests may turn it off). */
  checkpoint: boolean;
  /** Replace an existing run record of this id when there is no checkpoint to resume (`--overwrite`); refused otherwise. */
  overwrite?: boolean;
  /** With resume: take the recipe from the checkpoint (no recipe flags were given) instead of checking it. */
  useSavedRecipe?: boolean;
  /** The command line that started the run (CLI), stored in the run record so it can be repeated. */
  command?: string[];
  /** The experiment table and row this run reproduces (set by the experiment runner), stored at the record's top level. */
  table?: string;
  row?: string;
}

export type TrainConfig = Recipe & { run: RunOptions };

/** The official CIFAR script's torchvision RandAugment(magnitude=8, 31 bins) on timm's 0-10 magnitude scale. */
const TORCHVISION_RA_M8 = (8 * 10) / 30;

type ProfileDefaults = Omit<Recipe, 'model' | 'modelName' | 'profile' | 'experiment' | 'seed'> & { modelName: string; modelOverrides: Partial<ConvMixerConfig> };

export const PROFILE_DEFAULTS: Record<Profile, ProfileDefaults> = {
  smoke: {
    dataset: 'cifar10', trainSubset: 256, testSubset: 200,
    modelName: 'convmixer_128_4', modelOverrides: { dim: 32, depth: 2, kernelSize: 3, patchSize: 4 },
    epochs: 1, batchSize: 64, evalBatchSize: 200, lrMax: 0.01, weightDecay: 0.01, decayBiasAndNorm: true,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 1, precision: 'fp32',
    augment: { scaleMin: 0.75, hflip: true, randAugment: { n: 1, m: TORCHVISION_RA_M8, mstd: 0 }, colorJitter: 0.1, mixupAlpha: 0.8, cutmixAlpha: 1,
      mixupProb: 1, mixupSwitchProb: 0.5, labelSmoothing: 0.1, reprob: 0.25, remode: 'pixel' },
    evaluate: true,
  },
  quick: {
    dataset: 'cifar10', trainSubset: 5000, testSubset: 1000,
    modelName: 'convmixer_256_8', modelOverrides: { kernelSize: 5, patchSize: 2 },
    epochs: 25, batchSize: 128, evalBatchSize: 250, lrMax: 0.01, weightDecay: 0.01, decayBiasAndNorm: true,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 1, precision: 'fp32',
    augment: { scaleMin: 0.75, hflip: true, randAugment: { n: 1, m: TORCHVISION_RA_M8, mstd: 0 }, colorJitter: 0.1, mixupAlpha: 0, cutmixAlpha: 0,
      mixupProb: 1, mixupSwitchProb: 0.5, labelSmoothing: 0, reprob: 0.25, remode: 'const' },
    evaluate: true,
  },
  paper: {
    dataset: 'cifar10', trainSubset: 0, testSubset: 0,
    modelName: 'convmixer_256_8', modelOverrides: {},
    epochs: 200, batchSize: 128, evalBatchSize: 500, lrMax: 0.01, weightDecay: 0, decayBiasAndNorm: false,
    beta1: 0.9, beta2: 0.999, eps: 1e-3, clipNorm: 1, precision: 'fp32',
    augment: { ...PAPER_CIFAR_AUGMENT },
    evaluate: true,
  },
};

/** Recipe keys (dotted paths) -> the CLI flag that sets them, for one-line errors that name the flag. */
export const FLAG_FOR_KEY: Record<string, string> = {
  profile: 'profile', experiment: 'experiment', seed: 'seed', trainSubset: 'train-subset', testSubset: 'test-subset',
  epochs: 'epochs', batchSize: 'batch', evalBatchSize: 'eval-batch', lrMax: 'lr-max', weightDecay: 'wd',
  decayBiasAndNorm: 'decay-bias-norm', beta1: 'beta1', beta2: 'beta2', eps: 'eps', clipNorm: 'clip-norm', precision: 'precision', evaluate: 'no-eval',
  'augment.scaleMin': 'scale-min', 'augment.hflip': 'no-hflip', 'augment.randAugment': 'ra-n', 'augment.randAugment.n': 'ra-n',
  'augment.randAugment.m': 'ra-m', 'augment.randAugment.mstd': 'ra-mstd', 'augment.colorJitter': 'jitter', 'augment.mixupAlpha': 'mixup',
  'augment.cutmixAlpha': 'cutmix', 'augment.mixupProb': 'mixup-prob', 'augment.mixupSwitchProb': 'mixup-switch-prob',
  'augment.labelSmoothing': 'smoothing', 'augment.reprob': 'reprob', 'augment.remode': 'remode', modelName: 'model', model: 'model',
  'model.dim': 'dim', 'model.depth': 'depth', 'model.kernelSize': 'kernel', 'model.patchSize': 'patch', 'model.numClasses': 'classes',
  'model.activation': 'activation', 'model.norm': 'norm',
};

/** The flag that sets a recipe key; a deeper key (e.g. 'augment.randAugment.n.x') falls back to its first two parts, else the key itself. */
export function flagForKey(key: string): string {
  return FLAG_FOR_KEY[key] ?? FLAG_FOR_KEY[key.split('.').slice(0, 2).join('.')] ?? key;
}

/** A recipe override: any recipe key, with augment (and its randAugment) merged key by key. */
export type RecipeOverrides = Partial<Omit<Recipe, 'augment'>> & { augment?: Partial<Recipe['augment']> };

/**
 * The full recipe for a profile with explicit overrides on top, validated. Errors are one line naming the flag.
 * The model is the profile's default model unless `model` (a resolved config) is given.
 */
export function buildRecipe(profile: Profile, overrides: RecipeOverrides = {}): Recipe {
  const d = PROFILE_DEFAULTS[profile];
  const { modelOverrides, ...defaults } = d;
  const model = overrides.model ?? resolveConfig(d.modelName, modelOverrides);
  const modelName = overrides.model ? overrides.modelName ?? null : d.modelName;
  const candidate = {
    ...defaults, experiment: 'cifar10-train', seed: 0,
    ...overrides,
    profile, model, modelName,
    augment: { ...defaults.augment, ...(overrides.augment ?? {}) },
  };
  const parsed = recipeSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const flag = flagForKey(path);
    const got = issue.path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], candidate);
    const expected = issue.code === 'invalid_enum_value' ? `expected one of ${issue.options.join(', ')}` : issue.message.toLowerCase();
    throw new UserError(`--${flag}: ${expected}, got ${JSON.stringify(got)}`);
  }
  if (model.numClasses !== 10) throw new UserError(`--classes: CIFAR-10 has 10 classes, the model has ${model.numClasses}`);
  return { ...(parsed.data as unknown as Recipe), model };
}

/** Flattened 'a.b.c' -> value view of a recipe, for comparing two recipes key by key. */
export function flattenRecipe(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenRecipe(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = value;
  }
  return out;
}

/** The first key whose value differs between a saved recipe and the current one, or null when they match. */
export function firstRecipeDifference(saved: unknown, current: unknown): { key: string; saved: unknown; current: unknown } | null {
  const a = flattenRecipe(withKeysAddedLater(saved)), b = flattenRecipe(current);
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return { key, saved: a[key], current: b[key] };
  }
  return null;
}
