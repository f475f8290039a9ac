// Native GEMM-family kernels (native/gemm.cc via lib/backend/kernels-gemm.ts) against tfjs's own JS kernels on the
// same cpu backend: conv2d forward and gradients (1x1 fast path, patch embedding, im2col with strides, 'same' with
// even kernels, explicit and numeric padding), fused conv2d, matMul / batched matMul / fused matMul with
// transposes and gradients; seeded random-shape sweeps of conv2d / fused conv2d (forward, dx, dw, dbias) and of
// matMul / fused matMul (transposes, batch broadcasting, bias, relu; gradients where tfjs defines them); plus the
// raw SGEMM against a float64 reference and thread-count invariance.
// Every native comparison also checks that the addon really ran (a silent JS fallback would compare JS with JS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { loadAddon, nativeKernelNames, originalKernel, withJsKernels, type NativeAddon } from '../lib/backend/native.ts';
import { createRng, type Rng } from '../lib/rng.ts';
import { assertClose, assertCloseWithNaNs, describeGeometry, drawConvGeometry, randInt, randn, type ConvGeometry } from './helpers/native.ts';

const loaded = loadAddon();
const addon = loaded.addon as NativeAddon | null;
const skip = addon ? false : `native addon not available: ${loaded.reason}`;

// Counts calls of the addon's GEMM-family functions, so a test can tell the native path from a JS fallback.
const calls = new Map<string, number>();
let ready = false;
async function setup(): Promise<void> {
  if (ready) return;
  await initBackend('native');
  for (const fn of ['gemm', 'matmul', 'conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'] as const) {
    const real = addon![fn] as (...a: unknown[]) => void;
    (addon as unknown as Record<string, unknown>)[fn] = (...a: unknown[]) => {
      calls.set(fn, (calls.get(fn) ?? 0) + 1);
      return real(...a);
    };
  }
  ready = true;
}

/** Runs fn with the JS kernels and with the native ones; returns both results and the addon calls of the native run. */
function both(fn: () => tf.Tensor | tf.Tensor[]): { js: Float32Array[]; native: Float32Array[]; nativeCalls: Map<string, number> } {
  const run = (): Float32Array[] =>
    tf.tidy(() => [fn()].flat()).map((t) => {
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    });
  const js = withJsKernels(run);
  calls.clear();
  const native = run();
  return { js, native, nativeCalls: new Map(calls) };
}


type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase { what: string; n: number; h: number; w: number; cin: number; cout: number; kh: number; kw: number; stride: number | [number, number]; pad: Pad }
const convCases: ConvCase[] = [
  { what: '1x1 pointwise (GEMM fast path, K > KC, partial tiles)', n: 2, h: 12, w: 12, cin: 300, cout: 70, kh: 1, kw: 1, stride: 1, pad: 'same' },
  { what: '1x1 pointwise, many rows', n: 3, h: 10, w: 9, cin: 32, cout: 48, kh: 1, kw: 1, stride: 1, pad: 'valid' },
  { what: 'patch embedding p=2 (kernel = stride, valid)', n: 2, h: 8, w: 8, cin: 3, cout: 40, kh: 2, kw: 2, stride: 2, pad: 'valid' },
  { what: 'patch embedding p=7, size not a multiple of p', n: 1, h: 23, w: 16, cin: 3, cout: 24, kh: 7, kw: 7, stride: 7, pad: 'valid' },
  { what: '3x3 same, stride 1', n: 2, h: 9, w: 7, cin: 5, cout: 33, kh: 3, kw: 3, stride: 1, pad: 'same' },
  { what: 'even 4x4 kernel, same (extra pad bottom/right)', n: 2, h: 8, w: 9, cin: 6, cout: 17, kh: 4, kw: 4, stride: 1, pad: 'same' },
  { what: 'even 2x4 kernel, same, stride 2', n: 1, h: 9, w: 10, cin: 7, cout: 12, kh: 2, kw: 4, stride: 2, pad: 'same' },
  { what: '5x5 stride 2 same', n: 3, h: 11, w: 10, cin: 8, cout: 20, kh: 5, kw: 5, stride: 2, pad: 'same' },
  { what: '3x3 stride [1,2] valid', n: 2, h: 7, w: 12, cin: 4, cout: 9, kh: 3, kw: 3, stride: [1, 2], pad: 'valid' },
  { what: 'explicit asymmetric padding', n: 2, h: 6, w: 7, cin: 5, cout: 11, kh: 3, kw: 2, stride: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { what: 'numeric padding 1, stride 2', n: 1, h: 9, w: 9, cin: 6, cout: 10, kh: 3, kw: 3, stride: 2, pad: 1 },
  { what: 'kernel larger than the image, same', n: 2, h: 4, w: 5, cin: 3, cout: 8, kh: 7, kw: 7, stride: 1, pad: 'same' },
];

for (const [i, cs] of convCases.entries()) {
  test(`conv2d forward + dx + dw match JS: ${cs.what}`, { skip }, async () => {
    await setup();
    const rng = createRng(200 + i);
    const x = randn(rng, [cs.n, cs.h, cs.w, cs.cin]) as tf.Tensor4D;
    const w = randn(rng, [cs.kh, cs.kw, cs.cin, cs.cout]) as tf.Tensor4D;
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, cs.stride, cs.pad as 'same');
    const dy = randn(rng, conv(x, w).shape);
    const r = both(() => {
      const y = conv(x, w);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a as tf.Tensor4D, b as tf.Tensor4D).mul(dy).sum())([x, w]);
      return [y, gx!, gw!];
    });
    assert.ok(r.nativeCalls.get('conv2d')! >= 2, 'native conv2d ran (forward, and again inside tf.grads)');
    assert.equal(r.nativeCalls.get('conv2dBackpropInput'), 1, 'native backprop input ran');
    assert.equal(r.nativeCalls.get('conv2dBackpropFilter'), 1, 'native backprop filter ran');
    assertClose(r.native[0]!, r.js[0]!, 'forward');
    assertClose(r.native[1]!, r.js[1]!, 'dx');
    assertClose(r.native[2]!, r.js[2]!, 'dw');
    tf.dispose([x, w, dy]);
  });
}

