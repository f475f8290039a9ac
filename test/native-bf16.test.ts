// bf16 mixed precision of the native GEMM family (native/gemm_bf16.cc, lib/backend setPrecision): what it computes is
// fp32 arithmetic on operands rounded to bfloat16 (round to nearest even). So the references here are independent
// JS computations on operands rounded by a JS bf16 rounding: a float64 product for the raw GEMM, and tfjs's own JS
// conv / matmul kernels (and their gradients) for the tfjs ops. Those agree with the native results to fp32 summation
// order. Against plain fp32, the error must stay inside the bound bf16 rounding allows (sum of |a||b| x 2^-7).
// The AVX512-BF16 kernel is compared with the portable kernel on machines that have it (skipped with the reason elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setPrecision } from '../lib/backend/index.ts';
import { loadAddon, withJsKernels, type NativeAddon } from '../lib/backend/native.ts';
import { createRng } from '../lib/rng.ts';
import { UserError } from '../lib/errors.ts';
import { assertClose, randn } from './helpers/native.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageDataset } from '../lib/data/cifar10.ts';
import { buildRecipe, type TrainConfig } from '../lib/train/config.ts';
import { resolveConfig } from '../lib/models/convmixer.ts';
import { trainRun } from '../lib/train/loop.ts';

const loaded = loadAddon();
const addon = loaded.addon as NativeAddon | null;
const skip = addon ? (typeof addon.setGemmPrecision === 'function' ? false : 'native addon built before bf16 support') : `native addon not available: ${loaded.reason}`;
const skipAvx = skip || (addon!.bf16Kernel === 'avx512_bf16' ? false : `this CPU has no avx512_bf16 (bf16 runs on the portable kernel: ${addon!.bf16Kernel})`);

/** fp32 -> nearest bf16 (ties to even), as a float32 value; written independently of the native code. */
function bf16(values: Float32Array): Float32Array {
  const out = Float32Array.from(values);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    if ((u & 0x7fffffff) > 0x7f800000) continue; // NaN
    bits[i] = (((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16) >>> 0;
  }
  return out;
}

test('JS bf16 rounding: ties go to even, 8 significant bits', () => {
  // 1 + 2^-8 lies halfway between bf16 1 and 1 + 2^-7: ties to even (1); 1 + 3 * 2^-8 rounds up to 1 + 2^-6.
  assert.deepEqual([...bf16(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -7, -2.5, 1 / 3))], [1, 1 + 2 ** -6, 1 + 2 ** -7, -2.5, 0.333984375]);
});

const rnd = (seed: number, n: number): Float32Array => {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
};

/** Max error of the addon's gemm (mode) against float64 sums of products of the bf16-rounded operands, and the bound check vs fp32. */
function gemmCase(m: number, n: number, k: number, ta: boolean, tb: boolean, mode: 1 | 2): void {
  const A = rnd(m * 7 + k, m * k), B = rnd(n * 11 + k, k * n);
  const rA = bf16(A), rB = bf16(B);
  const C = new Float32Array(m * n).fill(0.5);
  addon!.setGemmPrecision!(mode);
  try {
    addon!.gemm(ta, tb, m, n, k, A, B, C, true); // accumulates onto 0.5
  } finally {
    addon!.setGemmPrecision!(0);
  }
  const a = (x: Float32Array, i: number, p: number): number => (ta ? x[p * m + i]! : x[i * k + p]!);
  const b = (x: Float32Array, p: number, j: number): number => (tb ? x[j * k + p]! : x[p * n + j]!);
  let worst = 0, worstBound = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let exact = 0.5, fp32 = 0.5, absSum = 0;
      for (let p = 0; p < k; p++) {
        exact += a(rA, i, p) * b(rB, p, j);
        fp32 += a(A, i, p) * b(B, p, j);
        absSum += Math.abs(a(A, i, p) * b(B, p, j));
      }
      const got = C[i * n + j]!;
      // fp32 accumulation of k terms: a few ulps of the running sum's magnitude.
      worst = Math.max(worst, Math.abs(got - exact) / (absSum * 2 ** -20 + 1e-6));
      // bf16 has 8 significant bits: each operand's relative rounding error is at most 2^-8, each product's ~2^-7.
      worstBound = Math.max(worstBound, Math.abs(got - fp32) / (absSum * (2 ** -7 + 2 ** -16) + 1e-6));
    }
  }
  const what = `${m}x${n}x${k} transA=${ta} transB=${tb} kernel ${mode === 1 ? addon!.bf16Kernel : 'portable'}`;
  assert.ok(worst <= 4, `${what}: error vs bf16-operand float64 reference is ${worst.toFixed(2)} x (2^-20 sum|ab|)`);
  assert.ok(worstBound <= 1, `${what}: error vs fp32 exceeds bf16's bound (${worstBound.toFixed(2)} x 2^-7 sum|ab|)`);
}

