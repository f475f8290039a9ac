// The segmentation models (lib/models/unet.ts, convmixerUnet.ts) and depth-to-space (ops.ts): parameter counts against
// independent formulas and PyTorch's counts, logits against PyTorch definitions of both models (test/fixtures/seg-tiny,
// written by scripts/seg_reference.py with torch 1.13), gradients, BatchNorm modes, seeded init, registry entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { loadAddon, withJsKernels } from '../lib/backend/native.ts';
import { UserError } from '../lib/errors.ts';
import { paramCount as convMixerEq4 } from '../lib/models/convmixer.ts';
import { CONVMIXER_UNET_MODELS, convMixerUnetMacs, type ConvMixerUnetConfig } from '../lib/models/convmixerUnet.ts';
import { depthToSpace } from '../lib/models/ops.ts';
import { buildModel, countParams, createModel, createSegmentationModel, modelInfo, type RegistryModel } from '../lib/models/registry.ts';
import { readSafetensors, type StoredTensor } from '../lib/models/safetensors.ts';
import { UNET_MODELS, unetMacs } from '../lib/models/unet.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from '../lib/data/classNames.ts';

const haveNative = loadAddon().addon !== null;
await initBackend(haveNative ? 'native' : 'cpu');

const FIXTURES = fileURLToPath(new URL('./fixtures/seg-tiny/', import.meta.url));
interface Expected {
  cases: Record<string, { model: string; overrides: Record<string, unknown>; input_shape: number[]; params: number }>;
  full_size_param_counts: Record<string, number>;
  full_size_conv_macs: Record<string, number>;
}
const expected = JSON.parse(readFileSync(`${FIXTURES}expected.json`, 'utf8')) as Expected;

/** max |a - b| over max(1, max |b|): float32 sums in another order differ at the 1e-6 level. */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  let worst = 0, scale = 1;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(worst / scale <= tol, `${what}: max abs diff ${worst} (scale ${scale})`);
}

test('depthToSpace: TF DCR order on a hand-computed case, and channels not divisible by r^2 are refused', () => {
  // x[0, h, w, ch] = 100 h + 10 w + ch on a 2x2 map with 8 channels, r = 2 -> 2 channels on 4x4: out[2h + i, 2w + j, c] = x[h, w, (2i + j) * 2 + c].
  const x = tf.tensor4d(Array.from({ length: 32 }, (_, n) => 100 * Math.floor(n / 16) + 10 * (Math.floor(n / 8) % 2) + (n % 8)), [1, 2, 2, 8]);
  const y = depthToSpace(x, 2);
  assert.deepEqual(y.shape, [1, 4, 4, 2]);
  assert.deepEqual(Array.from(y.dataSync()), [
    0, 1, 2, 3, 10, 11, 12, 13,
    4, 5, 6, 7, 14, 15, 16, 17,
    100, 101, 102, 103, 110, 111, 112, 113,
    104, 105, 106, 107, 114, 115, 116, 117,
  ]);
  assert.throws(() => depthToSpace(tf.zeros([1, 2, 2, 6]) as tf.Tensor4D, 2), /6 channels are not divisible by 2x2/);
  tf.dispose([x, y]);
});

test('depthToSpace: forward and gradient equal those of a pure reshape/transpose formulation (tf.grad through tfjs ops)', () => {
  const reference = (x: tf.Tensor4D, r: number): tf.Tensor4D => {
    const [n, h, w, c] = x.shape, co = c / (r * r);
    return tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, r, r, co]), [0, 1, 3, 2, 4, 5]), [n, h * r, w * r, co]);
  };
  for (const [shape, r] of [[[2, 3, 5, 36], 3], [[1, 4, 2, 32], 4], [[3, 2, 3, 4], 2]] as Array<[[number, number, number, number], number]>) {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    const weights = tf.randomNormal([n, h * r, w * r, c / (r * r)], 0, 1, 'float32', 4);
    assert.deepEqual(Array.from(depthToSpace(x, r).dataSync()), Array.from(reference(x, r).dataSync()), `forward r=${r}`);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(depthToSpace(t as tf.Tensor4D, r), weights)))(x);
    const gRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t as tf.Tensor4D, r), weights)))(x);
    assert.deepEqual(g.shape, x.shape);
    assert.deepEqual(Array.from(g.dataSync()), Array.from(gRef.dataSync()), `gradient r=${r}`);
    tf.dispose([x, weights, g, gRef]);
  }
});

