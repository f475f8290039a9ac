// Native kernels of the segmentation models' hot path vs tfjs's own JS kernels on the same cpu backend: max-pool and
// its gradient (2x2 fast paths, overlapping windows, padding, odd sizes, ties, NaN), ReLU and its gradient (Step),
// transposed convolution (the gemm family's Conv2DBackpropInput and its gradients), depth-to-space and the
// Reshape+Transpose gradient the models use, Transpose, Concat and its gradient (SplitV), Slice and its gradient
// (PadV2), bilinear resize and its gradient, AddN, and one training step of a small Unet-like graph. Every native
// comparison also checks, through a counting view of the addon, that the native function really ran (a silent JS
// fallback would compare JS with JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GEMM_KERNELS, registerGemmKernels } from '../lib/backend/kernels-gemm.ts';
import { ELEMENTWISE_KERNELS, registerElementwiseKernels } from '../lib/backend/kernels-elementwise.ts';
import { POOL_KERNELS, registerPoolKernels } from '../lib/backend/kernels-pool.ts';
import { LAYOUT_KERNELS, planStrided, registerLayoutKernels } from '../lib/backend/kernels-layout.ts';
import { POINTWISE_KERNELS, registerPointwiseKernels } from '../lib/backend/kernels-pointwise.ts';
import type { NativeAddon } from '../lib/backend/native.ts';
import { hookBackend, MIN_POOLED_FLOATS, poolStats, setPoolPoison } from '../lib/backend/bufferPool.ts';
import { createSegStep } from '../lib/bench/segStep.ts';
import { depthToSpace, leakyRelu } from '../lib/models/ops.ts';
import { createRng } from '../lib/rng.ts';
import { assertClose, countCalls, kernelHarness, loadBuiltAddon, randn } from './helpers/native.ts';

const { addon, skip } = loadBuiltAddon<NativeAddon>();
const counted = countCalls(addon);
// The new families plus the ones their gradients run through (Conv2D* for the transposed conv, Multiply for ReLU's).
const NAMES = [...GEMM_KERNELS, ...ELEMENTWISE_KERNELS, ...POOL_KERNELS, ...LAYOUT_KERNELS, ...POINTWISE_KERNELS];
const { setup, both, withNative } = kernelHarness(NAMES, (original) => [
  ...registerGemmKernels(counted.addon!, original), ...registerElementwiseKernels(counted.addon!, original),
  ...registerPoolKernels(counted.addon!, original), ...registerLayoutKernels(counted.addon!, original),
  ...registerPointwiseKernels(counted.addon!, original),
], counted.calls);

/** Asserts the native run called each addon function at least the given number of times. */
function assertNativeRan(calls: Map<string, number>, min: Partial<Record<keyof NativeAddon, number>>): void {
  for (const [fn, n] of Object.entries(min)) assert.ok((calls.get(fn) ?? 0) >= n!, `native ${fn} ran ${calls.get(fn) ?? 0} times, expected ${n}+`);
}