test('fused conv2d (per-channel bias + relu, scalar bias + linear, no bias + relu) matches JS, with gradients', { skip }, async () => {
  await setup();
  const rng = createRng(31);
  const x = randn(rng, [2, 8, 8, 12]) as tf.Tensor4D;
  const w = randn(rng, [3, 3, 12, 20]) as tf.Tensor4D;
  const biases = [randn(rng, [20]), randn(rng, [1]), undefined];
  for (const [j, activation] of (['relu', 'linear', 'relu'] as const).entries()) {
    const bias = biases[j];
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 1, pad: 'same', bias, activation });
    const r = both(() => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).square().sum())([x, w]);
      return [f(x, w), gx!, gw!];
    });
    assert.ok(r.nativeCalls.get('conv2d')! >= 1, `native fused conv ran (${activation})`);
    r.native.forEach((v, k) => assertClose(v, r.js[k]!, `fused ${activation} bias ${bias?.shape ?? 'none'} output ${k}`));
  }
});

test('unsupported cases fall back to the JS kernel: dilated conv, prelu activation', { skip }, async () => {
  await setup();
  const rng = createRng(41);
  const x = randn(rng, [1, 9, 9, 4]) as tf.Tensor4D;
  const w = randn(rng, [3, 3, 4, 6]) as tf.Tensor4D;
  const alpha = randn(rng, [6]);
  const r = both(() => [
    tf.conv2d(x, w, 1, 'same', 'NHWC', 2),
    tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'valid', activation: 'prelu', preluActivationWeights: alpha }),
  ]);
  assert.equal(r.nativeCalls.get('conv2d') ?? 0, 0, 'no native call for unsupported cases');
  assertClose(r.native[0]!, r.js[0]!, 'dilated');
  assertClose(r.native[1]!, r.js[1]!, 'prelu');
});

// Random-shape sweep: conv2d and fused conv2d, forward and every gradient, on geometries drawn from one seed.
// A work budget (multiply-adds of one forward) keeps the JS reference, and so the file, fast.
interface ConvSweepCase extends ConvGeometry { cin: number; cout: number; bias: 'channel' | 'scalar' | 'none'; activation: 'relu' | 'linear' }
const CONV_SWEEP_MACS = 1.5e6;