/** milesial UNet(n_channels=3, n_classes=K, bilinear=False), module by module (weight shapes as PyTorch lists them). */
function milesialShapes(k: number, base = 64, inCh = 3): number[][] {
  const w = [1, 2, 4, 8, 16].map((m) => m * base);
  const doubleConv = (cin: number, cout: number): number[][] => [[cout, cin, 3, 3], [cout], [cout], [cout, cout, 3, 3], [cout], [cout]];
  const shapes = [...doubleConv(inCh, w[0]!)];
  for (let i = 1; i <= 4; i++) shapes.push(...doubleConv(w[i - 1]!, w[i]!));
  for (let i = 4; i >= 1; i--) shapes.push([w[i]!, w[i]! / 2, 2, 2], [w[i]! / 2], ...doubleConv(w[i]!, w[i - 1]!));
  shapes.push([k, w[0]!, 1, 1], [k]);
  return shapes;
}
const sumShapes = (shapes: number[][]): number => shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);

test('unet: parameter count = milesial UNet(bilinear=False) exactly (module formula, built variables, PyTorch counts)', () => {
  // torch 1.13 sum(p.numel()) of the PyTorch definition in scripts/seg_reference.py (the fixture's full_size_param_counts).
  const milesial: Record<number, number> = { 2: 31_037_698, 11: 31_038_283, 19: 31_038_803, 20: 31_038_868 };
  for (const [k, count] of Object.entries(milesial)) {
    assert.equal(sumShapes(milesialShapes(Number(k))), count, `module formula K=${k}`);
    assert.equal(modelInfo('unet', { numClasses: Number(k) }).paramCount, count, `unetParamCount K=${k}`);
    assert.equal(expected.full_size_param_counts[`unet K=${k}`], count, `PyTorch K=${k}`);
  }
  const model = buildModel('unet', {}, { init: 'zeros' });
  assert.equal(countParams(model), 31_038_868); // the registered seed setting: 20 classes
  assert.equal(Object.keys(model.buffers).length, 2 * 18); // 18 BatchNorms: 9 DoubleConvs
  model.dispose();
  assert.equal(modelInfo('unet', { baseWidth: 2, numClasses: 3 }).paramCount, sumShapes(milesialShapes(3, 2)));
  assert.equal(modelInfo('unet', { inChannels: 1, baseWidth: 8, numClasses: 5 }).paramCount, sumShapes(milesialShapes(5, 8, 1)));
});

test('convmixer_unet: parameter count = five ConvMixers by paper Eq. 4 (without heads) = the seed\'s 23.4M for 20 classes', () => {
  // Eq. 4 (convmixer.ts) counts a classifier ConvMixer; the stages have no head (d n + n).
  const stage = (cin: number, d: number, c: ConvMixerUnetConfig): number =>
    convMixerEq4({ dim: d, depth: c.depth, kernelSize: c.kernelSize, patchSize: c.patchSize, numClasses: 1, inChannels: cin,
      activation: 'gelu', norm: 'batchnorm', residualDepthwise: true, residualPointwise: false }) - (d + 1);
  const formula = (c: ConvMixerUnetConfig): number => {
    const [w1, w2, w3] = c.encoderWidths, p4 = c.patchSize ** 4;
    return stage(c.inChannels, w1, c) + stage(w1, w2, c) + stage(w2, w3, c) + stage(w3 / c.patchSize ** 2 + w2, c.decoderWidth, c)
      + stage(c.decoderWidth / p4 + w1, c.numClasses * p4, c);
  };
  for (const k of [11, 19, 20]) {
    const info = modelInfo('convmixer_unet', { numClasses: k });
    assert.equal(info.paramCount, formula(info.config as ConvMixerUnetConfig), `K=${k}`);
    assert.equal(info.paramCount, expected.full_size_param_counts[`convmixer_unet K=${k}`], `PyTorch K=${k}`);
  }
  // The seed: 23.4M, and its notebook's Lightning summary "93.633 MB" = 4 bytes per parameter.
  assert.equal(modelInfo('convmixer_unet').paramCount, 23_408_256);
  assert.equal((4 * 23_408_256 / 1e6).toFixed(3), '93.633');
  const model = buildModel('convmixer_unet', {}, { init: 'zeros' });
  assert.equal(countParams(model), 23_408_256);
  model.dispose();
  const small = { encoderWidths: [4, 8, 16], decoderWidth: 32, depth: 3, kernelSize: 5, numClasses: 3 };
  const built = buildModel('convmixer_unet', small, { init: 'zeros' });
  assert.equal(countParams(built), formula(modelInfo('convmixer_unet', small).config as ConvMixerUnetConfig));
  built.dispose();
});