/** Element-for-element equality, NaN equal to NaN and -0 distinct from +0 (for kernels that only move or compare values). */
function assertSame(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} native ${actual[i]} vs JS ${expected[i]}`);
  }
}

/** Loss = sum(f(x) * dy): its gradient with respect to x is f's vector-Jacobian product with dy. */
function vjp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.grad((a: tf.Tensor) => f(a).mul(dy).sum())(x);
}

type PoolPad = 'valid' | 'same' | number;
interface PoolCase { shape: [number, number, number, number]; k: number; s: number; pad: PoolPad }
const poolCases: PoolCase[] = [
  { shape: [2, 8, 10, 16], k: 2, s: 2, pad: 'valid' },  // Unet pooling: windows tile the input (fast paths both ways)
  { shape: [1, 9, 7, 13], k: 2, s: 2, pad: 'valid' },   // odd sizes: last row/column unused; channel tail
  { shape: [2, 7, 9, 3], k: 2, s: 2, pad: 'same' },     // odd sizes, padded bottom/right; channels < one vector
  { shape: [1, 9, 9, 12], k: 3, s: 2, pad: 'same' },    // overlapping windows (two scatter passes)
  { shape: [2, 6, 5, 9], k: 3, s: 1, pad: 'same' },     // stride 1: every pixel in up to 9 windows
  // numeric padding (tfjs's MaxPool gradient drops dimRoundingMode, so only sizes it does not affect are differentiable)
  { shape: [1, 9, 9, 8], k: 3, s: 2, pad: 1 },
  { shape: [1, 5, 6, 4], k: 5, s: 3, pad: 'valid' },
];

for (const cs of poolCases) {
  test(`maxPool k${cs.k} s${cs.s} ${cs.pad} on ${cs.shape.join('x')}: forward and gradient match JS`, { skip }, async () => {
    await setup();
    const rng = createRng(100 + cs.k * 10 + cs.s);
    const x = randn(rng, cs.shape) as tf.Tensor4D;
    const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, cs.k, cs.s, cs.pad);
    const dy = randn(rng, pool(x).shape);
    const r = both(() => [pool(x), vjp(pool, x, dy)]);
    assertNativeRan(r.nativeCalls, { maxPool: 2, maxPoolGrad: 1 });
    assertSame(r.native[0]!, r.js[0]!, 'forward');
    // Each dx is one dy, or a sum of several where windows overlap (summed in another order than JS: last-bit differences).
    if (cs.k <= cs.s) assertSame(r.native[1]!, r.js[1]!, 'dx');
    else assertClose(r.native[1]!, r.js[1]!, 'dx');
    tf.dispose([x, dy]);
  });
}

test('maxPool ties and NaN: the first maximum in row-major window order wins, NaN never does (as in tfjs)', { skip }, async () => {
  await setup();
  // Hand-computed 2x2 windows, one channel: all equal -> top-left; [1, 3; 3, 0] -> top-right (first 3);
  // [NaN, 2; 5, NaN] -> 5, bottom-left; all NaN -> -inf and no gradient.
  const x = tf.tensor4d([1, 1, 1, 3, NaN, 2, NaN, NaN,
    1, 1, 3, 0, 5, NaN, NaN, NaN], [1, 2, 8, 1]);
  const dy = tf.tensor4d([10, 20, 30, 40], [1, 1, 4, 1]);
  const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid');
  const r = both(() => [pool(x), vjp(pool, x, dy)]);
  assertNativeRan(r.nativeCalls, { maxPool: 1, maxPoolGrad: 1 });
  assert.deepEqual([...r.native[0]!], [1, 3, 5, -Infinity]);
  assert.deepEqual([...r.native[1]!], [10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0]);
  assertSame(r.native[0]!, r.js[0]!, 'forward');
  assertSame(r.native[1]!, r.js[1]!, 'dx');
  // Many ties over 8+ channels (vector lanes) and overlapping windows: same winners as JS.
  const rng = createRng(5);
  const q = tf.tensor4d(Float32Array.from({ length: 2 * 7 * 7 * 11 }, () => Math.floor(rng.next() * 3)), [2, 7, 7, 11]);
  for (const [k, s] of [[2, 2], [3, 2], [3, 1]] as const) {
    const p = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, k, s, 'same');
    const g = randn(rng, p(q).shape);
    const t = both(() => vjp(p, q, g));
    assertNativeRan(t.nativeCalls, { maxPoolGrad: 1 });
    assertClose(t.native[0]!, t.js[0]!, `ties k${k} s${s}`);
    g.dispose();
  }
  tf.dispose([x, dy, q]);
});

test('maxPool gradient with overlapping windows is bit-identical on 1 and 2 threads; 1x1 identity pool stays JS', { skip }, async () => {
  await setup();
  const rng = createRng(6);
  const x = randn(rng, [3, 11, 10, 20]) as tf.Tensor4D;
  const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 3, 1, 'same');
  const dy = randn(rng, pool(x).shape);
  const runs: Float32Array[] = [];
  try {
    for (const n of [1, 2]) {
      addon!.setThreads(n);
      counted.calls.clear();
      runs.push(withNative(() => tf.tidy(() => vjp(pool, x, dy)).dataSync() as Float32Array));
      assertNativeRan(counted.calls, { maxPoolGrad: 1 });
    }
  } finally {
    addon!.setThreads(0);
  }
  assertSame(runs[1]!, runs[0]!, 'dx');
  const id = both(() => tf.maxPool(x, 1, 1, 'valid'));
  assert.equal(id.nativeCalls.get('maxPool') ?? 0, 0, 'JS returns its input for a 1x1 stride-1 pool');
  assertSame(id.native[0]!, id.js[0]!, 'identity');
  tf.dispose([x, dy]);
});

test('relu and its gradient (dy * step(x)) match JS, incl. NaN, -0 and 0', { skip }, async () => {
  await setup();
  const rng = createRng(7);
  const v = Float32Array.from({ length: 3 * 50 }, () => rng.next() * 4 - 2);
  v.set([NaN, -0, 0, 1e-30, -1e-30], 0);
  const x = tf.tensor3d(v, [3, 5, 10]);
  const dy = randn(rng, [3, 5, 10]);
  const r = both(() => [tf.relu(x), vjp(tf.relu, x, dy), tf.step(x, 0.25)]);
  assertNativeRan(r.nativeCalls, { relu: 2, step: 2, binary: 1 });
  r.native.forEach((a, i) => assertSame(a, r.js[i]!, ['relu', 'relu gradient', 'step(alpha 0.25)'][i]!));
  assert.ok(Number.isNaN(r.native[0]![0]!) && Object.is(r.native[0]![1], 0), 'relu(NaN) = NaN, relu(-0) = +0');
  tf.dispose([x, dy]);
});

test('leakyRelu (ops.ts, the YOLO head) runs natively forward and backward; equal to tfjs\'s LeakyRelu and its gradient (JS) except the gradient at NaN', { skip }, async () => {
  await setup();
  const rng = createRng(17);
  const v = Float32Array.from({ length: 4 * 37 }, () => rng.next() * 4 - 2);
  v.set([-0, 0, 1e-30, -1e-30, -3.5], 0);
  const x = tf.tensor2d(v, [4, 37]);
  const dy = randn(rng, [4, 37]);
  const ours = both(() => [leakyRelu(x, 0.1), vjp((a) => leakyRelu(a, 0.1), x, dy)]);
  assertNativeRan(ours.nativeCalls, { leakyRelu: 2, step: 1, binary: 1 });
  // The reference: tfjs's own op and its registered gradient (Greater + Select), on the JS kernels.
  const ref = both(() => [tf.leakyRelu(x, 0.1), vjp((a) => tf.leakyRelu(a, 0.1), x, dy)]);
  assertSame(ours.native[0]!, ref.js[0]!, 'leakyRelu forward');
  assertSame(ours.native[1]!, ref.js[1]!, 'leakyRelu gradient');
  assert.ok(Object.is(ours.native[0]![0], -0) && Math.abs(ours.native[0]![4]! - Math.fround(0.1) * -3.5) < 1e-7, 'leakyRelu(-0) = -0, leakyRelu(-3.5) = -0.35');
  tf.dispose([x, dy]);
});

test('conv2dTranspose (k2 s2 valid, k3 s1/s2 same, k4 s2 same) and its gradients run natively and match JS', { skip }, async () => {
  await setup();
  const rng = createRng(8);
  for (const [k, s, pad] of [[2, 2, 'valid'], [3, 1, 'same'], [3, 2, 'same'], [4, 2, 'same']] as const) {
    const x = randn(rng, [2, 5, 6, 12]) as tf.Tensor4D;
    const w = randn(rng, [k, k, 7, 12]) as tf.Tensor4D;
    const outShape: [number, number, number, number] = [2, 5 * s + (pad === 'valid' ? k - s : 0), 6 * s + (pad === 'valid' ? k - s : 0), 7];
    const up = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, s, pad);
    const dy = randn(rng, outShape);
    const r = both(() => [up(x, w), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => up(a, b).mul(dy).sum())([x, w])]);
    assertNativeRan(r.nativeCalls, { conv2dBackpropInput: 2, conv2d: 1, conv2dBackpropFilter: 1 });
    ['forward', 'dx', 'dw'].forEach((what, i) => assertClose(r.native[i]!, r.js[i]!, `k${k} s${s} ${pad} ${what}`));
    tf.dispose([x, w, dy]);
  }
});

test('depthToSpace forward is native and exact; its Reshape+Transpose gradient equals the JS gradient of the same map', { skip }, async () => {
  await setup();
  const rng = createRng(9);
  for (const [shape, b] of [[[2, 3, 5, 12], 2], [[1, 2, 3, 18], 3], [[2, 4, 4, 4], 2]] as const) {
    const x = randn(rng, [...shape]) as tf.Tensor4D;
    const [n, h, w, c] = shape;
    const dy = randn(rng, [n, h * b, w * b, c / (b * b)]);
    // Reference: the same pixel shuffle written as reshape -> transpose -> reshape, differentiated by tfjs itself.
    const viaTranspose = (a: tf.Tensor) =>
      tf.reshape(tf.transpose(tf.reshape(a, [n, h, w, b, b, c / (b * b)]), [0, 1, 3, 2, 4, 5]), [n, h * b, w * b, c / (b * b)]);
    const js = both(() => [viaTranspose(x), vjp(viaTranspose, x, dy)]).js;
    const r = both(() => [tf.depthToSpace(x, b), vjp((a) => depthToSpace(a as tf.Tensor4D, b), x, dy)]);
    assertNativeRan(r.nativeCalls, { copyStrided: 2 });
    assertSame(r.js[0]!, js[0]!, 'JS depthToSpace = reshape/transpose map');
    assertSame(r.native[0]!, r.js[0]!, 'forward');
    assertSame(r.native[1]!, js[1]!, 'gradient');
    tf.dispose([x, dy]);
  }
});

test('transpose: random permutations of rank 2-6 with odd and size-1 dims are exact', { skip }, async () => {
  await setup();
  const rng = createRng(10);
  for (let i = 0; i < 12; i++) {
    const rank = 2 + (i % 5);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
    const perm = rng.shuffle(Array.from({ length: rank }, (_, d) => d)) as number[];
    const x = randn(rng, shape);
    const r = both(() => tf.transpose(x, perm));
    assertNativeRan(r.nativeCalls, { copyStrided: 1 });
    assertSame(r.native[0]!, r.js[0]!, `shape ${shape} perm ${perm}`);
    x.dispose();
  }
});

test('planStrided merges dims that stay affine on both sides and drops size-1 dims', () => {
  // NHWC channel concat of a [2,3,4,5] input into a [2,3,4,9] output: one run of 5 per pixel.
  const p = planStrided([2, 3, 4, 5], [60, 20, 5, 1], [108, 36, 9, 1])!;
  assert.deepEqual([[...p.dims], [...p.src], [...p.dst]], [[24, 5], [5, 1], [9, 1]]);
  // The pixel-shuffle gradient's transpose [n,h,b,w,b,c] -> [n,h,w,b,b,c]: the last two dims merge.
  const q = planStrided([1, 2, 3, 2, 2, 4], [96, 48, 8, 16, 4, 1], [96, 48, 16, 8, 4, 1])!;
  assert.deepEqual([[...q.dims], [...q.src], [...q.dst]], [[2, 3, 2, 8], [48, 8, 16, 1], [48, 16, 8, 1]]);
  assert.deepEqual([...planStrided([1, 1], [1, 1], [1, 1])!.dims], [1]);
});

test('concat along channels, rows and batch with its gradient (SplitV) is exact', { skip }, async () => {
  await setup();
  const rng = createRng(11);
  for (const axis of [3, 1, 0, -1]) {
    const shapes = [5, 7, 1].map((n) => [2, 3, 4, 5].map((m, d) => (d === (axis + 4) % 4 ? n : m)));
    const xs = shapes.map((s) => randn(rng, s));
    const outShape = tf.concat(xs, axis).shape;
    const dy = randn(rng, outShape);
    const r = both(() => [tf.concat(xs, axis), ...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.concat([a, b, c], axis).mul(dy).sum())(xs)]);
    assertNativeRan(r.nativeCalls, { copyStrided: axis === 0 ? 3 : 6 }); // axis 0: the split is three contiguous views
    r.native.forEach((a, i) => assertSame(a, r.js[i]!, `axis ${axis} output ${i}`));
    tf.dispose([...xs, dy]);
  }
});

test('slice (strided and contiguous) with its gradient (PadV2), and pad with a constant, are exact', { skip }, async () => {
  await setup();
  const rng = createRng(12);
  const x = randn(rng, [2, 5, 6, 7]);
  const dy = randn(rng, [2, 3, 4, 4]);
  const sl = (a: tf.Tensor) => tf.slice(a, [0, 1, 2, 3], [2, 3, 4, 4]);
  const r = both(() => [sl(x), vjp(sl, x, dy), tf.pad(x, [[0, 1], [2, 0], [1, 1], [0, 3]], 1.5)]);
  assertNativeRan(r.nativeCalls, { copyStrided: 3, fill: 2 });
  r.native.forEach((a, i) => assertSame(a, r.js[i]!, ['slice', 'slice gradient', 'pad 1.5'][i]!));
  const c = both(() => tf.slice(x, [1, 2], [1, 3]));
  assert.equal(c.nativeCalls.get('copyStrided') ?? 0, 0, 'a contiguous slice is the JS kernel\'s zero-copy view');
  assertSame(c.native[0]!, c.js[0]!, 'contiguous slice');
  tf.dispose([x, dy]);
});

test('resizeBilinear forward matches JS for up/down sampling, align_corners and half_pixel_centers', { skip }, async () => {
  await setup();
  const rng = createRng(13);
  const x = randn(rng, [2, 5, 7, 6]) as tf.Tensor4D;
  for (const size of [[10, 14], [3, 4], [5, 7], [1, 1]] as [number, number][]) {
    for (const [align, half] of [[false, false], [true, false], [false, true]]) {
      const r = both(() => tf.image.resizeBilinear(x, size, align, half));
      assertNativeRan(r.nativeCalls, { resizeBilinear: 1 });
      assertClose(r.native[0]!, r.js[0]!, `size ${size} align ${align} half ${half}`, 1e-6);
    }
  }
  x.dispose();
});

test('resizeBilinear gradient: equal to JS on square images, and the exact adjoint of the forward otherwise', { skip }, async () => {
  await setup();
  const rng = createRng(14);
  const sq = randn(rng, [2, 6, 6, 5]) as tf.Tensor4D;
  for (const [size, align] of [[[12, 12], false], [[4, 4], false], [[11, 11], true]] as [[number, number], boolean][]) {
    const dy = randn(rng, [2, ...size, 5]);
    const r = both(() => vjp((a) => tf.image.resizeBilinear(a as tf.Tensor4D, size, align), sq, dy));
    assertNativeRan(r.nativeCalls, { resizeBilinearGrad: 1 });
    assertClose(r.native[0]!, r.js[0]!, `size ${size} align ${align}`, 1e-6);
    dy.dispose();
  }
  // Non-square images and half_pixel_centers, where tfjs's JS gradient is wrong (shape [n, w, h, c]; ignores
  // half_pixel_centers): <resize(x), dy> = <x, grad(dy)> in float64, for random x and dy.
  const x = randn(rng, [2, 5, 7, 3]) as tf.Tensor4D;
  for (const [size, align, half] of [[[10, 9], false, false], [[9, 16], false, true], [[3, 4], true, false], [[4, 3], false, true]] as [[number, number], boolean, boolean][]) {
    const dy = randn(rng, [2, ...size, 3]);
    counted.calls.clear();
    const [y, g] = withNative(() => tf.tidy(() => {
      const out = tf.image.resizeBilinear(x, size, align, half);
      const grad = vjp((a) => tf.image.resizeBilinear(a as tf.Tensor4D, size, align, half), x, dy);
      assert.deepEqual(grad.shape, x.shape);
      return [out.dataSync() as Float32Array, grad.dataSync() as Float32Array];
    }) as unknown as [Float32Array, Float32Array]);
    assertNativeRan(counted.calls, { resizeBilinearGrad: 1 });
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const lhs = dot(y, dy.dataSync() as Float32Array), rhs = dot(x.dataSync() as Float32Array, g);
    assert.ok(Math.abs(lhs - rhs) <= 1e-5 * Math.max(1, Math.abs(lhs)), `size ${size} align ${align} half ${half}: ${lhs} vs ${rhs}`);
    dy.dispose();
  }
  tf.dispose([sq, x]);
});

test('addN matches JS exactly', { skip }, async () => {
  await setup();
  const rng = createRng(15);
  const xs = [0, 1, 2, 3].map(() => randn(rng, [3, 4, 5]));
  const r = both(() => tf.addN(xs));
  assertNativeRan(r.nativeCalls, { addN: 1 });
  assertSame(r.native[0]!, r.js[0]!, 'addN');
  tf.dispose(xs);
});

test('max over trailing axes (NaN rows, keepDims) and log match JS; max over a leading axis stays JS', { skip }, async () => {
  await setup();
  const rng = createRng(16);
  const v = Float32Array.from({ length: 4 * 6 * 5 }, () => rng.next() * 6 - 3);
  v[7] = NaN; // row 1 of the last-axis max (and block 0 of the [1, 2] max)
  const x = tf.tensor3d(v, [4, 6, 5]);
  const pos = tf.tensor2d(Float32Array.from({ length: 40 }, () => rng.next() * 10 + 1e-3), [8, 5]);
  const r = both(() => [tf.max(x, -1), tf.max(x, -1, true), tf.max(x, [2, 1]), tf.log(pos), tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 3, 4, 1, 2, 0, 1, 4], 'int32'), 5), pos)]);
  assertNativeRan(r.nativeCalls, { maxRows: 4, log: 2 });
  assertSame(r.native[0]!, r.js[0]!, 'max last axis');
  assert.ok(Number.isNaN(r.native[0]![1]!) && !Number.isNaN(r.native[0]![0]!), 'NaN only in its own row');
  assertSame(r.native[1]!, r.js[1]!, 'max keepDims');
  assertSame(r.native[2]!, r.js[2]!, 'max axes [2, 1]');
  assertClose(r.native[3]!, r.js[3]!, 'log', 1e-6);
  assertClose(r.native[4]!, r.js[4]!, 'softmax cross-entropy', 1e-6);
  const lead = both(() => tf.max(x, 0));
  assert.equal(lead.nativeCalls.get('maxRows') ?? 0, 0, 'max over axis 0 goes to JS');
  assertSame(lead.native[0]!, lead.js[0]!, 'max axis 0');
  tf.dispose([x, pos]);
});

test('softmax over the last axis (NaN rows, large logits, explicit dim) matches JS, and its gradient runs natively', { skip }, async () => {
  await setup();
  const rng = createRng(17);
  const v = Float32Array.from({ length: 4 * 6 * 9 }, () => rng.next() * 20 - 10);
  v[12] = NaN; // row 1 of the [24, 9] view: all NaN there, the other rows untouched
  v[40] = 1e30; // a huge logit: exp(x - max) keeps the row finite (a one-hot row)
  const x = tf.tensor3d(v, [4, 6, 9]);
  const clean = tf.tensor2d(Float32Array.from({ length: 5 * 197 }, () => rng.next() * 8 - 4), [5, 197]);
  const r = both(() => [tf.softmax(x), tf.softmax(x, 2), tf.softmax(clean), vjp((t) => tf.softmax(t), clean, tf.onesLike(clean).mul(0.5).add(clean))]);
  assertNativeRan(r.nativeCalls, { softmaxRows: 4 });
  assertClose(r.native[0]!.filter((_, i) => Math.floor(i / 9) !== 1), r.js[0]!.filter((_, i) => Math.floor(i / 9) !== 1), 'softmax', 1e-6);
  assert.ok(r.native[0]!.slice(9, 18).every(Number.isNaN) && r.js[0]!.slice(9, 18).every(Number.isNaN), 'a NaN row is NaN, in both');
  assert.deepEqual([...r.native[0]!.slice(36, 45)], [0, 0, 0, 0, 1, 0, 0, 0, 0], 'the huge logit takes the whole row');
  assertClose(r.native[1]!.filter((_, i) => Math.floor(i / 9) !== 1), r.js[1]!.filter((_, i) => Math.floor(i / 9) !== 1), 'softmax dim 2', 1e-6);
  assertClose(r.native[2]!, r.js[2]!, 'softmax 197 wide', 1e-6);
  // expf vs Math.exp: a last-bit difference at most (values ~1/197, float32 spacing ~5e-10 there)
  const maxDiff = r.native[2]!.reduce((m, a, i) => Math.max(m, Math.abs(a - r.js[2]![i]!)), 0);
  assert.ok(maxDiff <= 1e-8, `max |native - JS| ${maxDiff}`);
  assertClose(r.native[3]!, r.js[3]!, 'softmax gradient', 1e-5);
  // rows sum to 1 within float32 rounding
  for (let row = 0; row < 5; row++) {
    const s = r.native[2]!.slice(row * 197, (row + 1) * 197).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${row} sums to ${s}`);
  }
  tf.dispose([x, clean]);
});