function drawConvSweep(rng: Rng, count: number): ConvSweepCase[] {
  const out: ConvSweepCase[] = [];
  while (out.length < count) {
    const g = drawConvGeometry(rng);
    const cin = randInt(rng, 1, 40), cout = randInt(rng, 1, 40);
    const bias = (['channel', 'scalar', 'none'] as const)[randInt(rng, 0, 2)]!;
    const activation = rng.next() < 0.5 ? 'relu' : 'linear';
    if (g.n * g.outH * g.outW * g.kh * g.kw * cin * cout <= CONV_SWEEP_MACS) out.push({ ...g, cin, cout, bias, activation });
  }
  return out;
}

const convSweep = drawConvSweep(createRng(9001), 30);

test('conv sweep covers even kernels with same padding, strides > 1, explicit padding, batches > 1, non-square kernels', () => {
  assert.ok(convSweep.some((c) => c.pad === 'same' && (c.kh % 2 === 0 || c.kw % 2 === 0)), 'even kernel, same');
  assert.ok(convSweep.some((c) => c.stride[0] > 1 || c.stride[1] > 1), 'stride > 1');
  assert.ok(convSweep.some((c) => typeof c.pad !== 'string'), 'explicit padding');
  assert.ok(convSweep.some((c) => c.pad === 'valid'), 'valid');
  assert.ok(convSweep.some((c) => c.n >= 3), 'batch >= 3');
  assert.ok(convSweep.some((c) => c.kh !== c.kw), 'non-square kernel');
});

for (const [i, cs] of convSweep.entries()) {
  const name = `${describeGeometry(cs)} cin${cs.cin} cout${cs.cout}; fused: ${cs.bias} bias, ${cs.activation}`;
  test(`conv sweep ${i}: conv2d and fused conv2d forward + dx + dw (+ dbias) match JS: ${name}`, { skip }, async () => {
    await setup();
    const rng = createRng(9100 + i);
    const x = randn(rng, [cs.n, cs.h, cs.w, cs.cin]) as tf.Tensor4D;
    const w = randn(rng, [cs.kh, cs.kw, cs.cin, cs.cout]) as tf.Tensor4D;
    const b = cs.bias === 'none' ? undefined : randn(rng, cs.bias === 'channel' ? [cs.cout] : [1]);
    const dy = randn(rng, [cs.n, cs.outH, cs.outW, cs.cout]);
    const conv = (p: tf.Tensor, q: tf.Tensor) => tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, cs.stride, cs.pad);
    const fused = (p: tf.Tensor, q: tf.Tensor, r?: tf.Tensor) =>
      tf.fused.conv2d({ x: p as tf.Tensor4D, filter: q as tf.Tensor4D, strides: cs.stride, pad: cs.pad, bias: r, activation: cs.activation });
    const r = both(() => {
      const plainGrads = tf.grads((p: tf.Tensor, q: tf.Tensor) => conv(p, q).mul(dy).sum())([x, w]);
      const fusedGrads = b
        ? tf.grads((p: tf.Tensor, q: tf.Tensor, o: tf.Tensor) => fused(p, q, o).mul(dy).sum())([x, w, b])
        : tf.grads((p: tf.Tensor, q: tf.Tensor) => fused(p, q).mul(dy).sum())([x, w]);
      return [conv(x, w), ...plainGrads, fused(x, w, b), ...fusedGrads];
    });
    assert.ok(r.nativeCalls.get('conv2d')! >= 4, 'native conv2d ran (plain and fused, each also inside tf.grads)');
    assert.ok(r.nativeCalls.get('conv2dBackpropInput')! >= 2, 'native backprop input ran (plain and fused)');
    assert.ok(r.nativeCalls.get('conv2dBackpropFilter')! >= 2, 'native backprop filter ran (plain and fused)');
    const names = ['forward', 'dx', 'dw', 'fused forward', 'fused dx', 'fused dw', 'fused dbias'];
    assert.equal(r.native.length, b ? 7 : 6);
    r.native.forEach((v, k) => assertClose(v, r.js[k]!, names[k]!));
    tf.dispose([x, w, dy, ...(b ? [b] : [])]);
  });
}