test('forward multiply-adds of the convolutions equal PyTorch forward-hook counts (the fixture\'s full_size_conv_macs)', () => {
  for (const [h, w] of [[256, 512], [192, 256], [360, 480]]) {
    assert.equal(unetMacs(UNET_MODELS.unet!, h, w), expected.full_size_conv_macs[`unet K=20 ${h}x${w}`], `unet ${h}x${w}`);
    assert.equal(convMixerUnetMacs(CONVMIXER_UNET_MODELS.convmixer_unet!, h, w), expected.full_size_conv_macs[`convmixer_unet K=20 ${h}x${w}`], `convmixer_unet ${h}x${w}`);
  }
});

/** PyTorch layout -> tfjs: conv [O, I, kh, kw] -> [kh, kw, I, O]; depthwise [C, 1, k, k] -> [k, k, C, 1]; ConvTranspose2d [I, O, kh, kw] -> [kh, kw, O, I]. */
function toTfjs(key: string, t: StoredTensor): tf.Tensor {
  const x = tf.tensor(t.data, t.shape);
  if (t.shape.length !== 4) return x;
  const perm = /\.0\.fn\.0\.weight$/.test(key) ? [2, 3, 0, 1] : [2, 3, 1, 0]; // the transposed conv's permutation is the conv's
  const y = tf.transpose(x, perm);
  x.dispose();
  return y;
}

/** tfjs channel (i r + j) C + c (DCR) takes PyTorch channel c r^2 + i r + j (CRD, PixelShuffle / the seed's einops). */
function dcrFromCrd(channels: number, r: number): number[] {
  const c = channels / (r * r), order: number[] = [];
  for (let ij = 0; ij < r * r; ij++) for (let k = 0; k < c; k++) order.push(k * r * r + ij);
  return order;
}

/**
 * Loads a fixture state dict; for convmixer_unet the out channels of each stage feeding a depth-to-space are reordered
 * CRD -> DCR. Returns that reordering (fixture channel of each model channel, per key).
 */
function loadFixture(model: RegistryModel<unknown, tf.Tensor4D>, file: Record<string, StoredTensor>): Map<string, number[]> {
  const keys = Object.keys(file).filter((k) => !['input', 'eval_logits', 'train_logits'].includes(k) && !k.startsWith('after_train.'));
  assert.deepEqual(keys.sort(), [...Object.keys(model.params), ...Object.keys(model.buffers)].sort(), 'state-dict keys');
  const reorder = new Map<string, number[]>();
  if (model.family === 'convmixer_unet') {
    const c = model.config as ConvMixerUnetConfig, last = 3 + c.depth - 1, p = c.patchSize;
    for (const [stage, r] of [['convmix3', p], ['convmix4', p * p], ['convmix5', p * p]] as const) {
      for (const key of keys.filter((k) => k.startsWith(`${stage}.${last}.1.`) || k.startsWith(`${stage}.${last}.3.`))) {
        reorder.set(key, dcrFromCrd(file[key]!.shape[0]!, r));
      }
    }
  }
  for (const key of keys) {
    const v = model.params[key] ?? model.buffers[key]!;
    tf.tidy(() => {
      let t = toTfjs(key, file[key]!);
      const order = reorder.get(key);
      if (order) t = tf.gather(t, order, t.rank - 1); // out channels are the last axis in tfjs layouts
      assert.deepEqual(t.shape, v.shape, key);
      v.assign(t);
    });
  }
  return reorder;
}

const nhwc = (t: StoredTensor): tf.Tensor4D => tf.tidy(() => tf.transpose(tf.tensor4d(t.data, t.shape as [number, number, number, number]), [0, 2, 3, 1]));

