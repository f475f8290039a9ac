// Native depthwise kernels vs tfjs's own JS kernels on the same cpu backend: forward, fused bias+relu, and
// gradients (tf.grad through tf.depthwiseConv2d and tf.fused.depthwiseConv2d, incl. dbias) for strides 1/2,
// 'same'/'valid'/explicit padding, odd/even k; then a seeded random-shape sweep. Every native comparison also
// checks that the addon really ran (a silent JS fallback would compare JS with JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEPTHWISE_KERNELS, registerDepthwiseKernels, type DepthwiseAddon } from '../lib/backend/kernels-depthwise.ts';
import { createRng, type Rng } from '../lib/rng.ts';
import {
  assertClose, assertCloseWithNaNs, countCalls, describeGeometry, drawConvGeometry, kernelHarness, loadBuiltAddon, randInt, randn,
  type ConvGeometry,
} from './helpers/native.ts';

const { addon, skip } = loadBuiltAddon<DepthwiseAddon>();
// The kernels get a counting view of the addon: calls per addon function of each native run.
const counted = countCalls(addon);
const { setup, both, withNative } = kernelHarness(DEPTHWISE_KERNELS, (original) => registerDepthwiseKernels(counted.addon!, original), counted.calls);

/** Asserts the native run called each depthwise addon function at least `min` times. */
function assertNativeRan(calls: Map<string, number>, min: { forward: number; input?: number; filter?: number }): void {
  assert.ok((calls.get('depthwiseForward') ?? 0) >= min.forward, `native forward ran ${min.forward}+ times`);
  assert.ok((calls.get('depthwiseBackpropInput') ?? 0) >= (min.input ?? 0), `native backprop input ran ${min.input ?? 0}+ times`);
  assert.ok((calls.get('depthwiseBackpropFilter') ?? 0) >= (min.filter ?? 0), `native backprop filter ran ${min.filter ?? 0}+ times`);
}

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case { n: number; h: number; w: number; c: number; k: number; stride: 1 | 2; pad: Pad }
const cases: Case[] = [
  { n: 2, h: 9, w: 9, c: 40, k: 9, stride: 1, pad: 'same' },      // ConvMixer layer: odd k, C not a multiple of 32
  { n: 1, h: 8, w: 11, c: 64, k: 8, stride: 1, pad: 'same' },     // even k: extra padding bottom/right
  { n: 3, h: 7, w: 6, c: 5, k: 3, stride: 1, pad: 'valid' },
  { n: 2, h: 10, w: 9, c: 33, k: 5, stride: 2, pad: 'same' },
  { n: 1, h: 9, w: 12, c: 16, k: 4, stride: 2, pad: 'valid' },
  { n: 2, h: 6, w: 7, c: 36, k: 3, stride: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },  // explicit, asymmetric
  { n: 1, h: 7, w: 7, c: 8, k: 11, stride: 1, pad: 'same' },      // kernel larger than the image
  { n: 2, h: 12, w: 5, c: 7, k: 7, stride: 2, pad: [[0, 0], [3, 3], [1, 2], [0, 0]] },
  // Stride-1 slab kernels: rows of several 8-pixel segments plus a partial one, C = 16k + tail, rows shorter than a segment.
  { n: 2, h: 6, w: 19, c: 48, k: 7, stride: 1, pad: 'same' },
  { n: 3, h: 4, w: 3, c: 17, k: 5, stride: 1, pad: 'same' },
  { n: 1, h: 5, w: 17, c: 16, k: 9, stride: 1, pad: [[0, 0], [1, 6], [5, 2], [0, 0]] },
  { n: 2, h: 9, w: 10, c: 20, k: 8, stride: 1, pad: 'valid' },
  // Table 4's large kernels (11, 13, 15) on the slab kernels too: wider than a segment, taller than the image, a channel tail.
  { n: 2, h: 12, w: 19, c: 24, k: 11, stride: 1, pad: 'same' },
  { n: 1, h: 9, w: 10, c: 33, k: 13, stride: 1, pad: 'same' },
  { n: 2, h: 16, w: 17, c: 16, k: 15, stride: 1, pad: 'same' },
];

