// ConvMixer (Trockman & Kolter, "Patches Are All You Need?"): patch-embedding conv -> act -> norm, then `depth` blocks of
// residual(depthwise k x k 'same' -> act -> norm) -> pointwise 1x1 -> act -> norm, then global average pooling and a linear head.
// Parameters live in tfjs layouts under timm's key names, so weights.ts can map PyTorch checkpoints onto them 1:1.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { createRng } from '../rng.ts';
import { biasActBatchNorm, biasActLayerNorm, depthwiseActBatchNorm, globalAvgPool, type BatchNormState } from './ops.ts';

export interface ConvMixerConfig {
  dim: number; depth: number; kernelSize: number; patchSize: number; numClasses: number; inChannels: number;
  activation: 'gelu' | 'relu';
  norm: 'batchnorm' | 'layernorm';
  /** Residual around the depthwise part (paper Eq. 2). */
  residualDepthwise: boolean;
  /** Residual around the pointwise part (Eq. 3); the paper leaves it out (Table 3 "+ Residual in Eq. 3"). */
  residualPointwise: boolean;
}

const posInt = z.number().int().positive();
const configSchema = z.object({
  dim: posInt, depth: z.number().int().nonnegative(), kernelSize: posInt, patchSize: posInt, numClasses: posInt, inChannels: posInt,
  activation: z.enum(['gelu', 'relu']), norm: z.enum(['batchnorm', 'layernorm']),
  residualDepthwise: z.boolean(), residualPointwise: z.boolean(),
}).strict();

/** Defaults of the paper's reference code, ConvMixer(dim, depth, kernel_size=9, patch_size=7, n_classes=1000). */
const DEFAULTS: Omit<ConvMixerConfig, 'dim' | 'depth'> = {
  kernelSize: 9, patchSize: 7, numClasses: 1000, inChannels: 3, activation: 'gelu', norm: 'batchnorm',
  residualDepthwise: true, residualPointwise: false,
};

const imagenet = (dim: number, depth: number, kernelSize: number, patchSize: number, activation: 'gelu' | 'relu' = 'gelu'): ConvMixerConfig =>
  ({ ...DEFAULTS, dim, depth, kernelSize, patchSize, activation, numClasses: 1000 });
const cifar = (dim: number, depth: number, kernelSize: number, patchSize: number, extra: Partial<ConvMixerConfig> = {}): ConvMixerConfig =>
  ({ ...DEFAULTS, dim, depth, kernelSize, patchSize, numClasses: 10, ...extra });

/**
 * Every ConvMixer of the paper. Naming: `convmixer_<dim>_<depth>` is the configuration the paper uses most for that
 * width/depth; suffixes `_k<k>` / `_p<p>` mark other kernel / patch sizes (kernel first), and Table 3 ablations say what changed.
 * ImageNet models (Tables 1, 2): 1000 classes. CIFAR-10 models (Table 3, Table 4, Appendix B text): 10 classes, patch 1 unless named.
 */
export const IMAGENET_MODELS: Record<string, ConvMixerConfig> = {
  // Tables 1 and 2 (ImageNet-1k, 224 px; the registry gives them timm's ConvMixer default_cfg)
  convmixer_1536_20: imagenet(1536, 20, 9, 7),
  convmixer_1536_20_k3: imagenet(1536, 20, 3, 7),
  convmixer_1536_20_p14: imagenet(1536, 20, 9, 14),
  convmixer_1536_24_p14: imagenet(1536, 24, 9, 14),
  convmixer_768_32: imagenet(768, 32, 7, 7, 'relu'),
  convmixer_768_32_k3_p14: imagenet(768, 32, 3, 14, 'relu'),
  convmixer_1024_16: imagenet(1024, 16, 9, 7),
  convmixer_1024_12: imagenet(1024, 12, 8, 7),
  convmixer_1024_20_p14: imagenet(1024, 20, 9, 14),
  convmixer_512_16: imagenet(512, 16, 8, 7),
  convmixer_512_12: imagenet(512, 12, 8, 7),
};

