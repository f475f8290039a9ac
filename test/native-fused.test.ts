// The fused native layer tail (lib/backend/fused.ts, native/fused.cc) vs the plain-tfjs composition it replaces
// (ops.ts: bias add -> gelu/relu -> BatchNorm train/eval -> + residual), computed with tfjs's own JS kernels:
// outputs, running statistics and gradients; then a whole ConvMixer with CONVMIXER_FUSED on vs off, and the
// PyTorch reference logits (shared/reference, if present) with the fused path active.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { fusedActLayerNorm, fusedActNorm, fusedDepthwiseBlock, fusedGlobalAvgPool, nativeFusedAvailable } from '../lib/backend/fused.ts';
import { loadAddon, withJsKernels } from '../lib/backend/native.ts';
import { activate, batchNorm, BN_MOMENTUM, layerNormChannels, NORM_EPS } from '../lib/models/ops.ts';
import { createModel, type ConvMixerConfig } from '../lib/models/convmixer.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { loadWeights } from '../lib/models/weights.ts';
import { createRng } from '../lib/rng.ts';
import { fileURLToPath } from 'node:url';

const addon = loadAddon().addon as unknown as Record<string, unknown> | null;
const skip = addon && typeof addon['fusedActNormForward'] === 'function' ? false : 'native addon with fused ops not built (npm run build:native)';
if (!skip) await initBackend('native');

function randomTensor(shape: number[], seed: number, scale = 1, offset = 0): tf.Tensor {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = offset + scale * rng.uniform(-1, 1);
  return tf.tensor(data, shape);
}

/** max |a - b| / max(|b|_inf, floor): differences relative to the reference's scale. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = floor;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

interface Case { shape: [number, number, number, number]; activation: 'gelu' | 'relu'; training: boolean; residual: boolean; zScale?: number; zOffset?: number; tol?: number }
const CASES: Case[] = [
  { shape: [2, 5, 7, 12], activation: 'gelu', training: true, residual: true },   // C not a multiple of 8
  { shape: [2, 5, 7, 12], activation: 'gelu', training: false, residual: true },
  { shape: [3, 4, 4, 16], activation: 'relu', training: true, residual: false },
  { shape: [3, 4, 4, 16], activation: 'relu', training: false, residual: false },
  { shape: [4, 9, 9, 24], activation: 'gelu', training: true, residual: false },  // > 256 rows: several row blocks
  { shape: [1, 3, 3, 5], activation: 'gelu', training: false, residual: false },
  // Mean 50, spread 0.05: the batch variance must not come from E[x^2] - E[x]^2 in float32 (that would be off by
  // orders of magnitude: 1e-1 here). Looser tolerance: float32 spacing at 50 (3.8e-6) is already ~1e-4 of the spread, in both paths.
  { shape: [2, 8, 8, 16], activation: 'relu', training: true, residual: false, zScale: 0.05, zOffset: 50, tol: 1e-3 },
];

/** Runs one layer tail (fused or plain) and returns y, the updated running stats, and d(sum(y * w))/d{z, bias, gamma, beta, residual}. */
type TailCase = Omit<Case, 'training'>;
type TailForward = (z: tf.Tensor, bias: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual?: tf.Tensor) => tf.Tensor;

/** A layer tail's seeded inputs: z, bias, gamma (around 1), beta, the residual (if any), and the weights w of sum(y * w). */
function tailInputs(c: TailCase, seed: number): { inputs: tf.Tensor[]; weights: tf.Tensor } {
  const ch = c.shape[3];
  const z = randomTensor(c.shape, seed, c.zScale ?? 2, c.zOffset ?? 0);
  const bias = randomTensor([ch], seed + 1, 0.5), gamma = randomTensor([ch], seed + 2, 0.5, 1), beta = randomTensor([ch], seed + 3, 0.5);
  const residual = c.residual ? [randomTensor(c.shape, seed + 4)] : [];
  return { inputs: [z, bias, gamma, beta, ...residual], weights: randomTensor(c.shape, seed + 5) };
}

/** y = forward(inputs) and d(sum(y * weights))/d(each input), on the native kernels (fused) or tfjs's JS kernels (plain). */
function outputAndGrads(forward: TailForward, inputs: tf.Tensor[], weights: tf.Tensor, fused: boolean): Float32Array[] {
  const run = (): Float32Array[] => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.mul(forward(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]), weights)))(inputs);
    const y = tf.tidy(() => forward(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]));
    const out = [y, ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([value, y, ...grads]);
    return out;
  };
  return fused ? run() : withJsKernels(run);
}