// noGrad: tfjs's own BatchMatMul gradient does not reduce over broadcast batch dims, so only the forward is compared.
interface MatCase { what: string; a: number[]; b: number[]; ta: boolean; tb: boolean; noGrad?: boolean }
const matCases: MatCase[] = [
  { what: '2-D', a: [37, 53], b: [53, 29], ta: false, tb: false },
  { what: '2-D transposeA', a: [53, 37], b: [53, 29], ta: true, tb: false },
  { what: '2-D transposeB', a: [37, 53], b: [29, 53], ta: false, tb: true },
  { what: '2-D both transposed, large enough for the blocked path', a: [300, 130], b: [70, 300], ta: true, tb: true },
  { what: 'batched 3-D', a: [3, 7, 11], b: [3, 11, 5], ta: false, tb: false },
  { what: 'batched 4-D, transposeB', a: [2, 3, 6, 9], b: [2, 3, 4, 9], ta: false, tb: true },
  { what: 'batch broadcast: 2-D times 3-D', a: [6, 8], b: [4, 8, 5], ta: false, tb: false, noGrad: true },
  { what: 'batch broadcast: [1,..] times [3,..], transposeA', a: [1, 8, 6], b: [3, 8, 5], ta: true, tb: false, noGrad: true },
];

for (const [i, mc] of matCases.entries()) {
  test(`matMul forward + gradients match JS: ${mc.what}`, { skip }, async () => {
    await setup();
    const rng = createRng(300 + i);
    const a = randn(rng, mc.a), b = randn(rng, mc.b);
    const mm = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, mc.ta, mc.tb);
    const dy = randn(rng, mm(a, b).shape);
    const r = both(() => {
      if (mc.noGrad) return [mm(a, b)];
      const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => mm(p, q).mul(dy).sum())([a, b]);
      return [mm(a, b), ga!, gb!];
    });
    assert.ok(r.nativeCalls.get('matmul')! >= (mc.noGrad ? 1 : 3), 'native matmul ran for forward (and both gradients)');
    assertClose(r.native[0]!, r.js[0]!, 'forward');
    if (!mc.noGrad) {
      assertClose(r.native[1]!, r.js[1]!, 'da');
      assertClose(r.native[2]!, r.js[2]!, 'db');
    }
    tf.dispose([a, b, dy]);
  });
}

// Random-shape sweep of matMul and fused matMul: m, n, k 1-40, random transposes, ranks 2-4 with equal batch dims
// (forward and gradients) or one side broadcast (forward only, see noGrad above), optional bias and relu.
interface MatSweepCase { a: number[]; b: number[]; ta: boolean; tb: boolean; broadcast: boolean; fused: boolean; bias: 'channel' | 'scalar' | 'none'; activation: 'relu' | 'linear' }

function drawMatSweep(rng: Rng, count: number): MatSweepCase[] {
  return Array.from({ length: count }, () => {
    const m = randInt(rng, 1, 40), n = randInt(rng, 1, 40), k = randInt(rng, 1, 40);
    const ta = rng.next() < 0.5, tb = rng.next() < 0.5;
    const outer = Array.from({ length: randInt(rng, 0, 2) }, () => randInt(rng, 1, 4));
    // broadcast: one side's batch dims are all 1 or absent (the native kernel's "equal or 1" case)
    const side = outer.length === 0 ? 0 : randInt(rng, 0, 2);
    const ones = rng.next() < 0.5 ? outer.map(() => 1) : [];
    const outerA = side === 1 ? ones : outer, outerB = side === 2 ? ones : outer;
    const a = [...outerA, ...(ta ? [k, m] : [m, k])], b = [...outerB, ...(tb ? [n, k] : [k, n])];
    const fused = rng.next() < 0.5;
    const bias = fused ? (['channel', 'scalar', 'none'] as const)[randInt(rng, 0, 2)]! : 'none';
    const activation = fused && rng.next() < 0.5 ? 'relu' : 'linear';
    // tfjs's gradient keeps the broadcast shape, so any difference in batch dims (even [1] vs none) is forward only
    const broadcast = JSON.stringify(outerA) !== JSON.stringify(outerB);
    return { a, b, ta, tb, broadcast, fused, bias, activation };
  });
}

const matSweep = drawMatSweep(createRng(9002), 24);

test('matMul sweep covers every transpose pair, batched and broadcast shapes, fused bias and relu', () => {
  for (const ta of [false, true]) for (const tb of [false, true]) assert.ok(matSweep.some((c) => c.ta === ta && c.tb === tb), `ta ${ta} tb ${tb}`);
  assert.ok(matSweep.some((c) => c.a.length > 2 && !c.broadcast), 'batched, equal batch dims');
  assert.ok(matSweep.some((c) => c.broadcast), 'broadcast batch');
  assert.ok(matSweep.some((c) => c.fused && c.bias === 'channel' && c.activation === 'relu'), 'fused bias + relu');
});

