// The ConvMixer model: ops against PyTorch values, training-mode BatchNorm and gradients against PyTorch, options, no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { createModel, type ConvMixerModel } from '../lib/models/convmixer.ts';
import { gelu } from '../lib/models/ops.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { loadWeights } from '../lib/models/weights.ts';
import { fileURLToPath } from 'node:url';

await tf.setBackend('cpu');

const REF = fileURLToPath(new URL('../../shared/reference/', import.meta.url));
const haveRef = existsSync(`${REF}convmixer_64_4_k5_p2.weights.safetensors`);
const skipRef = haveRef ? false : `PyTorch reference not found at ${REF}; skipping`;

function close(got: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${expected[i]}`);
}

test('ops: GELU is the exact erf form (torch F.gelu values), not the tanh approximation', () => {
  const x = [-4, -3, -2, -1.5, -0.5, 0, 0.3, 1, 2.5, 4];
  // torch 1.13: F.gelu(x) and F.gelu(x, approximate='tanh')
  const exact = [-0.0001267, -0.0040499, -0.0455001, -0.1002109, -0.1542688, 0, 0.1853734, 0.8413447, 2.4844759, 3.9998732];
  const tanh = [-7.02e-5, -0.0036374, -0.0454023, -0.1004284, -0.154286, 0, 0.1853709, 0.841192, 2.4849157, 3.9999299];
  const y = tf.tidy(() => gelu(tf.tensor1d(x)).dataSync());
  close(y, exact, 2e-6, 'gelu');
  assert.ok(Math.abs(y[8]! - tanh[8]!) > 4e-4); // at x = 2.5 the two forms differ by 4.4e-4
});

test("ops: depthwise 'same' with an even kernel pads like PyTorch padding='same' (k=8: 3 before, 4 after, as Table 4 uses)", () => {
  // torch 1.13: F.conv2d(x, w, padding='same') with x = (arange(81) % 7) - 3 as 1x1x9x9, w = (arange(64) % 5) - 2 as 1x1x8x8.
  // (Padding 4 before / 3 after would differ by up to 53 here, so this pins the side that gets the extra row/column.)
  const x = Array.from({ length: 81 }, (_, i) => (i % 7) - 3);
  const w = Array.from({ length: 64 }, (_, i) => (i % 5) - 2);
  const torch = [0, 0, -4, -21, 14, 14, -10, -14, -4, -21, -17, 22, 16, -12, -18, 20, 21, -13, 21, 26, -20, -3, 12, 10, -24, -19, 28,
    -19, -2, 8, 2, -28, 18, 32, -9, -26, 16, -25, -27, 26, 31, -19, -35, 5, 30, -19, 35, 20, -22, -10, 15, 26, -16, -18, 2, -16, -1,
    10, -7, -27, 6, 24, 4, 14, 3, -18, -15, 27, 31, -18, -28, -4, -17, -9, 30, 9, -22, -15, 8, 19, -9];
  const y = tf.tidy(() => tf.depthwiseConv2d(tf.tensor4d(x, [1, 9, 9, 1]), tf.tensor4d(w, [8, 8, 1, 1]), 1, 'same').dataSync());
  assert.deepEqual(Array.from(y), torch);
});

test('model: same seed gives identical weights and outputs; init is PyTorch default U(-1/sqrt(fan_in), +)', () => {
  const cfg = { dim: 16, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 4 };
  const a = createModel(cfg, {}, { seed: 5 }), b = createModel(cfg, {}, { seed: 5 }), c = createModel(cfg, {}, { seed: 6 });
  for (const k of Object.keys(a.params)) assert.deepEqual(a.params[k]!.dataSync(), b.params[k]!.dataSync(), k);
  assert.notDeepEqual(a.params['stem.0.weight']!.dataSync(), c.params['stem.0.weight']!.dataSync());
  const stem = a.params['stem.0.weight']!.dataSync(), bound = 1 / Math.sqrt(3 * 2 * 2);
  assert.ok(stem.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...stem) > 0.8 * bound && Math.min(...stem) < -0.8 * bound);
  const dw = a.params['blocks.0.0.fn.0.weight']!.dataSync();
  assert.ok(dw.every((v) => Math.abs(v) <= 1 / 3) && Math.max(...dw.map(Math.abs)) > 0.25);
  assert.deepEqual(Array.from(a.params['blocks.1.3.weight']!.dataSync()), new Array(16).fill(1));
  assert.deepEqual(Array.from(a.buffers['blocks.1.3.running_var']!.dataSync()), new Array(16).fill(1));
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  assert.deepEqual(a.apply(x).dataSync(), b.apply(x).dataSync());
  for (const m of [a, b, c]) m.dispose();
  x.dispose();
});

test('model: variable input size; output is [batch, classes]; stem floors like PyTorch', () => {
  const m = createModel({ dim: 8, depth: 1, kernelSize: 5, patchSize: 2, numClasses: 3 });
  for (const [h, w] of [[32, 32], [40, 24]] as const) {
    const y = tf.tidy(() => m.apply(tf.ones([2, h, w, 3]) as tf.Tensor4D));
    assert.deepEqual(y.shape, [2, 3]);
    y.dispose();
  }
  // PyTorch's strided conv drops the last row/column that does not fill a patch: 33x17 acts as its 32x16 crop.
  const [odd, crop] = tf.tidy(() => {
    const x = tf.randomNormal([1, 33, 17, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    return [m.apply(x).dataSync(), m.apply(tf.slice(x, [0, 0, 0, 0], [1, 32, 16, 3])).dataSync()];
  });
  assert.deepEqual(odd, crop);
  m.dispose();
});

test('model: eval mode is a pure function (no running-stat change, no leaked tensors)', () => {
  const m = createModel({ dim: 8, depth: 2, kernelSize: 3, patchSize: 1, numClasses: 3 });
  const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const y1 = m.apply(x), y2 = m.apply(x);
  assert.equal(tf.memory().numTensors, before + 2);
  assert.deepEqual(y1.dataSync(), y2.dataSync());
  assert.deepEqual(Array.from(m.buffers['stem.2.running_mean']!.dataSync()), new Array(8).fill(0));
  tf.dispose([x, y1, y2]);
  m.dispose();
});

test('model: options change the computation (activation, norm, both residuals)', () => {
  const base = { dim: 8, depth: 2, kernelSize: 3, patchSize: 1, numClasses: 3 };
  const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const out = (o: object): Float32Array => {
    const m = createModel({ ...base, ...o }, {}, { seed: 9 });
    // Non-trivial BN statistics so every path shows up in the output.
    for (const [k, v] of Object.entries(m.buffers)) tf.tidy(() => v.assign(k.endsWith('mean') ? tf.fill(v.shape, 0.3) : tf.fill(v.shape, 2)));
    const y = m.apply(x), data = y.dataSync() as Float32Array;
    y.dispose();
    m.dispose();
    return data;
  };
  const ref = out({});
  for (const o of [{ activation: 'relu' }, { norm: 'layernorm' }, { residualDepthwise: false }, { residualPointwise: true }]) {
    const y = out(o);
    assert.ok(y.some((v, i) => Math.abs(v - ref[i]!) > 1e-4), JSON.stringify(o));
  }
  x.dispose();
});

test('model: LayerNorm variant normalizes each pixel over channels (eps 1e-5) with affine', () => {
  // depth 0: logits = head(mean_hw(LN(act(stem(x))))); check against a hand computation with identity head.
  const m = createModel({ dim: 4, depth: 0, kernelSize: 3, patchSize: 1, numClasses: 4, norm: 'layernorm', activation: 'relu' });
  tf.tidy(() => {
    m.params['stem.0.weight']!.assign(tf.tensor4d([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], [1, 1, 3, 4]));
    m.params['stem.0.bias']!.assign(tf.tensor1d([0, 0, 0, 2]));
    m.params['stem.2.weight']!.assign(tf.tensor1d([1, 2, 1, 1]));
    m.params['stem.2.bias']!.assign(tf.tensor1d([0, 0, 0.5, 0]));
    m.params['head.weight']!.assign(tf.eye(4));
    m.params['head.bias']!.assign(tf.zeros([4]));
  });
  const px = [1, 2, 3];
  const h = [...px, 2]; // relu(stem) of a single pixel: channels [1, 2, 3, 2]
  const mean = h.reduce((a, b) => a + b) / 4, v = h.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
  const expected = h.map((c, i) => ((c - mean) / Math.sqrt(v + 1e-5)) * [1, 2, 1, 1][i]! + [0, 0, 0.5, 0][i]!);
  const y = tf.tidy(() => m.apply(tf.tensor4d([...px, ...px], [1, 1, 2, 3])).dataSync());
  close(y, expected, 1e-5, 'layernorm');
  m.dispose();
});

// Reference values from PyTorch 1.13: the paper's Appendix D ConvMixer(64, 4, kernel_size=5, patch_size=2, n_classes=10)
// with shared/reference weights, model.train(), one forward of input_nchw, loss = sum(logits * c) with
// c = arange(40).reshape(4, 10) / 40 - 0.5, loss.backward().
const TORCH_TRAIN = {
  logitsRow0: [0.1445033997297287, -0.020545098930597305, 0.12226758897304535, 0.1605801284313202, -0.1894928216934204, 0.17478178441524506, -0.1152563989162445, -0.11534371972084045, 0.07827712595462799, 0.06704522669315338],
  stemRunningMean: [0.21569906175136566, -0.09185183048248291, 0.2575918436050415, 0.06746716052293777],
  stemRunningVar: [1.1072571277618408, 1.6249369382858276, 0.5641643404960632, 0.9684496521949768],
  block3RunningVar: [0.7216545939445496, 1.2539175748825073, 0.5891534090042114, 1.5074912309646606],
  gradNorms: { 'stem.0.weight': 1.1856207847595215, 'blocks.2.0.fn.0.weight': 0.7298917770385742, 'blocks.1.0.fn.2.bias': 0.04596180096268654, 'head.bias': 0.9219544529914856 },
};

function loadReference(): { model: ConvMixerModel; x: tf.Tensor4D } {
  const io = readSafetensors(`${REF}convmixer_64_4_k5_p2.io.safetensors`);
  const model = createModel('convmixer_64_4_k5_p2');
  loadWeights(model, `${REF}convmixer_64_4_k5_p2.weights.safetensors`);
  return { model, x: tf.tensor4d(io['input_nhwc']!.data, [4, 32, 32, 3]) };
}

test('model: training mode matches PyTorch (batch statistics, running mean/unbiased var with momentum 0.1, gradients)', { skip: skipRef }, () => {
  const { model, x } = loadReference();
  const c = tf.sub(tf.div(tf.range(0, 40).reshape([4, 10]), 40), 0.5);
  const before = tf.memory().numTensors;
  let logits: Float32Array = new Float32Array();
  const { value, grads } = tf.variableGrads(() => {
    const y = model.apply(x, { training: true });
    logits = y.dataSync() as Float32Array;
    return tf.sum(tf.mul(y, c)) as tf.Scalar;
  });
  close(logits.subarray(0, 10), TORCH_TRAIN.logitsRow0, 2e-5, 'train logits');
  close(model.buffers['stem.2.running_mean']!.dataSync().subarray(0, 4), TORCH_TRAIN.stemRunningMean, 2e-5, 'running_mean');
  close(model.buffers['stem.2.running_var']!.dataSync().subarray(0, 4), TORCH_TRAIN.stemRunningVar, 2e-5, 'running_var');
  close(model.buffers['blocks.3.3.running_var']!.dataSync().subarray(0, 4), TORCH_TRAIN.block3RunningVar, 2e-5, 'block 3 running_var');
  for (const [key, norm] of Object.entries(TORCH_TRAIN.gradNorms)) {
    const g = grads[model.params[key]!.name]!;
    const got = tf.tidy(() => tf.norm(g).dataSync()[0]!);
    assert.ok(Math.abs(got - norm) <= 1e-4 * Math.max(1, norm), `|grad ${key}| = ${got}, torch ${norm}`);
  }
  assert.equal(Object.keys(grads).length, Object.keys(model.params).length); // every trainable param gets a gradient
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before, 'training step leaked tensors');
  tf.dispose([x, c]);
  model.dispose();
});

test('model: apply works under tf.grads and tf.tidy without leaks', () => {
  const m = createModel({ dim: 8, depth: 2, kernelSize: 4, patchSize: 2, numClasses: 3 });
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const [gx] = tf.grads((inp: tf.Tensor) => tf.sum(m.apply(inp as tf.Tensor4D, { training: true })))([x]);
    assert.deepEqual(gx!.shape, [2, 8, 8, 3]);
    assert.ok(gx!.dataSync().every(Number.isFinite));
  });
  assert.equal(tf.memory().numTensors, before);
  assert.notDeepEqual(Array.from(m.buffers['stem.2.running_mean']!.dataSync()), new Array(8).fill(0));
  x.dispose();
  m.dispose();
});