for (const name of ['unet', 'convmixer_unet']) {
  test(`${name}: logits equal a PyTorch definition's (eval and training-mode BatchNorm, running-stat update), native and JS kernels`, () => {
    const c = expected.cases[name]!, file = readSafetensors(`${FIXTURES}${name}.safetensors`);
    const run = (): void => {
      const model = createSegmentationModel(c.model, c.overrides, { init: 'zeros' });
      assert.equal(countParams(model), c.params);
      const reorder = loadFixture(model, file);
      const x = nhwc(file['input']!);
      const evalOut = model.apply(x);
      assertClose(evalOut.dataSync(), nhwc(file['eval_logits']!).dataSync(), 2e-5, `${name} eval`);
      const trainOut = model.apply(x, { training: true });
      assertClose(trainOut.dataSync(), nhwc(file['train_logits']!).dataSync(), 2e-5, `${name} train`);
      for (const [key, v] of Object.entries(model.buffers)) {
        const want = file[`after_train.${key}`]!.data, order = reorder.get(key);
        assertClose(v.dataSync(), order ? order.map((i) => want[i]!) : want, 2e-5, `${name} ${key} after training pass`);
      }
      tf.dispose([x, evalOut, trainOut]);
      model.dispose();
    };
    run();
    if (haveNative) withJsKernels(run); // the plain tfjs path (no fused ops) too
  });
}

/** Tiny instances for shapes, gradients and BatchNorm modes. */
const TINY: Array<{ name: string; overrides: Record<string, unknown> }> = [
  { name: 'unet', overrides: { baseWidth: 4, numClasses: 3 } },
  { name: 'convmixer_unet', overrides: { encoderWidths: [8, 16, 32], decoderWidth: 32, depth: 1, kernelSize: 3, numClasses: 3 } },
];

test('forward shapes: NHWC logits at the input resolution; sizes the models cannot take are one-line UserErrors', () => {
  const x = tf.randomNormal([2, 32, 48, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  for (const t of TINY) {
    const model = createSegmentationModel(t.name, t.overrides, { seed: 1 });
    const y = model.apply(x);
    assert.deepEqual(y.shape, [2, 32, 48, 3], t.name);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite), t.name);
    y.dispose();
    model.dispose();
  }
  const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  const cmu = createSegmentationModel('convmixer_unet', TINY[1]!.overrides, { init: 'zeros' });
  const odd = tf.zeros([1, 36, 48, 3]) as tf.Tensor4D;
  assert.throws(() => cmu.apply(odd), oneLine(/^convmixer_unet: input 36x48 is not divisible by 8/));
  const unet = createSegmentationModel('unet', TINY[0]!.overrides, { init: 'zeros' });
  const y = unet.apply(odd); // milesial pads the up path: 36 -> 18 -> 9 -> 4 -> 2 and back
  assert.deepEqual(y.shape, [1, 36, 48, 3]);
  const small = tf.zeros([1, 8, 48, 3]) as tf.Tensor4D;
  assert.throws(() => unet.apply(small), oneLine(/^unet: input 8x48 is smaller than 16x16/));
  tf.dispose([x, odd, y, small]);
  cmu.dispose();
  unet.dispose();
});

test('gradients: a weighted sum of the logits gives every trainable variable a finite, non-zero gradient', () => {
  const x = tf.randomNormal([2, 16, 24, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  // Weights, not a plain sum: the sum of a training-mode BatchNorm's output (convmixer_unet's logits) does not depend on its input.
  const weights = tf.randomNormal([2, 16, 24, 3], 0, 1, 'float32', 3);
  for (const t of TINY) {
    const model = createSegmentationModel(t.name, t.overrides, { seed: 2 });
    const vars = Object.values(model.params);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), weights)) as tf.Scalar, vars);
    assert.equal(Object.keys(grads).length, vars.length, t.name);
    for (const [key, g] of Object.entries(grads)) {
      const a = g.dataSync();
      assert.ok(a.every(Number.isFinite), `${t.name} ${key}: finite`);
      assert.ok(a.some((v) => v !== 0), `${t.name} ${key}: non-zero`);
    }
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  }
  tf.dispose([x, weights]);
});

test('BatchNorm: running statistics move in training mode only', () => {
  const x = tf.randomNormal([2, 16, 16, 3], 0.5, 2, 'float32', 4) as tf.Tensor4D;
  for (const t of TINY) {
    const model = createSegmentationModel(t.name, t.overrides, { seed: 3 });
    const snapshot = (): number[][] => Object.values(model.buffers).map((v) => Array.from(v.dataSync()));
    const before = snapshot();
    tf.dispose(model.apply(x));
    assert.deepEqual(snapshot(), before, `${t.name}: eval`);
    tf.dispose(model.apply(x, { training: true }));
    const after = snapshot();
    assert.ok(after.every((v, i) => v.some((a, j) => a !== before[i]![j])), `${t.name}: every running statistic updated`);
    model.dispose();
  }
  x.dispose();
});