for (const [i, mc] of matSweep.entries()) {
  const kind = mc.fused ? `fused (${mc.bias} bias, ${mc.activation})` : 'plain';
  const name = `${JSON.stringify(mc.a)}${mc.ta ? 'T' : ''} x ${JSON.stringify(mc.b)}${mc.tb ? 'T' : ''} ${kind}${mc.broadcast ? ', broadcast (forward only)' : ''}`;
  test(`matMul sweep ${i}: forward${mc.broadcast ? '' : ' + gradients'} match JS: ${name}`, { skip }, async () => {
    await setup();
    const rng = createRng(9200 + i);
    const a = randn(rng, mc.a), b = randn(rng, mc.b);
    const n = mc.tb ? mc.b[mc.b.length - 2]! : mc.b[mc.b.length - 1]!;
    const bias = mc.bias === 'none' ? undefined : randn(rng, mc.bias === 'channel' ? [n] : [1]);
    const mm = (p: tf.Tensor, q: tf.Tensor, o?: tf.Tensor): tf.Tensor => mc.fused
      ? tf.fused.matMul({ a: p, b: q, transposeA: mc.ta, transposeB: mc.tb, bias: o, activation: mc.activation })
      : tf.matMul(p, q, mc.ta, mc.tb);
    const dy = randn(rng, mm(a, b, bias).shape);
    const r = both(() => {
      if (mc.broadcast) return [mm(a, b, bias)];
      const inputs = bias ? [a, b, bias] : [a, b];
      return [mm(a, b, bias), ...tf.grads((...t: tf.Tensor[]) => mm(t[0]!, t[1]!, t[2]).mul(dy).sum())(inputs)];
    });
    assert.ok(r.nativeCalls.get('matmul')! >= (mc.broadcast ? 1 : 4), 'native matmul ran for forward (again inside tf.grads, and both gradients)');
    const names = ['forward', 'da', 'db', 'dbias'];
    assert.equal(r.native.length, mc.broadcast ? 1 : bias ? 4 : 3);
    r.native.forEach((v, k) => assertClose(v, r.js[k]!, names[k]!));
    tf.dispose([a, b, dy, ...(bias ? [bias] : [])]);
  });
}

test('fused matMul (bias + relu, transposes) matches JS, with gradients', { skip }, async () => {
  await setup();
  const rng = createRng(51);
  const a = randn(rng, [24, 16]), b = randn(rng, [10, 24]), bias = randn(rng, [10]);
  const f = (p: tf.Tensor, q: tf.Tensor) => tf.fused.matMul({ a: p as tf.Tensor2D, b: q as tf.Tensor2D, transposeA: true, transposeB: true, bias, activation: 'relu' });
  const r = both(() => {
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => f(p, q).square().sum())([a, b]);
    return [f(a, b), ga!, gb!];
  });
  assert.ok(r.nativeCalls.get('matmul')! >= 1, 'native fused matmul ran');
  r.native.forEach((v, k) => assertClose(v, r.js[k]!, `fused matmul output ${k}`));
});

test('raw SGEMM matches a float64 reference for every transpose combination and accumulates', { skip }, () => {
  const rng = createRng(61);
  const [m, n, k] = [131, 70, 301]; // crosses the MR/NR tiles, the MC block and the KC block
  const A = Float32Array.from({ length: m * k }, () => rng.next() * 2 - 1);
  const B = Float32Array.from({ length: k * n }, () => rng.next() * 2 - 1);
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const C = new Float32Array(m * n).fill(1);
      addon!.gemm(ta, tb, m, n, k, A, B, C, true); // accumulate onto ones
      let maxErr = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 1;
          for (let p = 0; p < k; p++) s += (ta ? A[p * m + i]! : A[i * k + p]!) * (tb ? B[j * k + p]! : B[p * n + j]!);
          maxErr = Math.max(maxErr, Math.abs(C[i * n + j]! - s));
        }
      }
      assert.ok(maxErr < 1e-4, `transA=${ta} transB=${tb}: max abs error ${maxErr}`);
    }
  }
});

test('results do not depend on the thread count (each output element has one fixed summation order)', { skip }, async () => {
  await setup();
  const rng = createRng(71);
  const x = randn(rng, [2, 10, 10, 64]) as tf.Tensor4D, w = randn(rng, [1, 1, 64, 96]) as tf.Tensor4D;
  const run = (threads: number) => {
    addon!.setThreads(threads);
    return tf.tidy(() => tf.conv2d(x, w, 1, 'same').dataSync() as Float32Array);
  };
  const one = run(1), two = run(2), three = run(3);
  addon!.setThreads(0);
  assert.deepEqual(two, one);
  assert.deepEqual(three, one);
});