function layerTail(c: Case, seed: number, fused: boolean): Float32Array[] {
  const ch = c.shape[3];
  const { inputs, weights } = tailInputs(c, seed);
  const runningMean = tf.variable(randomTensor([ch], seed + 6, 0.3), false);
  const runningVar = tf.variable(randomTensor([ch], seed + 7, 0.5, 1.2), false);
  const forward: TailForward = (zz, b, g, be, r) => {
    if (fused) {
      return fusedActNorm(zz as tf.Tensor4D, b as tf.Tensor1D, g as tf.Tensor1D, be as tf.Tensor1D, {
        activation: c.activation, training: c.training, runningMean, runningVar, eps: NORM_EPS, momentum: BN_MOMENTUM, residual: (r as tf.Tensor4D) ?? null });
    }
    const y = batchNorm(activate(tf.add(zz, b) as tf.Tensor4D, c.activation), { weight: g as tf.Tensor1D, bias: be as tf.Tensor1D, runningMean, runningVar }, c.training);
    return r ? tf.add(y, r) : y;
  };
  // The plain reference runs on tfjs's JS kernels, not on any native kernel.
  const [y, ...grads] = outputAndGrads(forward, inputs, weights, fused);
  const stats = [runningMean.dataSync() as Float32Array, runningVar.dataSync() as Float32Array];
  tf.dispose([...inputs, weights, runningMean, runningVar]);
  return [y!, ...stats, ...grads];
}

const NAMES = ['y', 'running_mean', 'running_var', 'dz', 'dbias', 'dgamma', 'dbeta', 'dresidual'];

for (const [i, c] of CASES.entries()) {
  test(`fused act+BN: ${c.activation} ${c.training ? 'train' : 'eval'}${c.residual ? ' +residual' : ''} ${c.shape.join('x')}${c.zOffset ? ` z ~ ${c.zOffset} +- ${c.zScale}` : ''} matches the plain tfjs ops`, { skip }, () => {
    const seed = 100 + 10 * i;
    const fused = layerTail(c, seed, true);
    const plain = layerTail(c, seed, false);
    assert.equal(fused.length, plain.length);
    const dzScale = Math.max(...plain[3]!.map(Math.abs));
    for (let k = 0; k < fused.length; k++) {
      // dbias = sum(dz) nearly cancels in training BN: measure its error against the size of the summands.
      const err = relErr(fused[k]!, plain[k]!, NAMES[k] === 'dbias' ? dzScale : 1e-3);
      assert.ok(err < (c.tol ?? 2e-5), `${NAMES[k]}: relative error ${err.toExponential(2)}`);
    }
    // The running statistics really moved in training (the two runs update them twice: grads pass + forward pass).
    const initialMean = randomTensor([c.shape[3]], seed + 6, 0.3).dataSync();
    const moved = relErr(fused[1]!, initialMean);
    assert.ok(c.training ? moved > 1e-3 : moved === 0, `running_mean moved by ${moved}`);
  });
}

for (const [label, k, residual, training] of [['k4 (even) +residual train', 4, true, true], ['k3 no residual eval', 3, false, false]] as [string, number, boolean, boolean][]) {
  test(`fused depthwise block (${label}): output, running stats and gradients wrt h, filter, bias, gamma, beta match plain tfjs`, { skip }, () => {
    const run = (fused: boolean): Float32Array[] => {
      const seed = 300 + k;
      const h = randomTensor([2, 6, 5, 12], seed) as tf.Tensor4D;
      const filter = randomTensor([k, k, 12, 1], seed + 1, 0.4) as tf.Tensor4D;
      const bias = randomTensor([12], seed + 2, 0.5) as tf.Tensor1D;
      const gamma = randomTensor([12], seed + 3, 0.5, 1) as tf.Tensor1D;
      const beta = randomTensor([12], seed + 4, 0.5) as tf.Tensor1D;
      const w = randomTensor([2, 6, 5, 12], seed + 5);
      const runningMean = tf.variable(tf.zeros([12]), false), runningVar = tf.variable(tf.ones([12]), false);
      const opts = { activation: 'gelu' as const, training, runningMean, runningVar, eps: NORM_EPS, momentum: BN_MOMENTUM };
      const f = (hh: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor, gg: tf.Tensor, be: tf.Tensor): tf.Tensor => {
        if (fused) return fusedDepthwiseBlock(hh as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, gg as tf.Tensor1D, be as tf.Tensor1D, { ...opts, residual });
        const z = tf.add(tf.depthwiseConv2d(hh as tf.Tensor4D, ff as tf.Tensor4D, 1, 'same'), bb) as tf.Tensor4D;
        const y = batchNorm(activate(z, 'gelu'), { weight: gg as tf.Tensor1D, bias: be as tf.Tensor1D, runningMean, runningVar }, training);
        return residual ? tf.add(y, hh) : y;
      };
      const go = (): Float32Array[] => {
        const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), w)))([h, filter, bias, gamma, beta]);
        const y = tf.tidy(() => f(h, filter, bias, gamma, beta));
        const out = [y, ...grads, runningMean, runningVar].map((t) => t.dataSync() as Float32Array);
        tf.dispose([value, y, ...grads, h, filter, bias, gamma, beta, w, runningMean, runningVar]);
        return out;
      };
      return fused ? go() : withJsKernels(go);
    };
    const fused = run(true), plain = run(false);
    const names = ['y', 'dh', 'dfilter', 'dbias', 'dgamma', 'dbeta', 'running_mean', 'running_var'];
    for (let i = 0; i < names.length; i++) {
      const err = relErr(fused[i]!, plain[i]!);
      assert.ok(err < 2e-5, `${names[i]}: relative error ${err.toExponential(2)}`);
    }
  });
}

