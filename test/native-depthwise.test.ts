// Native depthwise kernels vs tfjs's own JS kernels on the same cpu backend: forward, fused bias+relu, and
// gradients (tf.grad through tf.depthwiseConv2d) for strides 1/2, 'same'/'valid'/explicit padding, odd/even k.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEPTHWISE_KERNELS, registerDepthwiseKernels, type DepthwiseAddon } from '../lib/backend/kernels-depthwise.ts';
import { createRng } from '../lib/rng.ts';
import { assertClose, assertCloseWithNaNs, kernelHarness, loadBuiltAddon, randn } from './helpers/native.ts';

const { addon, skip } = loadBuiltAddon<DepthwiseAddon>();
const { setup, both, withNative } = kernelHarness(DEPTHWISE_KERNELS, (original) => registerDepthwiseKernels(addon!, original));

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
    assertClose(r.native[0], r.js[0], `fused ${activation}`);
  }
  // relu really clipped something, so the comparison above covered the activation path
  const y = both(() => tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' })).native[0];
  assert.ok(y.some((v) => v === 0) && y.some((v) => v > 0));
  tf.dispose([x, w, bias]);
});

test('unsupported cases (channel multiplier 2, dilation 2) fall back to JS and still match', { skip }, async () => {
  await setup();
  const rng = createRng(8);
  const x = randn(rng, [1, 7, 7, 6]) as tf.Tensor4D;
  const w2 = randn(rng, [3, 3, 6, 2]) as tf.Tensor4D;
  const w1 = randn(rng, [3, 3, 6, 1]) as tf.Tensor4D;
  const r = both(() => [tf.depthwiseConv2d(x, w2, 1, 'same'), tf.depthwiseConv2d(x, w1, 1, 'same', 'NHWC', 2)]);
  assert.deepEqual(r.native[0], r.js[0]);
  assert.deepEqual(r.native[1], r.js[1]);
  tf.dispose([x, w1, w2]);
});

test('native depthwise matches a hand-computed answer: 1x1 image, 3x3 kernel, same padding', { skip }, async () => {
  await setup();
  // Only the centre tap touches the single pixel: y = x * w[1,1] per channel; dw[1,1] = x * dy, others 0.
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
});

test('stride-1 slab kernels: forward, input and filter gradients bit-identical on 1 and 3 threads', { skip }, async () => {
  await setup();
  const pool = addon as unknown as { setThreads(n: number): number };
  const rng = createRng(77);
  const x = randn(rng, [5, 11, 13, 40]) as tf.Tensor4D, w = randn(rng, [9, 9, 40, 1]) as tf.Tensor4D;
  const dy = randn(rng, [5, 11, 13, 40]);
  const run = (): Float32Array[] => both(() => {
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mul(dy).sum())([x, w]);
    return [tf.depthwiseConv2d(x, w, 1, 'same'), dx!, dw!];
  }).native;
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
    assertCloseWithNaNs(r.native[0]!, r.js[0]!, `k${k} s${stride} relu`);
    w.dispose();
  }
  tf.dispose([x, bias]);
});
