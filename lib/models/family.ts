// What every model family of the registry (lib/models/registry.ts) provides, and timm-style default configs.
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import { UserError } from '../errors.ts';
import type { ImageModel, InitOptions } from './layers.ts';

/** Which state-dict key naming a model's variables (and its checkpoints) use. */
export type WeightLayout = 'timm-convmixer' | 'timm-resnet' | 'timm-vit' | 'timm-mixer' | 'timm-resmlp' | 'timm-swin' | 'milesial-unet'
  | 'convmixer-unet' | 'yolo-convmixer';

/**
 * What a model's apply returns: class logits [N, classes], per-pixel class logits NHWC [N, H, W, classes], or (detection)
 * YOLOv1 grid predictions [N, S, S, C + 5B] (lib/models/yoloConvMixer.ts documents the channel order).
 */
export type ModelTask = 'classification' | 'segmentation' | 'detection';

/**
 * timm's pretrained_cfg essentials for a model: what its eval transform is and what its checkpoints look like.
 * Eval transform (timm): resize the shorter side to floor(inputSize / cropPct) with `interpolation`, center-crop inputSize,
 * scale to [0, 1], normalize with mean/std.
 */
export interface DefaultCfg {
  /** [channels, height, width], as timm writes input_size. */
  inputSize: [number, number, number];
  numClasses: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** timm's crop_pct (1: no resize margin; segmentation models resize the whole image to inputSize). */
  cropPct: number;
  interpolation: 'bicubic' | 'bilinear';
  weightLayout: WeightLayout;
  /** Where the values come from (a timm pretrained tag, or this suite's CIFAR-10 recipe). */
  source: string;
}

export interface ModelFamily<C, Out extends tf.Tensor = tf.Tensor2D> {
  family: string;
  task: ModelTask;
  /** Named configs of this family. */
  models: Record<string, C>;
  /** Base config plus overrides (family-specific keys), validated; one-line UserError otherwise. */
  resolve(base: C, overrides?: Record<string, unknown>): C;
  create(config: C, opts?: InitOptions): ImageModel<C, Out>;
  /** Trainable parameters by formula (what the built model's variables add up to). */
  paramCount(config: C): number;
  defaultCfg(name: string, config: C): DefaultCfg;
  /** One line, e.g. "ResNet [3,4,6,3], 1000 classes". */
  describe(config: C): string;
}

/** Merges overrides (undefined values ignored) onto a base config and validates it with a strict zod schema. */
export function parseConfig<C>(schema: z.ZodType<C>, base: C, overrides: Record<string, unknown>, family: string): C {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse({ ...base, ...defined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = (issue as { keys?: string[] }).keys;
    if (keys?.length) throw new UserError(`${family} config: unknown key(s) ${keys.join(', ')}`);
    throw new UserError(`${family} config: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  return parsed.data;
}