test('init: seeded and deterministic, PyTorch default bounds (U(+-1/sqrt(fan_in)), ConvTranspose2d fan_in = out*k*k), BN 1/0', () => {
  for (const t of TINY) {
    const a = createSegmentationModel(t.name, t.overrides, { seed: 5 }), b = createSegmentationModel(t.name, t.overrides, { seed: 5 });
    const c = createSegmentationModel(t.name, t.overrides, { seed: 6 });
    for (const k of Object.keys(a.params)) assert.deepEqual(a.params[k]!.dataSync(), b.params[k]!.dataSync(), `${t.name} ${k}`);
    const first = Object.keys(a.params)[0]!;
    assert.notDeepEqual(a.params[first]!.dataSync(), c.params[first]!.dataSync());
    for (const m of [a, b, c]) m.dispose();
  }
  const u = createSegmentationModel('unet', { baseWidth: 4, numClasses: 3 }, { seed: 7 });
  const bound = (key: string, fanIn: number): void => {
    const v = u.params[key]!.dataSync(), max = 1 / Math.sqrt(fanIn);
    assert.ok(v.every((a) => Math.abs(a) <= max) && Math.max(...Array.from(v, Math.abs)) > 0.8 * max, key);
  };
  bound('inc.double_conv.0.weight', 3 * 9);
  bound('up1.up.weight', 32 * 4); // [2, 2, 32, 64]: PyTorch's fan_in of a ConvTranspose2d weight [64, 32, 2, 2] is 32 * 2 * 2
  bound('outc.conv.weight', 4);
  assert.deepEqual(Array.from(u.params['up2.conv.double_conv.4.weight']!.dataSync()), new Array(16).fill(1)); // up2: 32 -> 16 channels
  assert.deepEqual(Array.from(u.params['up2.conv.double_conv.4.bias']!.dataSync()), new Array(16).fill(0));
  assert.deepEqual(Array.from(u.buffers['down4.maxpool_conv.1.double_conv.1.running_var']!.dataSync()), new Array(64).fill(1));
  u.dispose();
});

test('registry: segmentation entries, their default cfg, and the task split between createModel and createSegmentationModel', () => {
  for (const [name, classes, size, layout] of [['unet', 20, [256, 512], 'milesial-unet'], ['unet_camvid', 11, [360, 480], 'milesial-unet'],
    ['convmixer_unet', 20, [256, 512], 'convmixer-unet'], ['convmixer_unet_camvid', 11, [360, 480], 'convmixer-unet']] as const) {
    const info = modelInfo(name);
    assert.equal(info.task, 'segmentation', name);
    assert.equal(info.inTimm, false, name);
    const c = info.defaultCfg;
    assert.deepEqual([c.inputSize, c.numClasses, c.cropPct, c.interpolation, c.weightLayout], [[3, ...size], classes, 1, 'bilinear', layout], name);
    assert.deepEqual([[...c.mean], [...c.std]], [[...IMAGENET_MEAN], [...IMAGENET_STD]], name);
  }
  assert.equal(modelInfo('resnet50').task, 'classification');
  const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  assert.throws(() => createModel('unet'), oneLine(/^model 'unet' is a segmentation model; a classification model is needed here$/));
  assert.throws(() => createSegmentationModel('resnet50'), oneLine(/^model 'resnet50' is a classification model; a segmentation model is needed here$/));
  assert.throws(() => modelInfo('unet', { depth: 3 }), oneLine(/^unet config: unknown key\(s\) depth$/));
  assert.throws(() => modelInfo('convmixer_unet', { decoderWidth: 40 }), oneLine(/^convmixer_unet config: decoderWidth: decoderWidth must be divisible by patchSize\^4$/));
  assert.throws(() => modelInfo('convmixer_unet', { patchSize: 1 }), oneLine(/^convmixer_unet config: patchSize:/));
  const m = createSegmentationModel('convmixer_unet', { numClasses: 11, encoderWidths: [4, 8, 16], decoderWidth: 16, depth: 0 }, { init: 'zeros' });
  assert.deepEqual([m.name, m.family, m.task], ['convmixer_unet', 'convmixer_unet', 'segmentation']);
  assert.deepEqual(m.params['convmix5.0.weight']!.shape, [2, 2, 1 + 4, 11 * 16]); // 16 / 2^4 upsampled channels + the 4-channel skip
  m.dispose();
});