for (const mode of [1, 2] as const) {
  test(`raw GEMM in bf16 (${mode === 1 ? 'fastest kernel' : 'portable kernel'}) = fp32 sums of bf16-rounded operands, every transpose, odd k, k > KC`, { skip }, () => {
    for (const [m, n, k] of [[7, 5, 3], [131, 70, 301], [20, 33, 801]] as const) {
      for (const ta of [false, true]) for (const tb of [false, true]) gemmCase(m, n, k, ta, tb, mode);
    }
  });
}

test('AVX512-BF16 kernel and portable kernel agree to fp32 summation order', { skip: skipAvx }, () => {
  const [m, n, k] = [203, 97, 517];
  const A = rnd(5, m * k), B = rnd(6, k * n);
  const out = [1, 2].map((mode) => {
    const C = new Float32Array(m * n);
    addon!.setGemmPrecision!(mode as 1 | 2);
    addon!.gemm(false, true, m, n, k, A, B, C, false);
    return C;
  });
  addon!.setGemmPrecision!(0);
  assertClose(out[0]!, out[1]!, 'avx512_bf16 vs portable', 1e-5);
});

test('bf16 leaves fp32 untouched: switching back gives fp32 results bit for bit', { skip }, () => {
  const [m, n, k] = [64, 48, 96];
  const A = rnd(7, m * k), B = rnd(8, k * n);
  const run = (): Float32Array => {
    const C = new Float32Array(m * n);
    addon!.gemm(false, false, m, n, k, A, B, C, false);
    return C;
  };
  const before = run();
  addon!.setGemmPrecision!(1);
  const mixed = run();
  addon!.setGemmPrecision!(0);
  assert.deepEqual(run(), before);
  assert.ok(mixed.some((v, i) => v !== before[i]), 'bf16 mode changed the result (the mode switch is live)');
});

/** Runs fn on the native engine in bf16, and with tfjs's JS kernels on the bf16-rounded inputs; returns both. */
function bf16VsJs(inputs: tf.Tensor[], fn: (...t: tf.Tensor[]) => tf.Tensor[], portable = false): { native: Float32Array[]; ref: Float32Array[]; fp32: Float32Array[] } {
  const read = (ts: tf.Tensor[]): Float32Array[] => ts.map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
  const rounded = inputs.map((t) => tf.tensor(bf16(t.dataSync() as Float32Array), t.shape));
  const kernel = setPrecision('bf16');
  assert.notEqual(kernel, 'fp32');
  if (portable) addon!.setGemmPrecision!(2);
  let native: Float32Array[];
  try {
    native = read(tf.tidy(() => fn(...inputs)));
  } finally {
    setPrecision('fp32');
  }
  const ref = withJsKernels(() => read(tf.tidy(() => fn(...rounded))));
  const fp32 = withJsKernels(() => read(tf.tidy(() => fn(...inputs))));
  tf.dispose(rounded);
  return { native, ref, fp32 };
}

test('conv2d forward, dx and dw in bf16 = JS kernels on bf16-rounded x, w and dy (1x1, patch embedding, 3x3 same)', { skip }, async () => {
  await initBackend('native');
  const cases = [
    { n: 2, h: 6, w: 6, cin: 40, cout: 24, k: 1, s: 1, pad: 'valid' as const },
    { n: 2, h: 8, w: 8, cin: 3, cout: 16, k: 2, s: 2, pad: 'valid' as const },
    { n: 1, h: 7, w: 5, cin: 9, cout: 11, k: 3, s: 1, pad: 'same' as const },
  ];
  for (const [i, c] of cases.entries()) {
    const rng = createRng(300 + i);
    const x = randn(rng, [c.n, c.h, c.w, c.cin]) as tf.Tensor4D, w = randn(rng, [c.k, c.k, c.cin, c.cout]) as tf.Tensor4D;
    const dy = randn(rng, tf.conv2d(x, w, c.s, c.pad).shape);
    const r = bf16VsJs([x, w, dy], (a, b, g) => {
      const f = (p: tf.Tensor, q: tf.Tensor): tf.Tensor => tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, c.s, c.pad);
      const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => f(p, q).mul(g!).sum())([a!, b!]);
      return [f(a!, b!), gx!, gw!];
    });
    ['forward', 'dx', 'dw'].forEach((what, j) => {
      assertClose(r.native[j]!, r.ref[j]!, `case ${i} ${what}: bf16 vs JS on rounded operands`, 1e-5);
      // and it is not fp32: rounding the operands moved the result (else the mode would be a no-op)
      assert.ok(r.native[j]!.some((v, e) => Math.abs(v - r.fp32[j]![e]!) > 1e-6), `case ${i} ${what}: bf16 differs from fp32`);
    });
    tf.dispose([x, w, dy]);
  }
});