for (const [i, cs] of cases.entries()) {
  const name = `n${cs.n} ${cs.h}x${cs.w} c${cs.c} k${cs.k} s${cs.stride} pad ${JSON.stringify(cs.pad)}`;
  test(`depthwise forward + gradients match JS: ${name}`, { skip }, async () => {
    await setup();
    const rng = createRng(100 + i);
    const x = randn(rng, [cs.n, cs.h, cs.w, cs.c]) as tf.Tensor4D;
    const w = randn(rng, [cs.k, cs.k, cs.c, 1]) as tf.Tensor4D;
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.depthwiseConv2d(a, b, cs.stride, cs.pad);
    const outShape = conv(x, w).shape;
    const dy = randn(rng, outShape);
    const r = both(() => {
      const y = conv(x, w);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a as tf.Tensor4D, b as tf.Tensor4D).mul(dy).sum())([x, w]);
      return [y, gx, gw];
    });
    assertNativeRan(r.nativeCalls, { forward: 1, input: 1, filter: 1 });
    assertClose(r.native[0], r.js[0], 'forward');
    assertClose(r.native[1], r.js[1], 'dx');
    assertClose(r.native[2], r.js[2], 'dw');
    tf.dispose([x, w, dy]);
  });
}

test('fused depthwise (bias + relu, bias + linear) matches JS', { skip }, async () => {
  await setup();
  const rng = createRng(7);
  const x = randn(rng, [2, 8, 8, 48]) as tf.Tensor4D;
  const w = randn(rng, [9, 9, 48, 1]) as tf.Tensor4D;
  const bias = randn(rng, [48]);
  for (const activation of ['relu', 'linear'] as const) {
    const r = both(() => tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation }));
    assertNativeRan(r.nativeCalls, { forward: 1 });
    assertClose(r.native[0], r.js[0], `fused ${activation}`);
  }
  // relu really clipped something, so the comparison above covered the activation path
  const y = both(() => tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' })).native[0];
  assert.ok(y.some((v) => v === 0) && y.some((v) => v > 0));
  tf.dispose([x, w, bias]);
});

test('fused depthwise gradients (dx, dfilter, dbias) match JS: relu and linear, stride 1 and 2, odd and even k', { skip }, async () => {
  await setup();
  const rng = createRng(10);
  const x = randn(rng, [2, 9, 8, 20]) as tf.Tensor4D;
  const bias = randn(rng, [20]);
  for (const [k, stride, activation] of [[9, 1, 'relu'], [4, 1, 'linear'], [3, 2, 'relu'], [6, 2, 'linear']] as const) {
    const w = randn(rng, [k, k, 20, 1]) as tf.Tensor4D;
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.fused.depthwiseConv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: stride, pad: 'same', bias: c, activation });
    const dy = randn(rng, f(x, w, bias).shape);
    const r = both(() => [f(x, w, bias), ...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c).mul(dy).sum())([x, w, bias])]);
    assertNativeRan(r.nativeCalls, { forward: 2, input: 1, filter: 1 });
    ['forward', 'dx', 'dfilter', 'dbias'].forEach((what, i) => assertClose(r.native[i]!, r.js[i]!, `k${k} s${stride} ${activation} ${what}`));
    tf.dispose([w, dy]);
  }
  tf.dispose([x, bias]);
});

test('unsupported cases (channel multiplier 2, dilation 2) fall back to JS and still match', { skip }, async () => {
  await setup();
  const rng = createRng(8);
  const x = randn(rng, [1, 7, 7, 6]) as tf.Tensor4D;
  const w2 = randn(rng, [3, 3, 6, 2]) as tf.Tensor4D;
  const w1 = randn(rng, [3, 3, 6, 1]) as tf.Tensor4D;
  const r = both(() => [tf.depthwiseConv2d(x, w2, 1, 'same'), tf.depthwiseConv2d(x, w1, 1, 'same', 'NHWC', 2)]);
  assert.equal(r.nativeCalls.get('depthwiseForward') ?? 0, 0, 'no native call for unsupported cases');
  assert.deepEqual(r.native[0], r.js[0]);
  assert.deepEqual(r.native[1], r.js[1]);
  tf.dispose([x, w1, w2]);
});

