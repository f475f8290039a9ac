// Speed of one training or inference step of a ConvMixer, or of any registry model (ResNet, DeiT/ViT, Mixer/ResMLP),
// on the current tfjs backend. A train step is what PyTorch's
// benchmark (scripts/bench_torch.py) does: forward in training mode, softmax cross-entropy, backward
// (tf.variableGrads) and a plain SGD update. Inputs are seeded random images and labels (speed does not depend on them).
import * as tf from '@tensorflow/tfjs';
import { createModel, type ConvMixerConfig } from '../models/convmixer.ts';
import { createModel as createRegistryModel, modelInfo } from '../models/registry.ts';
import type { ImageModel } from '../models/layers.ts';
import { createRng } from '../rng.ts';

export type BenchMode = 'train' | 'infer';

export interface BenchOptions {
  /** The ConvMixer to time (ignored when `registryModel` is given). */
  config: ConvMixerConfig | null;
  /** A registry model instead (e.g. resnet50, deit_small_patch16_224), with family-specific config overrides. */
  registryModel?: { name: string; overrides?: Record<string, unknown> };
  mode: BenchMode;
  batch: number;
  imageSize: number;
  steps: number;
  warmup: number;
  seed: number;
  /** Learning rate of the SGD update in train mode. */
  lr?: number;
}

export interface BenchResult {
  msPerImg: number;
  imgPerSec: number;
  /** Per timed step, milliseconds. */
  stepMs: number[];
  /** Peak resident set size of this process so far (getrusage maxrss), MiB. */
  peakRssMiB: number;
}

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/** The model to time, with its input channels and class count. */
function buildModel(opts: BenchOptions): { model: ImageModel; inChannels: number; numClasses: number } {
  if (opts.registryModel) {
    const { name, overrides = {} } = opts.registryModel;
    const cfg = modelInfo(name, overrides).defaultCfg;
    return { model: createRegistryModel(name, overrides, { seed: opts.seed }), inChannels: cfg.inputSize[0], numClasses: cfg.numClasses };
  }
  if (!opts.config) throw new Error('benchSteps: give config or registryModel');
  return { model: createModel(opts.config, {}, { seed: opts.seed }), inChannels: opts.config.inChannels, numClasses: opts.config.numClasses };
}

function randomBatch(opts: BenchOptions, inChannels: number, numClasses: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = createRng(opts.seed);
  const { batch, imageSize: s } = opts;
  const xs = new Float32Array(batch * s * s * inChannels);
  for (let i = 0; i < xs.length; i++) xs[i] = rng.normal();
  const labels = Array.from({ length: batch }, () => Math.floor(rng.next() * numClasses));
  return {
    x: tf.tensor4d(xs, [batch, s, s, inChannels]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D),
  };
}

/** One step as a function (disposes everything it creates except the model's state). */
function stepFunction(model: ImageModel, x: tf.Tensor4D, y: tf.Tensor2D, mode: BenchMode, lr: number): () => void {
  if (mode === 'infer') {
    return () => {
      const logits = model.apply(x, { training: false });
      logits.dataSync();
      logits.dispose();
    };
  }
  const vars = Object.values(model.params);
  return () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })) as tf.Scalar, vars);
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
  const { model, inChannels, numClasses } = buildModel(opts);
  const { x, y } = randomBatch(opts, inChannels, numClasses);
  const step = stepFunction(model, x, y, opts.mode, opts.lr ?? 0.01);
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
    return { msPerImg, imgPerSec: 1000 / msPerImg, stepMs, peakRssMiB: peakRssMiB() };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

/** Kernel time of one step (after one warm-up step) from tf.profile, summed per kernel name, largest first. */
export async function profileStep(opts: BenchOptions): Promise<{ totalMs: number; kernels: KernelTime[] }> {
  const { model, inChannels, numClasses } = buildModel(opts);
  const { x, y } = randomBatch(opts, inChannels, numClasses);
  const step = stepFunction(model, x, y, opts.mode, opts.lr ?? 0.01);
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
    tf.dispose([x, y]);
    model.dispose();
  }
}