test('depthwise conv forward, dx and dw in bf16 (paired-tap AVX512-BF16 slabs, and rounded operands elsewhere) = JS kernels on rounded operands', { skip }, async () => {
  await initBackend('native');
  // k9 / k5 / k8 / k11 / k13 / k15 'same' stride 1: the slab kernels (k8: even taps, no zero pair); a channel tail (c = 20, 37, 33);
  // k4 (no slab instantiation) and stride 2: the fp32 kernels on rounded copies.
  const cases = [
    { n: 2, h: 11, w: 13, c: 32, k: 9, s: 1 }, { n: 1, h: 6, w: 9, c: 20, k: 5, s: 1 }, { n: 2, h: 9, w: 8, c: 37, k: 8, s: 1 },
    { n: 1, h: 7, w: 7, c: 16, k: 4, s: 1 }, { n: 2, h: 9, w: 10, c: 24, k: 3, s: 2 },
    { n: 2, h: 12, w: 19, c: 24, k: 11, s: 1 }, { n: 1, h: 9, w: 10, c: 33, k: 13, s: 1 }, { n: 1, h: 16, w: 17, c: 16, k: 15, s: 1 },
  ];
  for (const portable of [false, true]) {
    for (const [i, c] of cases.entries()) {
      const rng = createRng(340 + i);
      const x = randn(rng, [c.n, c.h, c.w, c.c]) as tf.Tensor4D, w = randn(rng, [c.k, c.k, c.c, 1]) as tf.Tensor4D;
      const dy = randn(rng, tf.depthwiseConv2d(x, w, c.s, 'same').shape);
      const r = bf16VsJs([x, w, dy], (a, b, g) => {
        const f = (p: tf.Tensor, q: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(p as tf.Tensor4D, q as tf.Tensor4D, c.s, 'same');
        const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => f(p, q).mul(g!).sum())([a!, b!]);
        return [f(a!, b!), gx!, gw!];
      }, portable);
      ['forward', 'dx', 'dw'].forEach((what, j) => {
        const tag = `${portable ? 'portable' : addon!.bf16Kernel} k${c.k} s${c.s} c${c.c} ${what}`;
        assertClose(r.native[j]!, r.ref[j]!, `${tag}: bf16 vs JS on rounded operands`, 1e-5);
        assert.ok(r.native[j]!.some((v, e) => Math.abs(v - r.fp32[j]![e]!) > 1e-6), `${tag}: bf16 differs from fp32`);
      });
      tf.dispose([x, w, dy]);
    }
  }
});

test('matMul with transposes and its gradients in bf16 = JS kernels on rounded operands', { skip }, async () => {
  await initBackend('native');
  const rng = createRng(320);
  const a = randn(rng, [37, 53]), b = randn(rng, [29, 53]), g = randn(rng, [37, 29]);
  const r = bf16VsJs([a, b, g], (p, q, up) => {
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, false, true);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x, y).mul(up!).sum())([p!, q!]);
    return [f(p!, q!), ga!, gb!];
  });
  ['forward', 'da', 'db'].forEach((what, j) => assertClose(r.native[j]!, r.ref[j]!, `matMul ${what}`, 1e-5));
  tf.dispose([a, b, g]);
});

test('setPrecision: bf16 needs the native engine (one-line UserError on the JS kernels); fp32 is always accepted', { skip }, async () => {
  await initBackend('cpu');
  try {
    assert.equal(setPrecision('fp32'), 'fp32');
    assert.throws(() => setPrecision('bf16'), (e: unknown) => e instanceof UserError && /bf16 needs the native engine.*cpu \(tfjs JS kernels\)/.test((e as Error).message));
  } finally {
    await initBackend('native');
  }
});