test('unsupported dtypes (int32 transpose, concat, relu) fall back to JS and still match', { skip }, async () => {
  await setup();
  const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
  const r = both(() => [tf.transpose(a).toFloat(), tf.concat([a, a], 1).toFloat(), tf.relu(a).toFloat()]);
  assert.equal(r.nativeCalls.get('copyStrided') ?? 0, 0);
  assert.equal(r.nativeCalls.get('relu') ?? 0, 0);
  r.native.forEach((v, i) => assertSame(v, r.js[i]!, `int32 ${i}`));
  a.dispose();
});

test('a small Unet-like graph: the losses of three training steps agree with JS, every seg kernel ran natively', { skip }, async () => {
  await setup();
  // Steps 2 and 3 see the weights after one and two SGD updates, so they also compare every gradient.
  const run = (): Float32Array => {
    const seg = createSegStep({ batch: 2, size: 8, width: 4, classes: 3, seed: 21, lr: 0.1 });
    const losses = Float32Array.from([seg.step(), seg.step(), seg.step()]);
    seg.dispose();
    return losses;
  };
  const js = run();
  counted.calls.clear();
  const native = withNative(run);
  assertNativeRan(counted.calls, {
    maxPool: 3, maxPoolGrad: 3, relu: 12, step: 12, copyStrided: 6, resizeBilinear: 3, resizeBilinearGrad: 3, addN: 3, maxRows: 3, log: 3,
    conv2d: 3, conv2dBackpropInput: 3, conv2dBackpropFilter: 3,
  });
  assert.ok(js.every(Number.isFinite));
  assertClose(native, js, 'losses of 3 steps', 1e-4);
  assert.ok(js[2]! < js[0]!, `the loss goes down (${js})`);
});

