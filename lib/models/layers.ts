// Building blocks shared by the comparison models (resnet.ts, vit.ts, mlpMixer.ts): seeded parameter initializers that
// create tf.Variables under timm key names, and the few layers they need in plain tfjs ops (so tf.variableGrads works).
// Layouts are tfjs ones: conv weights HWIO, Linear weights [in, out]; tokens are [N, L, C].
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../rng.ts';
import { batchNorm, gelu, type BatchNormState } from './ops.ts';

export interface InitOptions {
  seed?: number;
  /** 'random' (default): the family's seeded init. 'zeros': random draws replaced by zeros (fast; shapes only). ConvMixer ignores it. */
  init?: 'random' | 'zeros';
}

/** Collects the variables of a model being built, with seeded initializers. */
export class ParamStore {
  readonly params: Record<string, tf.Variable> = {};
  readonly buffers: Record<string, tf.Variable> = {};
  private readonly rng: Rng;
  /** false: every randomly initialized tensor is zeros instead (shapes only: for counting, or before loading weights). */
  private readonly random: boolean;

  constructor(opts: InitOptions = {}) {
    this.rng = createRng(opts.seed ?? 0);
    this.random = (opts.init ?? 'random') === 'random';
  }

  private add(key: string, data: Float32Array, shape: number[], trainable = true): tf.Variable {
    if (key in this.params || key in this.buffers) throw new Error(`duplicate parameter '${key}'`);
    const v = tf.tidy(() => tf.variable(tf.tensor(data, shape), trainable));
    (trainable ? this.params : this.buffers)[key] = v;
    return v;
  }

  /** PyTorch's default Conv/Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  uniform(key: string, shape: number[], fanIn: number): tf.Variable {
    const bound = 1 / Math.sqrt(fanIn);
    const data = new Float32Array(size(shape));
    if (this.random) for (let i = 0; i < data.length; i++) data[i] = this.rng.uniform(-bound, bound);
    return this.add(key, data, shape);
  }

  /**
   * Normal(0, std), two values per Box-Muller draw. (timm's trunc_normal_(std=.02) truncates at +-2 in absolute value,
   * i.e. never in practice at these std values, so no truncation here.)
   */
  normal(key: string, shape: number[], std: number): tf.Variable {
    const data = new Float32Array(size(shape));
    if (this.random) {
      for (let i = 0; i < data.length; i += 2) {
        let u = this.rng.next();
        while (u <= 1e-12) u = this.rng.next();
        const r = std * Math.sqrt(-2 * Math.log(u)), t = 2 * Math.PI * this.rng.next();
        data[i] = r * Math.cos(t);
        if (i + 1 < data.length) data[i + 1] = r * Math.sin(t);
      }
    }
    return this.add(key, data, shape);
  }

  /** Xavier/Glorot uniform (timm's Mixer linear init). */
  xavier(key: string, shape: number[], fanIn: number, fanOut: number): tf.Variable {
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    const data = new Float32Array(size(shape));
    if (this.random) for (let i = 0; i < data.length; i++) data[i] = this.rng.uniform(-bound, bound);
    return this.add(key, data, shape);
  }

  fill(key: string, shape: number[], value: number, trainable = true): tf.Variable {
    return this.add(key, new Float32Array(size(shape)).fill(value), shape, trainable);
  }

  /** BatchNorm2d: weight (1, or 0 for a zero-initialized residual branch), bias 0, running stats 0 / 1. */
  batchNorm(prefix: string, channels: number, weightInit = 1): void {
    this.fill(`${prefix}.weight`, [channels], weightInit);
    this.fill(`${prefix}.bias`, [channels], 0);
    this.fill(`${prefix}.running_mean`, [channels], 0, false);
    this.fill(`${prefix}.running_var`, [channels], 1, false);
  }

  /** LayerNorm over the last axis: weight 1, bias 0. */
  layerNorm(prefix: string, channels: number): void {
    this.fill(`${prefix}.weight`, [channels], 1);
    this.fill(`${prefix}.bias`, [channels], 0);
  }
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * The pieces of a built model every family returns (ConvMixerModel has the same shape). Out is what apply returns:
 * classification logits [N, numClasses] (the default), or segmentation logits NHWC [N, H, W, numClasses] (tf.Tensor4D).
 */
export interface ImageModel<C = unknown, Out extends tf.Tensor = tf.Tensor2D> {
  config: C;
  /** Trainable parameters under timm key names, tfjs layouts. */
  params: Record<string, tf.Variable>;
  /** Non-trainable state (BatchNorm running statistics). */
  buffers: Record<string, tf.Variable>;
  /** x: NHWC float32, already normalized. Returns logits: [N, numClasses], or [N, H, W, numClasses] for segmentation. */
  apply(x: tf.Tensor4D, opts?: { training?: boolean }): Out;
  dispose(): void;
}

export function disposeAll(store: { params: Record<string, tf.Variable>; buffers: Record<string, tf.Variable> }): void {
  for (const v of [...Object.values(store.params), ...Object.values(store.buffers)]) v.dispose();
}

/** x @ W + b over the last axis of any-rank x (W: [in, out]). */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const out = tf.matMul(tf.reshape(x, [-1, inDim]), w as tf.Tensor2D);
  const y = b ? tf.add(out, b) : out;
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]!]);
}

/** LayerNorm over the last axis (PyTorch nn.LayerNorm; timm's ViT/Mixer use eps 1e-6). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** BatchNorm2d under a key prefix of a ParamStore-built model. */
export function bn(x: tf.Tensor4D, p: Record<string, tf.Variable>, b: Record<string, tf.Variable>, prefix: string, training: boolean): tf.Tensor4D {
  const s: BatchNormState = {
    weight: p[`${prefix}.weight`] as tf.Tensor1D, bias: p[`${prefix}.bias`] as tf.Tensor1D,
    runningMean: b[`${prefix}.running_mean`]!, runningVar: b[`${prefix}.running_var`]!,
  };
  return batchNorm(x, s, training);
}

/** timm's Mlp: fc1 -> GELU -> fc2 (dropout 0). */
export function mlp(x: tf.Tensor, p: Record<string, tf.Variable>, prefix: string): tf.Tensor {
  const h = gelu(linear(x, p[`${prefix}.fc1.weight`]!, p[`${prefix}.fc1.bias`]));
  return linear(h, p[`${prefix}.fc2.weight`]!, p[`${prefix}.fc2.bias`]);
}

/** Patch embedding conv (kernel = stride = patch) and flatten to tokens [N, H/p * W/p, C]. */
export function patchEmbed(x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor, patch: number): tf.Tensor3D {
  const y = tf.add(tf.conv2d(x, w as tf.Tensor4D, patch, 'valid'), b) as tf.Tensor4D;
  return tf.reshape(y, [y.shape[0], y.shape[1] * y.shape[2], y.shape[3]]);
}