test('native depthwise matches a hand-computed answer: 1x1 image, 3x3 kernel, same padding', { skip }, async () => {
  await setup();
  // Only the centre tap touches the single pixel: y = x * w[1,1] per channel; dw[1,1] = x * dy, others 0.
  counted.calls.clear();
  withNative(() => {
    const x = tf.tensor4d([2, -3], [1, 1, 1, 2]);
    const w = tf.tensor4d(Array.from({ length: 18 }, (_, i) => i), [3, 3, 2, 1]);
    assert.deepEqual(Array.from(tf.depthwiseConv2d(x, w, 1, 'same').dataSync()), [2 * 8, -3 * 9]);
    const gw = tf.grad((b: tf.Tensor) => tf.depthwiseConv2d(x, b as tf.Tensor4D, 1, 'same').sum())(w);
    const expected = new Array(18).fill(0);
    expected[8] = 2;
    expected[9] = -3;
    assert.deepEqual(Array.from(gw.dataSync()), expected);
  });
  assertNativeRan(counted.calls, { forward: 1, filter: 1 });
});

test('stride-1 slab kernels: forward, input and filter gradients bit-identical on 1 and 3 threads', { skip }, async () => {
  await setup();
  const pool = addon as unknown as { setThreads(n: number): number };
  const rng = createRng(77);
  const x = randn(rng, [5, 11, 13, 40]) as tf.Tensor4D, w = randn(rng, [9, 9, 40, 1]) as tf.Tensor4D;
  const dy = randn(rng, [5, 11, 13, 40]);
  const run = (): Float32Array[] => {
    const r = both(() => {
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mul(dy).sum())([x, w]);
      return [tf.depthwiseConv2d(x, w, 1, 'same'), dx!, dw!];
    });
    assertNativeRan(r.nativeCalls, { forward: 1, input: 1, filter: 1 });
    return r.native;
  };
  try {
    pool.setThreads(1);
    const one = run();
    pool.setThreads(3);
    const three = run();
    for (let k = 0; k < one.length; k++) assert.deepEqual(three[k], one[k], `output ${k}`);
  } finally {
    pool.setThreads(0);
  }
});

test('fused depthwise relu keeps NaN like the JS kernel (slab, block and channel-tail paths)', { skip }, async () => {
  await setup();
  const rng = createRng(9);
  const xv = randn(rng, [1, 9, 9, 40]).dataSync() as Float32Array;
  xv[(4 * 9 + 4) * 40 + 1] = NaN; // channel 1 (first block) and channel 37 (channel tail) of the centre pixel
  xv[(4 * 9 + 4) * 40 + 37] = NaN;
  const x = tf.tensor4d(xv, [1, 9, 9, 40]);
  const bias = randn(rng, [40]);
  for (const [k, stride] of [[9, 1], [4, 2]] as const) {
    const w = randn(rng, [k, k, 40, 1]) as tf.Tensor4D;
    const r = both(() => tf.fused.depthwiseConv2d({ x, filter: w, strides: stride, pad: 'same', bias, activation: 'relu' }));
    assertNativeRan(r.nativeCalls, { forward: 1 });
    assertCloseWithNaNs(r.native[0]!, r.js[0]!, `k${k} s${stride} relu`);
    w.dispose();
  }
  tf.dispose([x, bias]);
});

// Random-shape sweep: plain and fused depthwise, forward and every gradient, on geometries drawn from one seed
// (mostly square kernels, so the stride-1 slab kernels for k = 3, 5, 7, 8, 9 are hit as well as the general path).
// A work budget (multiply-adds of one forward) keeps the JS reference, and so the file, fast.
interface SweepCase extends ConvGeometry { c: number; bias: boolean; activation: 'relu' | 'linear' }
const SWEEP_MACS = 5e5;
const SLAB_K = new Set([3, 5, 7, 8, 9]);