// The LayerNorm tail (Table 3's ablation): statistics per pixel over channels, so also one-pixel rows and a row whose
// channels sit far from zero (mean 30, spread 0.1: a one-pass E[x^2] - E[x]^2 in float32 would lose the variance).
const LN_CASES: (TailCase & { label: string })[] = [
  { label: 'gelu +residual 2x5x7x12 (C not a multiple of 16)', shape: [2, 5, 7, 12], activation: 'gelu', residual: true },
  { label: 'relu 3x4x4x16', shape: [3, 4, 4, 16], activation: 'relu', residual: false },
  { label: 'gelu 4x9x9x40 (> 256 rows: several row blocks; 3 channel vectors)', shape: [4, 9, 9, 40], activation: 'gelu', residual: false },
  { label: 'gelu 1x1x1x5 +residual (one row)', shape: [1, 1, 1, 5], activation: 'gelu', residual: true },
  { label: 'relu z ~ 30 +- 0.1', shape: [2, 3, 3, 32], activation: 'relu', residual: false, zScale: 0.1, zOffset: 30, tol: 1e-3 },
];
const LN_NAMES = ['y', 'dz', 'dbias', 'dgamma', 'dbeta', 'dresidual'];

function layerNormTail(c: TailCase, seed: number, fused: boolean): Float32Array[] {
  const { inputs, weights } = tailInputs(c, seed);
  const forward: TailForward = (zz, b, g, be, r) => {
    if (fused) return fusedActLayerNorm(zz as tf.Tensor4D, b as tf.Tensor1D, g as tf.Tensor1D, be as tf.Tensor1D, { activation: c.activation, eps: NORM_EPS, residual: (r as tf.Tensor4D) ?? null });
    const y = layerNormChannels(activate(tf.add(zz, b) as tf.Tensor4D, c.activation), g as tf.Tensor1D, be as tf.Tensor1D);
    return r ? tf.add(y, r) : y;
  };
  const out = outputAndGrads(forward, inputs, weights, fused);
  tf.dispose([...inputs, weights]);
  return out;
}

for (const [i, c] of LN_CASES.entries()) {
  test(`fused act+LayerNorm: ${c.label} matches the plain tfjs ops (JS kernels): output and gradients`, { skip }, () => {
    const seed = 700 + 10 * i;
    const fused = layerNormTail(c, seed, true), plain = layerNormTail(c, seed, false);
    assert.equal(fused.length, plain.length);
    assert.equal(fused.length, c.residual ? 6 : 5);
    const dzScale = Math.max(...plain[1]!.map(Math.abs));
    for (let k = 0; k < fused.length; k++) {
      const err = relErr(fused[k]!, plain[k]!, LN_NAMES[k] === 'dbias' ? dzScale : 1e-3);
      assert.ok(err < (c.tol ?? 2e-5), `${LN_NAMES[k]}: relative error ${err.toExponential(2)}`);
    }
  });
}

