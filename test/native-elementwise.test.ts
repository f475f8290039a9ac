// Native elementwise / BatchNorm / reduction kernels vs tfjs's own JS kernels on the same cpu backend: the broadcast
// patterns ConvMixer uses (same shape, NHWC x [C], [N,1,1,C], scalars, last-axis [N,1]), Sum/Mean over N,H,W / H,W /
// the last axis, GELU and its gradient, batch norm forward and gradient through tf.moments. Every native comparison
// also checks that the addon really ran (a silent JS fallback would compare JS with JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ELEMENTWISE_KERNELS, broadcastPlan, reducePlan, registerElementwiseKernels, type ElementwiseAddon } from '../lib/backend/kernels-elementwise.ts';
import { createRng, type Rng } from '../lib/rng.ts';
import { assertClose, countCalls, kernelHarness, loadBuiltAddon, randn as uniform } from './helpers/native.ts';

const { addon, skip } = loadBuiltAddon<ElementwiseAddon>();
// The kernels get a counting view of the addon: calls per addon function of each native run.
const counted = countCalls(addon);
const { setup, both, withNative } = kernelHarness(ELEMENTWISE_KERNELS, (original) => registerElementwiseKernels(counted.addon!, original), counted.calls);

/** Asserts the native run called addon function `fn` at least `min` times. */
function assertNativeRan(calls: Map<string, number>, fn: keyof ElementwiseAddon, min: number): void {
  assert.ok((calls.get(fn) ?? 0) >= min, `native ${fn} ran ${calls.get(fn) ?? 0} times, expected ${min}+`);
}

function randn(rng: Rng, shape: number[], lo = -2, hi = 2): tf.Tensor {
  return uniform(rng, shape, lo, hi);
}

test('broadcastPlan merges dims and marks repeated ones with stride 0', () => {
  const p = broadcastPlan([4, 1, 1, 256], [4, 16, 16, 256])!;
  assert.deepEqual(p.outShape, [4, 16, 16, 256]);
  assert.deepEqual([...p.dims], [4, 256, 256]);
  assert.deepEqual([...p.aStrides], [256, 0, 1]);
  assert.deepEqual([...p.bStrides], [65536, 256, 1]);
  const q = broadcastPlan([2, 3, 5], [5])!;
  assert.deepEqual([...q.dims], [6, 5]);
  assert.deepEqual([...q.aStrides], [5, 1]);
  assert.deepEqual([...q.bStrides], [0, 1]);
  const s = broadcastPlan([], [])!;
  assert.deepEqual([...s.dims], [1]);
});

test('reducePlan: adjacent axes become [outer, reduce, inner]; others are not handled', () => {
  assert.deepEqual(reducePlan([2, 3, 4, 5], [0, 1, 2], false), { outer: 1, reduce: 24, inner: 5, outShape: [5] });
  assert.deepEqual(reducePlan([2, 3, 4, 5], [1, 2], true), { outer: 2, reduce: 12, inner: 5, outShape: [2, 1, 1, 5] });
  assert.deepEqual(reducePlan([2, 3, 4, 5], -1, false), { outer: 24, reduce: 5, inner: 1, outShape: [2, 3, 4] });
  assert.equal(reducePlan([2, 3, 4, 5], [0, 2], false), null);
});

const binaryCases: [number[], number[]][] = [
  [[2, 5, 6, 40], [2, 5, 6, 40]],   // same shape
  [[2, 5, 6, 40], [40]],            // NHWC x per-channel
  [[40], [2, 5, 6, 40]],            // per-channel x NHWC
  [[2, 1, 1, 40], [2, 5, 6, 40]],   // [N,1,1,C]: gradient of global mean pooling
  [[2, 5, 6, 40], []],              // scalar
  [[], [3, 7]],
  [[6, 1], [6, 10]],                // last-axis broadcast
  [[3, 1, 5], [1, 4, 1]],           // both sides broadcast
  [[1], [1]],
];
for (const [i, [sa, sb]] of binaryCases.entries()) {
  test(`binary ops match JS: ${JSON.stringify(sa)} op ${JSON.stringify(sb)}`, { skip }, async () => {
    await setup();
    const rng = createRng(200 + i);
    const a = randn(rng, sa), b = randn(rng, sb, 0.5, 2);  // b away from 0 for RealDiv
    const r = both(() => [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.div(a, b), tf.squaredDifference(a, b)]);
    assert.equal(r.nativeCalls.get('binary'), 5, 'one native call per op');
    ['add', 'sub', 'mul', 'div', 'squaredDifference'].forEach((op, k) => assertClose(r.native[k], r.js[k], op));
    tf.dispose([a, b]);
  });
}

test('unary ops match JS (neg, square, exp, erf, sqrt, rsqrt, abs, reciprocal)', { skip }, async () => {
  await setup();
  const rng = createRng(300);
  const x = randn(rng, [3, 7, 7, 33], -4, 4);
  const pos = randn(rng, [3, 7, 7, 33], 0.1, 5);
  const r = both(() => [tf.neg(x), tf.square(x), tf.exp(x), tf.erf(x), tf.sqrt(pos), tf.rsqrt(pos), tf.abs(x), tf.reciprocal(pos)]);
  assert.equal(r.nativeCalls.get('unary'), 8, 'one native call per op');
  // tfjs's JS erf is a 1.5e-7-accurate approximation; the native one is libm's erf.
  ['neg', 'square', 'exp', 'erf', 'sqrt', 'rsqrt', 'abs', 'reciprocal'].forEach((op, k) => assertClose(r.native[k], r.js[k], op));
  tf.dispose([x, pos]);
});