test('recycled output buffers poisoned with NaN: a pooled-size Unet-like step stays finite (every output element is written)', { skip }, async () => {
  await setup();
  // Native outputs come from the recycling pool (lib/backend/bufferPool.ts) once the backend tells it about disposals;
  // a kernel that skipped an element of its output would read NaN from a recycled buffer into the loss.
  hookBackend(tf.backend() as unknown as Parameters<typeof hookBackend>[0]);
  // Sized so that every seg kernel's output is pooled: the smallest are the max-pool output and the resize gradient,
  // batch x (size/2)^2 x width and batch x (size/2)^2 x classes floats.
  const opts = { batch: 2, size: 64, width: 32, classes: 32, seed: 22, lr: 0.1 };
  assert.ok(opts.batch * (opts.size / 2) ** 2 * Math.min(opts.width, opts.classes) >= MIN_POOLED_FLOATS, 'all outputs are pooled');
  setPoolPoison(true);
  try {
    const before = poolStats().reused;
    const losses = withNative(() => {
      const seg = createSegStep(opts);
      const out = [seg.step(), seg.step(), seg.step()];
      seg.dispose();
      return out;
    });
    assert.ok(poolStats().reused > before, 'the steps reused pooled buffers');
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
    assert.ok(losses[2]! < losses[0]!, `the loss goes down (${losses})`);
  } finally {
    setPoolPoison(false);
  }
});