test('fused act+LayerNorm: each pixel of the output has mean beta-weighted 0 and variance 1 over channels (gamma 1, beta 0)', { skip }, () => {
  const z = randomTensor([2, 3, 3, 20], 800, 3, 1) as tf.Tensor4D;
  const y = fusedActLayerNorm(z, tf.zeros([20]), tf.ones([20]), tf.zeros([20]), { activation: 'gelu', eps: NORM_EPS });
  const v = y.dataSync();
  for (let r = 0; r < 18; r++) {
    const row = Array.from(v.subarray(r * 20, r * 20 + 20));
    const mean = row.reduce((a, b) => a + b, 0) / 20;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 20;
    assert.ok(Math.abs(mean) < 1e-6, `row ${r} mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 1e-3, `row ${r} variance ${variance}`); // var / (var + eps) with var ~ 1
  }
  tf.dispose([z, y]);
});

test('fused act+LayerNorm: bit-identical results with 1 and 3 threads', { skip }, () => {
  const native = loadAddon().addon!;
  const c = LN_CASES[2]!;
  try {
    native.setThreads(1);
    const one = layerNormTail(c, 900, true);
    native.setThreads(3);
    const three = layerNormTail(c, 900, true);
    for (let k = 0; k < one.length; k++) assert.deepEqual(three[k], one[k], LN_NAMES[k]);
  } finally {
    native.setThreads(0);
  }
});

test('fused global average pool: forward and gradient match tf.mean over H, W', { skip }, () => {
  const x = randomTensor([3, 5, 7, 10], 400);
  const w = randomTensor([3, 10], 401);
  const both = (fused: boolean): Float32Array[] => {
    const f = (t: tf.Tensor): tf.Tensor => (fused ? fusedGlobalAvgPool(t as tf.Tensor4D) : tf.mean(t, [1, 2]));
    const go = (): Float32Array[] => {
      const y = tf.tidy(() => f(x));
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), w)))(x);
      const out = [y.dataSync() as Float32Array, g.dataSync() as Float32Array];
      tf.dispose([y, g]);
      return out;
    };
    return fused ? go() : withJsKernels(go);
  };
  const [fy, fg] = both(true), [py, pg] = both(false);
  assert.ok(relErr(fy!, py!) < 1e-6, 'forward');
  assert.ok(relErr(fg!, pg!) < 1e-6, 'gradient');
  assert.ok(Math.abs(fg![0]! - w.dataSync()[0]! / 35) < 1e-7, 'gradient is w / (H * W)');
  tf.dispose([x, w]);
});

test('fused act+BN: bit-identical results with 1 and 3 threads (fixed row blocks, sums reduced in order)', { skip }, () => {
  const native = loadAddon().addon!;
  const c: Case = { shape: [4, 16, 16, 40], activation: 'gelu', training: true, residual: true };
  try {
    native.setThreads(1);
    const one = layerTail(c, 500, true);
    native.setThreads(3);
    const three = layerTail(c, 500, true);
    for (let k = 0; k < one.length; k++) assert.deepEqual(three[k], one[k], NAMES[k]);
  } finally {
    native.setThreads(0);
  }
});

test('fused act+BN: GELU is the exact erf form (PyTorch values), not the tanh approximation', { skip }, () => {
  // One channel, two rows: with training BN, y = +-1 * gamma + beta whatever GELU gives; so use eval with mean 0, var 1 - eps.
  const u = [-3, -1, -0.5, 0.25, 1, 2.5];
  // torch.nn.functional.gelu(torch.tensor(u, dtype=torch.float64)) (exact erf GELU), rounded to 9 digits.
  const expected = [-0.00404969409, -0.158655254, -0.154268769, 0.149676581, 0.841344746, 2.48447584];
  const runningMean = tf.variable(tf.zeros([1]), false), runningVar = tf.variable(tf.fill([1], 1 - NORM_EPS), false);
  const y = fusedActNorm(tf.tensor4d(u, [1, 1, 6, 1]), tf.zeros([1]), tf.ones([1]), tf.zeros([1]),
    { activation: 'gelu', training: false, runningMean, runningVar, eps: NORM_EPS, momentum: BN_MOMENTUM });
  const got = y.dataSync();
  for (let k = 0; k < u.length; k++) assert.ok(Math.abs(got[k]! - expected[k]!) < 2e-6 * Math.max(1, Math.abs(expected[k]!)), `gelu(${u[k]}) = ${got[k]}, torch ${expected[k]}`);
  tf.dispose([y, runningMean, runningVar]);
});

test('nativeFusedAvailable: true on the native engine, false on plain cpu, inside withJsKernels, and with CONVMIXER_FUSED=0', { skip }, async () => {
  assert.equal(nativeFusedAvailable(), true);
  assert.equal(withJsKernels(() => nativeFusedAvailable()), false);
  process.env.CONVMIXER_FUSED = '0';
  try {
    assert.equal(nativeFusedAvailable(), false);
  } finally {
    delete process.env.CONVMIXER_FUSED;
  }
  await initBackend('cpu');
  try {
    assert.equal(nativeFusedAvailable(), false);
  } finally {
    await initBackend('native');
  }
  assert.equal(nativeFusedAvailable(), true);
});

/** Logits, gradients of a loss wrt every parameter, and the BN buffers after the call, with the fused path on or off. */
function modelRun(config: Partial<ConvMixerConfig>, training: boolean, fused: boolean): Record<string, Float32Array> {
  const previous = process.env.CONVMIXER_FUSED;
  process.env.CONVMIXER_FUSED = fused ? '1' : '0';
  try {
    assert.equal(nativeFusedAvailable(), fused);
    const model = createModel(config, {}, { seed: 11 });
    const x = randomTensor([4, 16, 16, 3], 21) as tf.Tensor4D;
    const w = randomTensor([4, config.numClasses!], 22);
    const out: Record<string, Float32Array> = {};
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply(x, { training });
      out['logits'] = logits.dataSync() as Float32Array;
      return tf.sum(tf.mul(logits, w)) as tf.Scalar;
    });
    // variableGrads keys grads by tfjs variable name (a global counter): name them by parameter instead.
    for (const [k, v] of Object.entries(model.params)) out[`grad ${k}`] = grads[v.name]!.dataSync() as Float32Array;
    for (const [k, b] of Object.entries(model.buffers)) out[k] = b.dataSync() as Float32Array;
    tf.dispose([x, w, value, ...Object.values(grads)]);
    model.dispose();
    return out;
  } finally {
    if (previous === undefined) delete process.env.CONVMIXER_FUSED;
    else process.env.CONVMIXER_FUSED = previous;
  }
}

for (const [label, config] of [
  ['gelu dim 16 depth 2 k5 p2', { dim: 16, depth: 2, kernelSize: 5, patchSize: 2, numClasses: 10 }],
  ['relu +residual in Eq. 3, dim 12 depth 2 k3 p2', { dim: 12, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 10, activation: 'relu', residualPointwise: true }],
  ['no residual in Eq. 2, k4 p2', { dim: 16, depth: 2, kernelSize: 4, patchSize: 2, numClasses: 10, residualDepthwise: false }],
  ['layernorm, dim 8 depth 1 k3 p4', { dim: 8, depth: 1, kernelSize: 3, patchSize: 4, numClasses: 10, norm: 'layernorm' }],
  ['layernorm relu +residual in Eq. 3, dim 20 depth 2 k5 p2', { dim: 20, depth: 2, kernelSize: 5, patchSize: 2, numClasses: 10, norm: 'layernorm', activation: 'relu', residualPointwise: true }],
] as [string, Partial<ConvMixerConfig>][]) {
  for (const training of [true, false]) {
    test(`model (${label}, ${training ? 'train' : 'eval'}): same logits, gradients and running stats with the fused path on and off`, { skip }, () => {
      const on = modelRun(config, training, true);
      const off = modelRun(config, training, false);
      assert.deepEqual(Object.keys(on).sort(), Object.keys(off).sort());
      assert.ok(Object.keys(on).length > 10);
      for (const k of Object.keys(off)) {
        const err = relErr(on[k]!, off[k]!);
        assert.ok(err < 1e-4, `${k}: relative error ${err.toExponential(2)}`);
      }
    });
  }
}

const REF = fileURLToPath(new URL('../../shared/reference/', import.meta.url));
const REF_WEIGHTS = join(REF, 'convmixer_64_4_k5_p2.weights.safetensors');
const REF_IO = join(REF, 'convmixer_64_4_k5_p2.io.safetensors');
const skipRef = skip || (existsSync(REF_WEIGHTS) && existsSync(REF_IO) ? false : `PyTorch reference not found at ${REF}`);

test('model with the fused path active gives the PyTorch reference logits within 1e-4 (eval)', { skip: skipRef }, () => {
  assert.equal(nativeFusedAvailable(), true);
  const io = readSafetensors(REF_IO);
  const model = createModel('convmixer_64_4_k5_p2', {}, { seed: 1 });
  loadWeights(model, REF_WEIGHTS);
  const x = tf.tensor4d(io['input_nhwc']!.data, io['input_nhwc']!.shape as [number, number, number, number]);
  const y = model.apply(x);
  const expected = io['logits']!.data;
  let diff = 0;
  y.dataSync().forEach((v, i) => (diff = Math.max(diff, Math.abs(v - expected[i]!))));
  assert.ok(diff < 1e-4, `max |logit - torch| = ${diff}`);
  tf.dispose([x, y]);
  model.dispose();
});