test('Sum / Mean over N,H,W, over H,W (keepDims), over the last axis, over everything; non-adjacent axes fall back', { skip }, async () => {
  await setup();
  const rng = createRng(400);
  const x = randn(rng, [4, 9, 7, 70]);
  const r = both(() => [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2]), tf.mean(x, [1, 2], true), tf.sum(x, -1), tf.mean(x), tf.sum(x, [0, 2])]);
  assert.equal(r.nativeCalls.get('reduce'), 5, 'native for the five adjacent-axes reductions, JS for [0, 2]');
  ['sum NHW', 'mean NHW', 'mean HW keepDims', 'sum C', 'mean all', 'sum [0,2]'].forEach((what, k) => assertClose(r.native[k], r.js[k], what));
  // an independent check of the native sum: per-channel sums by hand
  const v = x.dataSync();
  const expected = new Float64Array(70);
  for (let i = 0; i < v.length; i++) expected[i % 70] += v[i];
  assertClose(r.native[0], Float32Array.from(expected), 'sum NHW vs hand sum');
  tf.dispose(x);
});

test('batch norm (FusedBatchNorm with per-channel and length-1 params) and its gradient through tf.moments match JS', { skip }, async () => {
  await setup();
  const rng = createRng(500);
  const x = randn(rng, [4, 6, 5, 48]) as tf.Tensor4D;
  const gamma = randn(rng, [48], 0.5, 1.5) as tf.Tensor1D, beta = randn(rng, [48]) as tf.Tensor1D;
  const dy = randn(rng, [4, 6, 5, 48]);
  const train = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.batchNorm4d(a as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5);
  };
  const r = both(() => [
    train(x, gamma, beta),
    ...tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => train(a, g, b).mul(dy).sum())([x, gamma, beta]),
    tf.batchNorm4d(x, tf.tensor1d([0.1]), tf.tensor1d([2]), tf.tensor1d([0.5]), tf.tensor1d([3]), 1e-3),
  ]);
  assertNativeRan(r.nativeCalls, 'batchNorm', 2);
  assertNativeRan(r.nativeCalls, 'reduce', 2);
  assertNativeRan(r.nativeCalls, 'binary', 1);
  ['y', 'dx', 'dgamma', 'dbeta', 'length-1 params'].forEach((what, k) => assertClose(r.native[k], r.js[k], what));
  tf.dispose([x, gamma, beta, dy]);
});

test('GELU (exact erf form) and its gradient match JS', { skip }, async () => {
  await setup();
  const rng = createRng(600);
  const x = randn(rng, [2, 8, 8, 64], -4, 4);
  const gelu = (t: tf.Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1));
  const r = both(() => [gelu(x), tf.grad(gelu)(x)]);
  assertNativeRan(r.nativeCalls, 'unary', 3); // erf forward twice, exp of the gradient
  assertNativeRan(r.nativeCalls, 'binary', 5);
  assertClose(r.native[0], r.js[0], 'gelu');
  assertClose(r.native[1], r.js[1], 'gelu grad');
  tf.dispose(x);
});

test('Tile: repeating size-1 dims (native) and general tiling (JS fallback) match JS', { skip }, async () => {
  await setup();
  const rng = createRng(700);
  const c = randn(rng, [1, 1, 1, 40]), m = randn(rng, [2, 1, 3]);
  const r = both(() => [tf.tile(c, [3, 5, 4, 1]), tf.tile(m, [1, 4, 1]), tf.tile(m, [2, 2, 2])]);
  assert.equal(r.nativeCalls.get('binary'), 2, 'native for the two size-1 repeats, JS for the general tiling');
  assert.deepEqual(r.native[0], r.js[0]);
  assert.deepEqual(r.native[1], r.js[1]);
  assert.deepEqual(r.native[2], r.js[2]);
  assert.equal(r.native[0][40 * 7 + 5], c.dataSync()[5]);
  tf.dispose([c, m]);
});

test('non-float32 inputs go to the JS kernels', { skip }, async () => {
  await setup();
  const a = tf.tensor1d([1, 2, 3], 'int32'), b = tf.tensor1d([4, 5, 6], 'int32');
  counted.calls.clear();
  withNative(() => {
    const s = tf.add(a, b);
    assert.equal(s.dtype, 'int32');
    assert.deepEqual(Array.from(s.dataSync()), [5, 7, 9]);
    assert.deepEqual(Array.from(tf.sum(a).dataSync()), [6]);
    assert.deepEqual(Array.from(tf.neg(a).dataSync()), [-1, -2, -3]);
  });
  assert.equal([...counted.calls.values()].reduce((p, q) => p + q, 0), 0, 'no native call for int32');
});