test('long-k products (1x1 filter gradients): the barrier-free path (2+ threads) gives the one-thread loop nest\'s bits and the float64 sums', { skip }, () => {
  // k >= 8 KC blocks and few output panels: SgemmLongK (and GemmBf16LongK) with 2 or 3 threads, Sgemm's shared-B loop
  // with 1; every output element must sum its k blocks in the same order either way.
  const rng = createRng(73);
  for (const [m, n, k] of [[40, 70, 4133], [12, 256, 2048 + 77], [131, 100, 3000]] as const) {
    const A = Float32Array.from({ length: m * k }, () => rng.next() * 2 - 1);
    const B = Float32Array.from({ length: k * n }, () => rng.next() * 2 - 1);
    for (const mode of [0, 1] as const) {
      if (mode === 1 && typeof addon!.setGemmPrecision !== 'function') continue;
      addon!.setGemmPrecision?.(mode);
      const run = (threads: number, ta: boolean, accumulate: boolean) => {
        addon!.setThreads(threads);
        const C = new Float32Array(m * n).fill(accumulate ? 0.5 : 0);
        addon!.gemm(ta, false, m, n, k, A, B, C, accumulate);
        return C;
      };
      try {
        for (const ta of [true, false]) {
          const one = run(1, ta, true);
          assert.deepEqual(run(2, ta, true), one, `${m}x${n}x${k} transA=${ta} mode ${mode}: 2 threads`);
          assert.deepEqual(run(3, ta, true), one, `${m}x${n}x${k} transA=${ta} mode ${mode}: 3 threads`);
          if (mode === 0) {
            let maxErr = 0;
            for (let i = 0; i < m; i += 7) for (let j = 0; j < n; j += 5) {
              let s = 0.5;
              for (let p = 0; p < k; p++) s += (ta ? A[p * m + i]! : A[i * k + p]!) * B[p * n + j]!;
              maxErr = Math.max(maxErr, Math.abs(one[i * n + j]! - s));
            }
            assert.ok(maxErr < 1e-3, `${m}x${n}x${k} transA=${ta}: max abs error ${maxErr}`);
          }
        }
      } finally {
        addon!.setThreads(0);
        addon!.setGemmPrecision?.(0);
      }
    }
  }
});

test('withJsKernels swaps the JS originals in and the native kernels back', { skip }, async () => {
  await setup();
  assert.ok(nativeKernelNames().includes('Conv2D') && nativeKernelNames().includes('BatchMatMul'));
  const nativeConv = tf.getKernel('Conv2D', 'cpu')!.kernelFunc;
  assert.notEqual(nativeConv, originalKernel('Conv2D'));
  withJsKernels(() => assert.equal(tf.getKernel('Conv2D', 'cpu')!.kernelFunc, originalKernel('Conv2D')));
  assert.equal(tf.getKernel('Conv2D', 'cpu')!.kernelFunc, nativeConv);
});

test('fused conv2d / matMul relu keep NaN like the JS kernels (Math.max(0, NaN) is NaN)', { skip }, async () => {
  await setup();
  const rng = createRng(61);
  const xv = randn(rng, [1, 4, 4, 8]).dataSync() as Float32Array;
  xv[5 * 8 + 3] = NaN; // one input element of pixel (1, 1)
  const x = tf.tensor4d(xv, [1, 4, 4, 8]);
  const w = randn(rng, [1, 1, 8, 6]) as tf.Tensor4D, bias = randn(rng, [6]);
  const r = both(() => [
    tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'valid', bias, activation: 'relu' }),
    tf.fused.matMul({ a: x.reshape([16, 8]), b: w.reshape([8, 6]), bias, activation: 'relu' }),
  ]);
  assert.equal(r.nativeCalls.get('conv2d'), 1, 'native conv2d ran');
  assert.equal(r.nativeCalls.get('matmul'), 1, 'native matmul ran');
  assertCloseWithNaNs(r.native[0]!, r.js[0]!, 'conv2d relu');
  assertCloseWithNaNs(r.native[1]!, r.js[1]!, 'matMul relu');
  tf.dispose([x, w, bias]);
});