function drawSweep(rng: Rng, count: number): SweepCase[] {
  const out: SweepCase[] = [];
  while (out.length < count) {
    const g = drawConvGeometry(rng, 0.75);
    const c = randInt(rng, 1, 40);
    const bias = rng.next() < 0.7, activation = rng.next() < 0.5 ? 'relu' : 'linear';
    if (g.n * g.outH * g.outW * g.kh * g.kw * c <= SWEEP_MACS) out.push({ ...g, c, bias, activation });
  }
  return out;
}

const sweep = drawSweep(createRng(9003), 30);
const isSlab = (cs: SweepCase): boolean => cs.stride[0] === 1 && cs.stride[1] === 1 && cs.kh === cs.kw && SLAB_K.has(cs.kh);

test('depthwise sweep covers even kernels with same padding, slab and general paths, strides > 1, explicit padding', () => {
  assert.ok(sweep.some((cs) => cs.pad === 'same' && (cs.kh % 2 === 0 || cs.kw % 2 === 0)), 'even kernel, same');
  assert.ok(sweep.filter(isSlab).length >= 3, 'stride-1 slab kernels');
  assert.ok(sweep.some((cs) => cs.stride[0] > 1 || cs.stride[1] > 1), 'stride > 1');
  assert.ok(sweep.some((cs) => typeof cs.pad !== 'string'), 'explicit padding');
  assert.ok(sweep.some((cs) => cs.kh !== cs.kw), 'non-square kernel');
  assert.ok(sweep.some((cs) => cs.c > 16 && cs.c % 16 !== 0), 'several channel blocks plus a tail');
  assert.ok(sweep.some((cs) => cs.n >= 3), 'batch >= 3');
});

for (const [i, cs] of sweep.entries()) {
  const name = `${describeGeometry(cs)} c${cs.c}; fused: ${cs.bias ? 'bias' : 'no bias'}, ${cs.activation}${isSlab(cs) ? ' (slab)' : ''}`;
  test(`depthwise sweep ${i}: plain and fused forward + dx + dw (+ dbias) match JS: ${name}`, { skip }, async () => {
    await setup();
    const rng = createRng(9300 + i);
    const x = randn(rng, [cs.n, cs.h, cs.w, cs.c]) as tf.Tensor4D;
    const w = randn(rng, [cs.kh, cs.kw, cs.c, 1]) as tf.Tensor4D;
    const b = cs.bias ? randn(rng, [cs.c]) : undefined;
    const dy = randn(rng, [cs.n, cs.outH, cs.outW, cs.c]);
    const conv = (p: tf.Tensor, q: tf.Tensor) => tf.depthwiseConv2d(p as tf.Tensor4D, q as tf.Tensor4D, cs.stride, cs.pad);
    // tf.fused.depthwiseConv2d's type omits explicit padding, but it passes it on to the kernel like the unfused op.
    const fused = (p: tf.Tensor, q: tf.Tensor, o?: tf.Tensor) =>
      tf.fused.depthwiseConv2d({ x: p as tf.Tensor4D, filter: q as tf.Tensor4D, strides: cs.stride, pad: cs.pad as 'same', bias: o, activation: cs.activation });
    const r = both(() => {
      const plainGrads = tf.grads((p: tf.Tensor, q: tf.Tensor) => conv(p, q).mul(dy).sum())([x, w]);
      const fusedGrads = b
        ? tf.grads((p: tf.Tensor, q: tf.Tensor, o: tf.Tensor) => fused(p, q, o).mul(dy).sum())([x, w, b])
        : tf.grads((p: tf.Tensor, q: tf.Tensor) => fused(p, q).mul(dy).sum())([x, w]);
      return [conv(x, w), ...plainGrads, fused(x, w, b), ...fusedGrads];
    });
    // forward: plain and fused, each once more inside tf.grads; so a fused fallback to JS would show
    assertNativeRan(r.nativeCalls, { forward: 4, input: 2, filter: 2 });
    const names = ['forward', 'dx', 'dw', 'fused forward', 'fused dx', 'fused dw', 'fused dbias'];
    assert.equal(r.native.length, b ? 7 : 6);
    r.native.forEach((v, k) => assertClose(v, r.js[k]!, names[k]!));
    tf.dispose([x, w, dy, ...(b ? [b] : [])]);
  });
}