/** The CIFAR-10 ConvMixers (Tables 3, 4, Appendix B text): 32 x 32 inputs, CIFAR-10 mean/std in the registry's default_cfg. */
export const CIFAR_MODELS: Record<string, ConvMixerConfig> = {
  // Table 3 (CIFAR-10 ablations of ConvMixer-256/8; baseline = kernel 9, patch 1, the Table 4 row with 707K params)
  convmixer_256_8: cifar(256, 8, 9, 1),
  convmixer_256_8_no_res_eq2: cifar(256, 8, 9, 1, { residualDepthwise: false }),
  convmixer_256_8_res_eq3: cifar(256, 8, 9, 1, { residualPointwise: true }),
  convmixer_256_8_layernorm: cifar(256, 8, 9, 1, { norm: 'layernorm' }),
  convmixer_256_8_relu: cifar(256, 8, 9, 1, { activation: 'relu' }),
  // Table 4 (tiny CIFAR-10 ConvMixers): width/depth scan at kernel 8, patch 1
  convmixer_128_4: cifar(128, 4, 8, 1),
  convmixer_128_8: cifar(128, 8, 8, 1),
  convmixer_128_12: cifar(128, 12, 8, 1),
  convmixer_256_4: cifar(256, 4, 8, 1),
  convmixer_256_8_k8: cifar(256, 8, 8, 1),
  convmixer_256_12: cifar(256, 12, 8, 1),
  convmixer_256_16: cifar(256, 16, 8, 1),
  convmixer_256_20: cifar(256, 20, 8, 1),
  // Table 4 kernel adjustments (patch 1) and patch adjustments (kernel 9)
  ...Object.fromEntries([3, 5, 7, 11, 13, 15].map((k) => [`convmixer_256_8_k${k}`, cifar(256, 8, k, 1)])),
  ...Object.fromEntries([2, 4, 8].map((p) => [`convmixer_256_8_p${p}`, cifar(256, 8, 9, p)])),
  // Table 4 kernel adjustments at patch 2
  ...Object.fromEntries([3, 5, 7, 11].map((k) => [`convmixer_256_8_k${k}_p2`, cifar(256, 8, k, 2)])),
  // Appendix B text: deeper small-kernel models compared with ConvMixer-256/8 k9
  convmixer_256_10_k3: cifar(256, 10, 3, 1),
  convmixer_256_24_k3: cifar(256, 24, 3, 1),
  // Not from the paper: the size of the PyTorch reference fixture (shared/reference), handy for quick checks.
  convmixer_64_4_k5_p2: cifar(64, 4, 5, 2),
};

/** Every ConvMixer of the paper (see the naming note above IMAGENET_MODELS). */
export const MODELS: Record<string, ConvMixerConfig> = { ...IMAGENET_MODELS, ...CIFAR_MODELS };

/** The registry name of exactly this config (every field equal), or null when no named model is it. */
export function registryName(config: ConvMixerConfig): string | null {
  const key = JSON.stringify(Object.entries(config).sort(([a], [b]) => a.localeCompare(b)));
  for (const [name, c] of Object.entries(MODELS)) if (JSON.stringify(Object.entries(c).sort(([a], [b]) => a.localeCompare(b))) === key) return name;
  return null;
}