test('CONVMIXER_BF16_KERNEL=portable selects the portable kernels (same conv result); any other value is a one-line error', { skip }, () => {
  const x = tf.tensor4d(rnd(21, 2 * 8 * 8 * 16), [2, 8, 8, 16]), w = tf.tensor4d(rnd(22, 16 * 24), [1, 1, 16, 24]);
  const conv = () => {
    const y = tf.conv2d(x, w, 1, 'same');
    const v = (y.dataSync() as Float32Array).slice();
    y.dispose();
    return v;
  };
  const saved = process.env.CONVMIXER_BF16_KERNEL;
  try {
    setPrecision('bf16');
    const auto = conv();
    process.env.CONVMIXER_BF16_KERNEL = 'portable';
    assert.equal(setPrecision('bf16'), 'portable');
    assertClose(conv(), auto, 'portable vs the kernel chosen by the CPU', 1e-5);
    process.env.CONVMIXER_BF16_KERNEL = 'fast';
    assert.throws(() => setPrecision('bf16'), (e: unknown) => e instanceof UserError && e.message === "CONVMIXER_BF16_KERNEL: expected auto or portable, got 'fast'");
  } finally {
    if (saved === undefined) delete process.env.CONVMIXER_BF16_KERNEL;
    else process.env.CONVMIXER_BF16_KERNEL = saved;
    setPrecision('fp32');
    tf.dispose([x, w]);
  }
});

// A training run in bf16 against the same run in fp32: same seed, data, augmentation draws and model; only the GEMM
// arithmetic differs, so the loss curves must track each other closely, and the record must say bf16.
function synthetic(n: number, seed: number, name: string): ImageDataset {
  const rng = createRng(seed);
  const images = new Uint8Array(n * 16 * 16 * 3), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) for (let ch = 0; ch < 3; ch++) {
      images[((i * 16 + y) * 16 + x) * 3 + ch] = Math.min(255, ((c + ch) % 3) * 60 + (c < 5 ? x : y) * 6 + rng.int(40));
    }
  }
  return { name, images, labels, n, height: 16, width: 16, classes: Array.from({ length: 10 }, (_, i) => `c${i}`) };
}

test('training in bf16 tracks the fp32 run (loss per epoch within 5%), records precision bf16 and the kernel, and leaves fp32 in force after', { skip }, async () => {
  const data = { train: synthetic(96, 1, 'synthetic-train'), test: synthetic(40, 2, 'synthetic-test') };
  const root = mkdtempSync(join(tmpdir(), 'convmixer-bf16-'));
  try {
    const run = async (precision: 'fp32' | 'bf16') => {
      const recipe = buildRecipe('smoke', {
        model: resolveConfig({ dim: 32, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 10 }), modelName: null,
        epochs: 3, batchSize: 32, evalBatchSize: 40, trainSubset: 0, testSubset: 0, lrMax: 0.01, experiment: 'bf16-vs-fp32', precision,
      });
      const config: TrainConfig = { ...recipe, run: { runId: `bf16-${precision}`, resume: false, backend: 'native', explicit: ['precision'], checkpoint: false } };
      return trainRun(config, { data, resultsDir: join(root, 'results'), checkpointRoot: join(root, 'ckpt') });
    };
    const fp32 = await run('fp32');
    const bf = await run('bf16');
    assert.equal(bf.record.config['precision'], 'bf16');
    assert.match(bf.record.backend, /^native-cpu \(.*\), bf16 GEMM \((avx512_bf16|portable)\)$/);
    assert.doesNotMatch(fp32.record.backend, /bf16/);
    const a = fp32.epochs.map((e) => e.trainLoss), b = bf.epochs.map((e) => e.trainLoss);
    assert.ok(a[2]! < a[0]!, `the fp32 run learns (${a.join(', ')})`);
    a.forEach((l, i) => assert.ok(Math.abs(b[i]! - l) <= 0.05 * l, `epoch ${i + 1}: bf16 loss ${b[i]} vs fp32 ${l}`));
    assert.notDeepEqual(b, a, 'the bf16 run really ran in bf16');
    // trainRun sets fp32 again: a product now is fp32 bit for bit
    const x = tf.tensor2d([[1 + 2 ** -10, 1]]), w = tf.tensor2d([[1], [1]]);
    assert.equal(tf.matMul(x, w).dataSync()[0], 2 + 2 ** -10);
    tf.dispose([x, w]);
    tf.dispose([fp32.model, bf.model].flatMap((m) => Object.values(m.params)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
