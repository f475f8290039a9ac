// Speed of one training or inference step of a ConvMixer, or of any registry model (ResNet, DeiT/ViT, Mixer/ResMLP),
// on the current tfjs backend. A train step is what PyTorch's
// benchmark (scripts/bench_torch.py) does: forward in training mode, softmax cross-entropy, backward
// (tf.variableGrads) and a plain SGD update. Inputs are seeded random images and labels; weights are the seeded init or,
// for ConvMixers, a weights file (speed depends on the values only through denormals: bench --denormals).
// Segmentation models (Unet, ConvMixer-Unet) take height x width inputs and train with the loss segmentation training
// uses, the soft Dice of lib/train/segLoss.ts, on random per-pixel labels drawn uniformly from the classes and the
// ignore index (so the ignore path runs too); scripts/bench_torch.py --seg-model does the same.
import * as tf from '@tensorflow/tfjs';
import { createModel, type ConvMixerConfig, type ConvMixerModel } from '../models/convmixer.ts';
import { loadWeights } from '../models/weights.ts';
import { createModel as createRegistryModel, createSegmentationModel, modelInfo } from '../models/registry.ts';
import type { ImageModel } from '../models/layers.ts';
import { softDiceLoss } from '../train/segLoss.ts';
import { createRng } from '../rng.ts';

export type BenchMode = 'train' | 'infer';

export interface BenchOptions {
  /** The ConvMixer to time (ignored when `registryModel` is given). */
  config: ConvMixerConfig | null;
  /** A registry model instead (e.g. resnet50, deit_small_patch16_224), with family-specific config overrides. */
  registryModel?: { name: string; overrides?: Record<string, unknown> };
  mode: BenchMode;
  batch: number;
  /** Square input side; a segmentation model takes height x width instead when they are given. */
  imageSize: number;
  height?: number;
  width?: number;
  steps: number;
  warmup: number;
  seed: number;
  /** Learning rate of the SGD update in train mode. */
  lr?: number;
  /** ConvMixers: a weights file (safetensors, as training saves) to start from instead of the seeded init: a trained
   * model's activations and gradients, unlike random init's, can hold denormals, which slow some CPUs. */
  weights?: string;
}

export interface BenchResult {
  msPerImg: number;
  imgPerSec: number;
  /** Per timed step, milliseconds. */
  stepMs: number[];
  /** Peak resident set size of this process so far (getrusage maxrss), MiB. */
  peakRssMiB: number;
  /** Trainable parameters of the model timed (sum of its variables' sizes). */
  params?: number;
}

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/** Label of ignored pixels in the random segmentation labels: the datasets' void label, lib/data/segmentation.ts IGNORE_INDEX
 * (not imported: that module loads sharp; test/bench-seg.test.ts checks they agree). */
export const BENCH_IGNORE_INDEX = 255;

/** A model with its seeded random batch and one step as a function (disposes everything it creates except the model's state). */
interface Prepared { model: ImageModel<unknown, tf.Tensor>; step: () => void; inputs: tf.Tensor[] }

function prepare(opts: BenchOptions): Prepared {
  const rng = createRng(opts.seed);
  const lr = opts.lr ?? 0.01;
  const normals = (n: number): Float32Array => {
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = rng.normal();
    return xs;
  };
  const { batch } = opts;
  let model: ImageModel<unknown, tf.Tensor>, x: tf.Tensor4D, target: tf.Tensor, loss: (out: tf.Tensor) => tf.Scalar;
  if (opts.registryModel && modelInfo(opts.registryModel.name, opts.registryModel.overrides ?? {}).task === 'segmentation') {
    const { name, overrides = {} } = opts.registryModel;
    const cfg = modelInfo(name, overrides).defaultCfg;
    const [inChannels] = cfg.inputSize, k = cfg.numClasses;
    const h = opts.height ?? opts.imageSize, w = opts.width ?? opts.imageSize;
    model = createSegmentationModel(name, overrides, { seed: opts.seed });
    x = tf.tensor4d(normals(batch * h * w * inChannels), [batch, h, w, inChannels]);
    const labels = Int32Array.from({ length: batch * h * w }, () => {
      const c = Math.floor(rng.next() * (k + 1));
      return c === k ? BENCH_IGNORE_INDEX : c;
    });
    target = tf.tensor3d(labels, [batch, h, w], 'int32');
    loss = (out) => softDiceLoss(out as tf.Tensor4D, target as tf.Tensor3D, k, BENCH_IGNORE_INDEX);
  } else {
    let inChannels: number, numClasses: number;
    if (opts.registryModel) {
      const { name, overrides = {} } = opts.registryModel;
      const cfg = modelInfo(name, overrides).defaultCfg;
      model = createRegistryModel(name, overrides, { seed: opts.seed });
      [inChannels] = cfg.inputSize;
      numClasses = cfg.numClasses;
    } else {
      if (!opts.config) throw new Error('benchSteps: give config or registryModel');
      model = createModel(opts.config, {}, { seed: opts.seed });
      if (opts.weights) loadWeights(model as ConvMixerModel, opts.weights);
      inChannels = opts.config.inChannels;
      numClasses = opts.config.numClasses;
    }
    const s = opts.imageSize;
    x = tf.tensor4d(normals(batch * s * s * inChannels), [batch, s, s, inChannels]);
    const labels = Array.from({ length: batch }, () => Math.floor(rng.next() * numClasses));
    target = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D);
    loss = (out) => tf.losses.softmaxCrossEntropy(target, out) as tf.Scalar;
  }
  return { model, step: stepFunction(model, x, loss, opts.mode, lr), inputs: [x, target] };
}

/** One step as a function (disposes everything it creates except the model's state). */
function stepFunction(model: ImageModel<unknown, tf.Tensor>, x: tf.Tensor4D, loss: (out: tf.Tensor) => tf.Scalar, mode: BenchMode, lr: number): () => void {
  if (mode === 'infer') {
    return () => {
      const logits = model.apply(x, { training: false });
      logits.dataSync();
      logits.dispose();
    };
  }
  const vars = Object.values(model.params);
  return () => {
    const { value, grads } = tf.variableGrads(() => loss(model.apply(x, { training: true })), vars);
    tf.tidy(() => {
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, lr)));
    });
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
}

export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

/** Times `steps` steps after `warmup` untimed ones. */
export function benchSteps(opts: BenchOptions): BenchResult {
  const { model, step, inputs } = prepare(opts);
  const params = Object.values(model.params).reduce((n, v) => n + v.size, 0);
  try {
    for (let i = 0; i < opts.warmup; i++) step();
    const stepMs: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      step();
      stepMs.push(performance.now() - t0);
    }
    const total = stepMs.reduce((a, b) => a + b, 0);
    const msPerImg = total / (opts.steps * opts.batch);
    return { msPerImg, imgPerSec: 1000 / msPerImg, stepMs, peakRssMiB: peakRssMiB(), params };
  } finally {
    tf.dispose(inputs);
    model.dispose();
  }
}

/** Kernel time of one step (after one warm-up step) from tf.profile, summed per kernel name, largest first. */
export async function profileStep(opts: BenchOptions): Promise<{ totalMs: number; kernels: KernelTime[] }> {
  const { model, step, inputs } = prepare(opts);
  try {
    step();
    const info = await tf.profile(() => step());
    const byName = new Map<string, KernelTime>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
      e.ms += ms;
      e.calls += 1;
      byName.set(k.name, e);
    }
    const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
    return { totalMs: kernels.reduce((a, k) => a + k.ms, 0), kernels };
  } finally {
    tf.dispose(inputs);
    model.dispose();
  }
}