/** A named config, or a partial one on top of the paper code's defaults (dim and depth required), plus overrides; validated. */
export function resolveConfig(nameOrConfig: string | Partial<ConvMixerConfig>, overrides: Partial<ConvMixerConfig> = {}): ConvMixerConfig {
  const defined = (o: Partial<ConvMixerConfig>): Partial<ConvMixerConfig> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  let base: Partial<ConvMixerConfig>;
  if (typeof nameOrConfig === 'string') {
    const named = MODELS[nameOrConfig];
    if (!named) throw new UserError(`unknown model '${nameOrConfig}' (expected one of: ${Object.keys(MODELS).join(', ')})`);
    base = named;
  } else {
    base = { ...DEFAULTS, ...defined(nameOrConfig) };
  }
  const parsed = configSchema.safeParse({ ...base, ...defined(overrides) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`model config: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Paper Eq. 4 generalized to any input channel count: d[depth(k^2 + d + 6) + c p^2 + n + 3] + n (trainable parameters). */
export function paramCount(c: ConvMixerConfig): number {
  const { dim: d, depth, kernelSize: k, patchSize: p, numClasses: n, inChannels } = c;
  return d * (depth * (k * k + d + 6) + inChannels * p * p + n + 3) + n;
}

export interface LayerParams {
  /** timm key prefix, with `{i}` standing for the block index when `repeat` > 1. */
  name: string;
  what: string;
  shapes: number[][];
  /** Trainable parameters of ONE such layer. */
  params: number;
  repeat: number;
}

/** Per-layer trainable-parameter breakdown, in model order; the params*repeat sum to paramCount(config). */
export function paramBreakdown(c: ConvMixerConfig): LayerParams[] {
  const { dim: d, depth, kernelSize: k, patchSize: p, numClasses: n, inChannels: ci } = c;
  const norm = c.norm === 'batchnorm' ? 'BatchNorm' : 'LayerNorm';
  const layer = (name: string, what: string, shapes: number[][], repeat = 1): LayerParams =>
    ({ name, what, shapes, repeat, params: shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0) });
  return [
    layer('stem.0', `patch embedding conv ${p}x${p} stride ${p}`, [[p, p, ci, d], [d]]),
    layer('stem.2', norm, [[d], [d]]),
    layer('blocks.{i}.0.fn.0', `depthwise conv ${k}x${k}`, [[k, k, d, 1], [d]], depth),
    layer('blocks.{i}.0.fn.2', norm, [[d], [d]], depth),
    layer('blocks.{i}.1', 'pointwise conv 1x1', [[1, 1, d, d], [d]], depth),
    layer('blocks.{i}.3', norm, [[d], [d]], depth),
    layer('head', 'linear classifier', [[d, n], [n]]),
  ];
}

export interface ConvMixerModel {
  config: ConvMixerConfig;
  /** Trainable, timm key names, tfjs layouts. */
  params: Record<string, tf.Variable>;
  /** BatchNorm running_mean / running_var (not trainable). */
  buffers: Record<string, tf.Variable>;
  /** x: NHWC float32 (already normalized). training=true: batch statistics + running-stat update. */
  apply(x: tf.Tensor4D, opts?: { training?: boolean }): tf.Tensor2D;
  dispose(): void;
}

/** Names of the norm layers of a config, in model order (each has weight/bias, BatchNorm also running stats). */
function normNames(depth: number): string[] {
  const names = ['stem.2'];
  for (let i = 0; i < depth; i++) names.push(`blocks.${i}.0.fn.2`, `blocks.${i}.3`);
  return names;
}

/** Builds a ConvMixer with PyTorch's default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv/linear weights and biases), seeded. */
export function createModel(nameOrConfig: string | Partial<ConvMixerConfig>, overrides?: Partial<ConvMixerConfig>, opts: { seed?: number } = {}): ConvMixerModel {
  const config = resolveConfig(nameOrConfig, overrides);
  const { dim: d, depth, kernelSize: k, patchSize: p, numClasses: n, inChannels: ci } = config;
  const rng = createRng(opts.seed ?? 0);
  const uniform = (shape: number[], fanIn: number): tf.Variable => {
    const size = shape.reduce((a, b) => a * b, 1), bound = 1 / Math.sqrt(fanIn);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = rng.uniform(-bound, bound);
    return tf.tidy(() => tf.variable(tf.tensor(data, shape), true));
  };
  const filled = (value: number, trainable: boolean): tf.Variable => tf.tidy(() => tf.variable(tf.fill([d], value), trainable));

  const params: Record<string, tf.Variable> = {};
  const buffers: Record<string, tf.Variable> = {};
  const conv = (name: string, shape: number[], fanIn: number): void => {
    params[`${name}.weight`] = uniform(shape, fanIn);
    params[`${name}.bias`] = uniform([d], fanIn);
  };
  conv('stem.0', [p, p, ci, d], ci * p * p);
  for (let i = 0; i < depth; i++) {
    conv(`blocks.${i}.0.fn.0`, [k, k, d, 1], k * k); // depthwise: fan_in = 1 channel * k * k
    conv(`blocks.${i}.1`, [1, 1, d, d], d);
  }
  for (const name of normNames(depth)) {
    params[`${name}.weight`] = filled(1, true);
    params[`${name}.bias`] = filled(0, true);
    if (config.norm === 'batchnorm') {
      buffers[`${name}.running_mean`] = filled(0, false);
      buffers[`${name}.running_var`] = filled(1, false);
    }
  }
  params['head.weight'] = uniform([d, n], d);
  params['head.bias'] = uniform([n], d);

  const w4 = (key: string): tf.Tensor4D => params[key] as tf.Tensor4D;
  const b = (key: string): tf.Tensor1D => params[key] as tf.Tensor1D;
  /** norm(act(z + conv bias)) (+ residual): the tail of every conv layer. Both norms are fused native ops on the native engine. */
  const bnState = (name: string): BatchNormState =>
    ({ weight: b(`${name}.weight`), bias: b(`${name}.bias`), runningMean: buffers[`${name}.running_mean`]!, runningVar: buffers[`${name}.running_var`]! });
  const tail = (z: tf.Tensor4D, conv: string, name: string, training: boolean, residual: tf.Tensor4D | null = null): tf.Tensor4D => {
    if (config.norm === 'batchnorm') return biasActBatchNorm(z, b(`${conv}.bias`), bnState(name), config.activation, training, residual);
    return biasActLayerNorm(z, b(`${conv}.bias`), b(`${name}.weight`), b(`${name}.bias`), config.activation, residual);
  };
  /** The depthwise half of block i: norm(act(depthwise(h) + bias)) (+ h). */
  const depthwiseHalf = (h: tf.Tensor4D, i: number, training: boolean): tf.Tensor4D => {
    const conv = `blocks.${i}.0.fn.0`, name = `blocks.${i}.0.fn.2`;
    if (config.norm === 'batchnorm') {
      return depthwiseActBatchNorm(h, w4(`${conv}.weight`), b(`${conv}.bias`), bnState(name), config.activation, training, config.residualDepthwise);
    }
    // tfjs 'same' pads floor((k-1)/2) before and the rest after, exactly like PyTorch padding='same' (also for even k).
    return tail(tf.depthwiseConv2d(h, w4(`${conv}.weight`), 1, 'same'), conv, name, training, config.residualDepthwise ? h : null);
  };

  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor2D => tf.tidy(() => {
    const training = o.training === true;
    // Patch embedding: conv with kernel = stride = p; PyTorch floors the output size like tfjs 'valid'.
    // Activations are disposed as soon as the next layer has consumed them, so memory holds about one block's worth
    // instead of the whole network's until tidy ends. (A gradient tape keeps its own references to what backward needs.)
    const stemConv = tf.conv2d(x, w4('stem.0.weight'), p, 'valid');
    let h = tail(stemConv, 'stem.0', 'stem.2', training);
    stemConv.dispose();
    for (let i = 0; i < depth; i++) {
      const mixed = depthwiseHalf(h, i, training);
      const pwConv = tf.conv2d(mixed, w4(`blocks.${i}.1.weight`), 1, 'valid');
      const next = tail(pwConv, `blocks.${i}.1`, `blocks.${i}.3`, training, config.residualPointwise ? mixed : null);
      tf.dispose([h, mixed, pwConv]);
      h = next;
    }
    const pooled = globalAvgPool(h);
    return tf.add(tf.matMul(pooled, params['head.weight'] as tf.Tensor2D), b('head.bias'));
  });

  return {
    config, params, buffers, apply,
    dispose() {
      for (const v of [...Object.values(params), ...Object.values(buffers)]) v.dispose();
    },
  };
}

/** Trainable parameters of a built model (what paramCount must equal). */
export function countTrainable(model: ConvMixerModel): number {
  return Object.values(model.params).reduce((s, v) => s + v.size, 0);
}

/**
 * A parameter count as the paper prints it: millions with one decimal (Tables 1, 2: ImageNet models, all >= 4M) or
 * thousands (Table 4: CIFAR-10 models, all < 2M). Without a unit, counts from 2M up are shown in millions.
 */
export function formatParamsAsPaper(count: number, unit: 'M' | 'K' = count >= 2e6 ? 'M' : 'K'): string {
  return unit === 'M' ? `${(count / 1e6).toFixed(1)}M` : `${Math.round(count / 1e3)}K`;
}

/** Forward multiply-adds of a ConvMixer for one s x s image: patch embedding, depthwise ('same', padding counted), pointwise, classifier. */
export function convMixerMacs(c: ConvMixerConfig, imageSize: number): { stem: number; depthwise: number; pointwise: number; head: number; total: number } {
  const tokens = Math.floor(imageSize / c.patchSize) ** 2;
  const stem = tokens * c.dim * c.inChannels * c.patchSize ** 2;
  const depthwise = c.depth * tokens * c.dim * c.kernelSize ** 2;
  const pointwise = c.depth * tokens * c.dim * c.dim;
  const head = c.dim * c.numClasses;
  return { stem, depthwise, pointwise, head, total: stem + depthwise + pointwise + head };
}
