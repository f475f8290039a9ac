// YOLO-ConvMixer (lib/models/yoloConvMixer.ts) and the YOLOv1 loss, targets, decoding and NMS (lib/train/yoloLoss.ts):
// parameter counts against formulas and the classification ConvMixer, the head against a plain-JS composition, adaptive
// pooling against PyTorch's window rule, gradients, the native path, loss values and gradients computed by hand,
// backbone loading from a timm-layout safetensors file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { loadAddon, nativeKernelNames, withJsKernels } from '../lib/backend/native.ts';
import { UserError } from '../lib/errors.ts';
import { createModel as createConvMixer, type ConvMixerConfig } from '../lib/models/convmixer.ts';
import { countParams, createDetectionModel, createModel, modelInfo } from '../lib/models/registry.ts';
import { writeSafetensors, type StoredTensor } from '../lib/models/safetensors.ts';
import { stateDict as convMixerStateDict } from '../lib/models/weights.ts';
import {
  adaptiveAvgPoolFlat, adaptivePoolMatrix, loadBackboneWeights, loadYoloWeights, yoloBackboneParamCount, yoloConvMixerParamCount, yoloStateDict,
  type YoloConvMixerModel,
} from '../lib/models/yoloConvMixer.ts';
import { boxIoU, decodeYolo, detectYolo, nms, SEED_LOSS_OPTIONS, yoloTargetArray, yoloTargets, yoloV1Loss, yoloV1LossTerms, type YoloDetection } from '../lib/train/yoloLoss.ts';

const haveNative = loadAddon().addon !== null;
await initBackend(haveNative ? 'native' : 'cpu');

/** A tiny model of the quick config's family: ConvMixer-8/1 k3 p7, pool 9, hidden 12, S 7, B 2, C 20, on 28-56 px inputs. */
const TINY = { dim: 8, depth: 1, kernelSize: 3, patchSize: 7, hiddenWidth: 12, inputSize: 56 };
const tiny = (seed: number, extra: Record<string, unknown> = {}): YoloConvMixerModel => createDetectionModel('yolo_convmixer_256_8', { ...TINY, ...extra }, { seed });

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('param count: formula = built variables = backbone (classification ConvMixer less its head) + two linear layers; paper profile by hand', () => {
  const m = tiny(0);
  const c = m.config;
  assert.equal(countParams(m), yoloConvMixerParamCount(c));
  // Backbone: the classification ConvMixer of the same dims, without head.weight [dim, n] and head.bias [n].
  const cls = createConvMixer({ dim: 8, depth: 1, kernelSize: 3, patchSize: 7, numClasses: 5, activation: 'relu' });
  assert.equal(yoloBackboneParamCount(c), countParams(cls) - (8 * 5 + 5));
  cls.dispose();
  // Head: fc1 (8 * 9 * 9 -> 12) and fc2 (12 -> 7 * 7 * 30), each with bias.
  assert.equal(countParams(m) - yoloBackboneParamCount(c), 8 * 81 * 12 + 12 + 12 * 1470 + 1470);
  m.dispose();
  // yolo_convmixer_768_32: backbone 768 (32 (49 + 768 + 6) + 3 * 49 + 3) = 20,341,248 (timm convmixer_768_32's 21,110,248
  // less its 768 * 1000 + 1000 classifier); fc1 768 * 81 * 496 + 496 = 30,855,664; fc2 496 * 1470 + 1470 = 730,590.
  const paper = modelInfo('yolo_convmixer_768_32');
  assert.equal(paper.paramCount, 20_341_248 + 30_855_664 + 730_590);
  assert.equal(yoloBackboneParamCount(paper.config as YoloConvMixerModel['config']), 21_110_248 - 769_000);
  assert.deepEqual([paper.task, paper.family, paper.inTimm, paper.defaultCfg.inputSize, paper.defaultCfg.numClasses, paper.defaultCfg.weightLayout],
    ['detection', 'yolo_convmixer', false, [3, 448, 448], 20, 'yolo-convmixer']);
  assert.equal(modelInfo('yolo_convmixer_256_8').defaultCfg.inputSize[1], 224);
});

test('registry: detection models only through createDetectionModel; bad configs and too-small inputs are one-line UserErrors', () => {
  assert.throws(() => createModel('yolo_convmixer_256_8'), (e: unknown) => e instanceof UserError && /is a detection model/.test(e.message));
  assert.throws(() => createDetectionModel('convmixer_256_8'), (e: unknown) => e instanceof UserError && /is a classification model/.test(e.message));
  assert.throws(() => modelInfo('yolo_convmixer_256_8', { numHeads: 2 }), (e: unknown) => e instanceof UserError && e.message === 'yolo_convmixer config: unknown key(s) numHeads');
  assert.throws(() => modelInfo('yolo_convmixer_256_8', { inputSize: 5 }), /yolo_convmixer config: inputSize: inputSize must be at least patchSize/);
  const m = tiny(0);
  assert.throws(() => m.apply(tf.zeros([1, 6, 6, 3]) as tf.Tensor4D), (e: unknown) => e instanceof UserError && /input 6x6 is smaller than one 7x7 patch/.test(e.message));
  m.dispose();
});

test('adaptive pooling: PyTorch AdaptiveAvgPool2d windows (floor/ceil, overlapping) and nn.Flatten (c, oh, ow) order; = avgPool when divisible', () => {
  // Windows of 5 -> 3 (PyTorch: [0,2), [1,4), [3,5)) and 8 -> 3 ([0,3), [2,6), [5,8)), checked on a random input by a plain loop.
  const [n, h, w, c, out] = [2, 5, 8, 3, 3];
  const x = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 5) as tf.Tensor4D;
  const rows = [[0, 2], [1, 4], [3, 5]], cols = [[0, 3], [2, 6], [5, 8]];
  const v = x.arraySync();
  const want: number[] = [];
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (const [r0, r1] of rows) for (const [c0, c1] of cols) {
    let s = 0;
    for (let i = r0!; i < r1!; i++) for (let j = c0!; j < c1!; j++) s += v[b]![i]![j]![ch]!;
    want.push(s / ((r1! - r0!) * (c1! - c0!)));
  }
  const m = tf.tensor2d(adaptivePoolMatrix(h, w, out), [h * w, out * out]);
  const got = adaptiveAvgPoolFlat(x, m);
  assert.deepEqual(got.shape, [n, c * out * out]);
  assertClose(got.dataSync(), want, 1e-6, 'pooled');
  // 18 x 18 -> 9 x 9 is a 2 x 2 average pool (compared after the same channel-first flatten).
  const y = tf.randomNormal([1, 18, 18, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
  const m9 = tf.tensor2d(adaptivePoolMatrix(18, 18, 9), [324, 81]);
  const viaPool = tf.reshape(tf.transpose(tf.avgPool(y, 2, 2, 'valid'), [0, 3, 1, 2]), [1, 324]);
  assertClose(adaptiveAvgPoolFlat(y, m9).dataSync(), viaPool.dataSync(), 1e-6, 'divisible');
  tf.dispose([x, m, got, y, m9, viaPool]);
});

test('forward: [N, S, S, C + 5B]; the head is pool -> fc1 -> LeakyReLU(0.1) -> fc2 reshaped row-major (checked in plain JS)', () => {
  const m = tiny(1);
  const x = tf.randomNormal([2, 56, 56, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = m.apply(x);
  assert.deepEqual(y.shape, [2, 7, 7, 30]);
  // The same from the backbone features by hand: 8 x 8 map pooled to 9 x 9 (windows [floor(8i/9), ceil(8(i+1)/9))).
  const f = m.features(x);
  assert.deepEqual(f.shape, [2, 8, 8, 8]);
  const fv = f.arraySync(), w1 = m.params['yolo_head.fc1.weight']!.arraySync() as number[][], b1 = m.params['yolo_head.fc1.bias']!.dataSync();
  const w2 = m.params['yolo_head.fc2.weight']!.arraySync() as number[][], b2 = m.params['yolo_head.fc2.bias']!.dataSync();
  const want: number[] = [];
  let negatives = 0;
  for (let b = 0; b < 2; b++) {
    const pooled: number[] = [];
    for (let ch = 0; ch < 8; ch++) for (let oh = 0; oh < 9; oh++) for (let ow = 0; ow < 9; ow++) {
      const r0 = Math.floor((8 * oh) / 9), r1 = Math.ceil((8 * (oh + 1)) / 9), c0 = Math.floor((8 * ow) / 9), c1 = Math.ceil((8 * (ow + 1)) / 9);
      let s = 0;
      for (let i = r0; i < r1; i++) for (let j = c0; j < c1; j++) s += fv[b]![i]![j]![ch]!;
      pooled.push(s / ((r1 - r0) * (c1 - c0)));
    }
    const hidden = Array.from(b1, (bias, k) => {
      const z = pooled.reduce((s, p, i) => s + p * w1[i]![k]!, bias);
      if (z < 0) negatives++;
      return z > 0 ? z : 0.1 * z;
    });
    for (let o = 0; o < 1470; o++) want.push(hidden.reduce((s, hv, k) => s + hv * w2[k]![o]!, b2[o]!));
  }
  assert.ok(negatives > 0, 'some hidden units are negative, so the slope is exercised');
  assertClose(y.dataSync(), want, 1e-5, 'apply vs JS head');
  // Another head shape: S 3, B 1, C 4 -> 9 channels; a 28 px input (4 x 4 map, pooled up to 9 x 9).
  const small = tiny(1, { gridSize: 3, boxesPerCell: 1, numClasses: 4, inputSize: 28 });
  const ys = small.apply(tf.zeros([1, 28, 28, 3]) as tf.Tensor4D);
  assert.deepEqual(ys.shape, [1, 3, 3, 9]);
  tf.dispose([x, y, f, ys]);
  m.dispose();
  small.dispose();
});

test('gradients: the YOLO loss of a tiny model gives every trainable variable a finite, non-zero gradient; eval leaks nothing', () => {
  const m = tiny(3);
  const x = tf.randomNormal([2, 56, 56, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const target = yoloTargets([[{ cls: 3, box: [4, 6, 30, 40] }, { cls: 11, box: [30, 30, 55, 52] }], [{ cls: 0, box: [0, 0, 56, 56] }]], 56, 7, 20);
  const vars = Object.values(m.params);
  const { value, grads } = tf.variableGrads(() => yoloV1Loss(m.apply(x, { training: true }), target, { S: 7, B: 2, C: 20 }), vars);
  assert.ok(Number.isFinite(value.dataSync()[0]!));
  assert.equal(Object.keys(grads).length, vars.length);
  for (const [key, v] of Object.entries(m.params)) {
    const g = grads[v.name]!.dataSync();
    assert.ok(g.every(Number.isFinite), `${key}: finite`);
    assert.ok(g.some((e) => e !== 0), `${key}: non-zero`);
  }
  tf.dispose([value, ...Object.values(grads)]);
  const before = tf.memory().numTensors;
  tf.dispose(m.apply(x));
  assert.equal(tf.memory().numTensors, before, 'eval apply leaks no tensor (pooling matrix cached once)');
  tf.dispose([x, target]);
  m.dispose();
});

test('native engine: every kernel of a training step is native (LeakyReLU too: its kernel and the step of its gradient); output = JS kernels\'', { skip: haveNative ? false : 'native addon not built' }, async () => {
  const m = tiny(5);
  const x = tf.randomNormal([2, 56, 56, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
  const vars = Object.values(m.params);
  const native = new Set(nativeKernelNames());
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(m.apply(x, { training: true })) as tf.Scalar, vars);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const names = new Set(profile.kernels.map((k) => k.name));
  const free = new Set(['Identity', 'Reshape', 'unnamed scope']); // views / the fused ConvMixer ops (native custom ops)
  assert.deepEqual([...names].filter((n) => !native.has(n) && !free.has(n)).sort(), []);
  for (const k of ['LeakyRelu', 'Step']) assert.ok(names.has(k), `${k} ran`);
  for (const k of ['Greater', 'Select']) assert.ok(!names.has(k), `${k} (tfjs's LeakyRelu gradient) did not run`);
  for (const k of ['BatchMatMul', 'Transpose', 'Conv2D', 'Conv2DBackpropFilter']) assert.ok(names.has(k) && native.has(k), `${k} native`);
  const y = m.apply(x);
  const yJs = withJsKernels(() => m.apply(x));
  assertClose(y.dataSync(), yJs.dataSync(), 1e-4, 'native vs JS');
  tf.dispose([x, y, yJs]);
  m.dispose();
});

/** [N, S, S, D] from per-cell channel lists (missing cells zero). */
function grid(n: number, S: number, D: number, cells: Array<[number, number, number, number[]]>): tf.Tensor4D {
  const data = new Float32Array(n * S * S * D);
  for (const [img, i, j, v] of cells) data.set(v, ((img * S + i) * S + j) * D);
  return tf.tensor4d(data, [n, S, S, D]);
}

const scalars = (t: Record<string, tf.Scalar>): Record<string, number> => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.dataSync()[0]!]));

test('loss, 1x1 grid, B 2, C 2: responsibility by IoU (not confidence), every term by hand, the seed\'s options', () => {
  // Ground truth: class 1, box (0.5, 0.5, 0.25, 0.25). Box 1 (x, y, w, h) = (0.4, 0.5, 0.36, 0.25) overlaps it with IoU
  // 0.05125 / 0.10125 = 0.506; box 2 = (0.9, 0.9, 1, 1) with 0.050625 / 1.011875 = 0.050: box 1 is responsible although
  // box 2 has the higher confidence.
  const target = grid(1, 1, 7, [[0, 0, 0, [0, 1, 1, 0.5, 0.5, 0.25, 0.25]]]);
  const pred = grid(1, 1, 12, [[0, 0, 0, [0.2, 0.7, 0.3, 0.4, 0.5, 0.36, 0.25, 0.6, 0.9, 0.9, 1, 1]]]);
  const opts = { S: 1, B: 2, C: 2 };
  const terms = scalars({ ...yoloV1LossTerms(pred, target, opts) });
  // coord (0.4 - 0.5)^2 + 0 + (sqrt(0.36) - sqrt(0.25))^2 + 0; object (0.3 - 1)^2; no-object: box 2's 0.6^2; class 0.2^2 + 0.3^2.
  assertClose([terms.coord!, terms.object!, terms.noObject!, terms.cls!], [0.02, 0.49, 0.36, 0.13], 1e-5, 'terms');
  assertClose(yoloV1Loss(pred, target, opts).dataSync(), [5 * 0.02 + 0.49 + 0.5 * 0.36 + 0.13], 1e-5, 'total');
  // The seed's loss.py: no no-object term on box 2 here.
  assertClose(yoloV1Loss(pred, target, { ...opts, ...SEED_LOSS_OPTIONS }).dataSync(), [5 * 0.02 + 0.49 + 0.13], 1e-5, 'seed total');
  // Swapping the two boxes swaps responsibility: the same loss.
  const swapped = grid(1, 1, 12, [[0, 0, 0, [0.2, 0.7, 0.6, 0.9, 0.9, 1, 1, 0.3, 0.4, 0.5, 0.36, 0.25]]]);
  assertClose(yoloV1Loss(swapped, target, opts).dataSync(), [0.9], 1e-5, 'swapped');
  // Equal IoU (identical boxes): the first box is responsible. conf 0.1 / 0.8: object (0.1 - 1)^2, no-object 0.8^2.
  const tie = grid(1, 1, 12, [[0, 0, 0, [0, 1, 0.1, 0.5, 0.5, 0.25, 0.25, 0.8, 0.5, 0.5, 0.25, 0.25]]]);
  assertClose(Object.values(scalars({ ...yoloV1LossTerms(tie, target, opts) })), [0, 0.81, 0.64, 0], 1e-5, 'tie');
  tf.dispose([target, pred, swapped, tie]);
});

test('loss, 2x2 grid, batch 2: empty cells (both boxes, class scores ignored), a negative width in the IoU, batch mean vs sum', () => {
  const opts = { S: 2, B: 2, C: 1 };
  // Image 0, cell (1, 0): class 0, box (0.5, 0.6, 0.64, 0.81). Image 1: no object.
  const target = grid(2, 2, 6, [[0, 1, 0, [1, 1, 0.5, 0.6, 0.64, 0.81]]]);
  const pred = grid(2, 2, 11, [
    [0, 0, 0, [0.5, 0.2, 0, 0, 0, 0, -0.1, 0, 0, 0, 0]], // empty: 0.2^2 + 0.1^2 (its class score 0.5 ignored)
    // box 1 has w = -0.04: its corners cross (x1 = 0.52 > x2 = 0.48), intersection 0, IoU 0; box 2 (x off by 0.1) has
    // IoU 0.4374 / 0.5994 = 0.73 and is responsible: coord (0.4 - 0.5)^2, object (0.4 - 1)^2, class (0.5 - 1)^2,
    // no-object on box 1 0.9^2.
    [0, 1, 0, [0.5, 0.9, 0.5, 0.6, -0.04, 0.81, 0.4, 0.4, 0.6, 0.64, 0.81]],
    [0, 1, 1, [0, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0]], // empty: 0.3^2
    [1, 0, 0, [0, 0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0]], // empty: 0.5^2
  ]);
  assertClose(Object.values(scalars({ ...yoloV1LossTerms(pred, target, opts) })), [0.01, 0.36, 0.05 + 0.09 + 0.25 + 0.81, 0.25], 1e-5, 'terms');
  const sum = 5 * 0.01 + 0.36 + 0.5 * 1.2 + 0.25;
  assertClose(yoloV1Loss(pred, target, opts).dataSync(), [sum / 2], 1e-5, 'batch mean');
  assertClose(yoloV1Loss(pred, target, { ...opts, reduction: 'sum' }).dataSync(), [sum], 1e-5, 'sum');
  assertClose(yoloV1Loss(pred, target, { ...opts, ...SEED_LOSS_OPTIONS }).dataSync(), [5 * 0.01 + 0.36 + 0.5 * 0.39 + 0.25], 1e-5, 'seed');
  assert.throws(() => yoloV1Loss(pred, target, { S: 2, B: 1, C: 1 }), /prediction \[2,2,2,11\] is not \[N, 2, 2, 6\]/);
  assert.throws(() => yoloV1Loss(pred, tf.zeros([2, 2, 2, 7]) as tf.Tensor4D, opts), /target \[2,2,2,7\] is not \[2, 2, 2, 6\]/);
  tf.dispose([target, pred]);
});

test('loss gradient by hand: sign-preserving sqrt of a negative width, and the non-responsible box\'s confidence', () => {
  // 1x1 grid, B 2, C 1. Truth (0.5, 0.5, 0.25, 0.25); box 1 = (0.5, 0.5, -0.25, 0.25) has crossed corners (IoU 0) and box
  // 2 (conf 0.3) is far away (IoU 0): box 1 is responsible by the tie rule. s(w) = sign(w) sqrt(|w + 1e-6|) = -0.5, so coord = (-0.5 - 0.5)^2 = 1 and
  // dL/dw = 5 * 2 (s(w) - 0.5) s'(w) = 10 * (-1) * 1 / (2 * 0.5) = -10; dL/dconf2 = 0.5 * 2 * 0.3 = 0.3; box 2's
  // coordinates get no gradient; dL/dconf1 = 2 (1 - 1) = 0.
  const target = grid(1, 1, 6, [[0, 0, 0, [1, 1, 0.5, 0.5, 0.25, 0.25]]]);
  const pred = grid(1, 1, 11, [[0, 0, 0, [1, 1, 0.5, 0.5, -0.25, 0.25, 0.3, 3, 3, 0.1, 0.1]]]);
  const opts = { S: 1, B: 2, C: 1 };
  assertClose(yoloV1Loss(pred, target, opts).dataSync(), [5 * 1 + 0.5 * 0.09], 1e-5, 'value');
  const g = tf.grad((p: tf.Tensor) => yoloV1Loss(p as tf.Tensor4D, target, opts))(pred);
  assertClose(g.dataSync(), [0, 0, 0, 0, -10, 0, 0.3, 0, 0, 0, 0], 1e-4, 'gradient');
  tf.dispose([target, pred, g]);
});

test('targets: cell = floor(S * centre), offsets and sizes in cell units, first box of a cell wins, edges clamp, bad boxes refused', () => {
  // 100 px, S 2: box [10, 60, 40, 100] has centre (25, 80) -> cell row 1, column 0; x = 0.5, y = 0.6, w = 0.6, h = 0.8.
  const t = yoloTargetArray([{ cls: 2, box: [10, 60, 40, 100] }, { cls: 0, box: [0, 50, 50, 100] }, { cls: 1, box: [100, 100, 100, 100] }], 100, 2, 3);
  const cell = (i: number, j: number): number[] => Array.from(t.subarray((i * 2 + j) * 8, (i * 2 + j + 1) * 8));
  assertClose(cell(1, 0), [0, 0, 1, 1, 0.5, 0.6, 0.6, 0.8], 1e-6, 'cell (1, 0)'); // the second box (same cell) is dropped
  assertClose(cell(1, 1), [0, 1, 0, 1, 1, 1, 0, 0], 1e-6, 'cell (1, 1)'); // a zero-size box on the far corner clamps into the grid
  assert.deepEqual([...cell(0, 0), ...cell(0, 1)], new Array(16).fill(0));
  const batch = yoloTargets([[{ cls: 2, box: [10, 60, 40, 100] }], []], 100, 2, 3);
  assert.deepEqual(batch.shape, [2, 2, 2, 8]);
  assertClose(tf.tidy(() => batch.sum().dataSync()), [1 + 1 + 0.5 + 0.6 + 0.6 + 0.8], 1e-6, 'batch sum');
  batch.dispose();
  assert.throws(() => yoloTargetArray([{ cls: 3, box: [0, 0, 1, 1] }], 100, 2, 3), /box 0 has class 3, expected an integer in \[0, 3\)/);
  assert.throws(() => yoloTargetArray([{ cls: 0, box: [5, 0, 1, 1] }], 100, 2, 3), /box 0 \[5, 0, 1, 1\] is not a box inside the 100x100 image/);
  assert.throws(() => yoloTargetArray([{ cls: 0, box: [0, 0, 101, 1] }], 100, 2, 3), /not a box inside/);
});

test('decode: centre (j + x) / S, size w / S in pixels, score = confidence x best class score, threshold, negative width empty', () => {
  // S 2, B 2, C 3, 100 px (cells of 50 px). Image 0, cell (1, 0): classes (0.1, 0.8, 0.3) -> class 1; box 1 conf 0.9 at
  // (0.5, 0.5, 1, 0.5) -> centre (25, 75), 50 x 25 -> [0, 62.5, 50, 87.5], score 0.72; box 2 conf 0.5 at (0.5, 0.75, 1, 0.5)
  // -> score 0.4 (dropped at 0.5). Image 1, cell (0, 1): class 2 (0.6), box 2 conf 1 at (0, 1, -0.2, 0.4) -> centre (50, 50), width 0 -> [50, 40, 50, 60], score 0.6.
  const pred = grid(2, 2, 13, [
    [0, 1, 0, [0.1, 0.8, 0.3, 0.9, 0.5, 0.5, 1, 0.5, 0.5, 0.5, 0.75, 1, 0.5]],
    [1, 0, 1, [0.2, 0.1, 0.6, 0, 0, 0, 0, 0, 1, 0, 1, -0.2, 0.4]],
  ]);
  const found = decodeYolo(pred, { S: 2, B: 2, C: 3, imageSize: 100, confThreshold: 0.5 });
  assert.equal(found.length, 2);
  assert.equal(found[0]!.length, 1);
  assert.equal(found[0]![0]!.cls, 1);
  assertClose([found[0]![0]!.score, ...found[0]![0]!.box], [0.72, 0, 62.5, 50, 87.5], 1e-5, 'image 0');
  assert.equal(found[1]!.length, 1);
  assert.equal(found[1]![0]!.cls, 2);
  assertClose([found[1]![0]!.score, ...found[1]![0]!.box], [0.6, 50, 40, 50, 60], 1e-5, 'image 1');
  const all = decodeYolo(pred, { S: 2, B: 2, C: 3, imageSize: 100, confThreshold: 0.3 });
  assertClose(all[0]!.map((d) => d.score), [0.72, 0.4], 1e-5, 'both boxes of the cell, box order');
  assertClose(all[0]![1]!.box, [0, 75, 50, 100], 1e-5, 'box 2: centre (25, 87.5), 50 x 25');
  // Detect = decode + NMS: image 0's two boxes are both class 1 and overlap with IoU 625 / (1250 + 1250 - 625) = 1/3:
  // both kept at an IoU threshold of 0.4, the lower-scored one suppressed at 0.3.
  assert.equal(detectYolo(pred, { S: 2, B: 2, C: 3, imageSize: 100, confThreshold: 0.3, iouThreshold: 0.4 })[0]!.length, 2);
  assert.deepEqual(detectYolo(pred, { S: 2, B: 2, C: 3, imageSize: 100, confThreshold: 0.3, iouThreshold: 0.3 })[0]!.map((x) => x.score), [all[0]![0]!.score]);
  tf.dispose(pred);
});

test('IoU and NMS: overlapping boxes of a class suppressed, other classes kept, IoU at the threshold kept, ties in input order, greedy', () => {
  assert.equal(boxIoU([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  assert.equal(boxIoU([0, 0, 10, 10], [10, 0, 20, 10]), 0);
  assert.equal(boxIoU([3, 3, 3, 3], [3, 3, 3, 3]), 0);
  const d = (cls: number, score: number, box: [number, number, number, number]): YoloDetection => ({ cls, score, box });
  const a = d(0, 0.9, [0, 0, 10, 10]), b = d(0, 0.8, [1, 0, 11, 10]), c = d(1, 0.7, [0, 0, 10, 10]), e = d(0, 0.6, [20, 20, 30, 30]);
  assert.deepEqual(nms([b, e, c, a], 0.5), [a, c, e]); // b overlaps a (IoU 0.82), same class: gone; c is another class
  // IoU exactly at the threshold is kept (suppression needs IoU > threshold): [0,0,10,10] vs [5,0,15,10] is 1/3.
  const f = d(0, 0.5, [5, 0, 15, 10]);
  assert.deepEqual(nms([a, f], 1 / 3), [a, f]);
  assert.deepEqual(nms([a, f], 0.3), [a]);
  // Equal scores: the earlier one in the input wins.
  const g1 = d(2, 0.5, [0, 0, 10, 10]), g2 = d(2, 0.5, [0, 1, 10, 11]);
  assert.deepEqual(nms([g1, g2], 0.5), [g1]);
  assert.deepEqual(nms([g2, g1], 0.5), [g2]);
  // Greedy: p suppresses q, so r (which only q overlaps) survives.
  const p = d(0, 0.9, [0, 0, 10, 10]), q = d(0, 0.8, [4, 0, 14, 10]), r = d(0, 0.7, [8, 0, 18, 10]);
  assert.deepEqual(nms([r, q, p], 0.3), [p, r]);
  assert.deepEqual(nms([], 0.5), []);
});

/** A classification ConvMixer with the tiny backbone, its BatchNorm running statistics moved off 0 / 1 so loading them shows. */
function timmLikeConvMixer(seed: number): ReturnType<typeof createConvMixer> {
  const config: Partial<ConvMixerConfig> = { dim: 8, depth: 1, kernelSize: 3, patchSize: 7, numClasses: 5, activation: 'relu' };
  const cls = createConvMixer(config, {}, { seed });
  for (const [k, v] of Object.entries(cls.buffers)) tf.tidy(() => v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', k.length + seed)));
  return cls;
}

test('backbone weights: a timm-layout safetensors (classifier head.* included) loads into the backbone only; same features as the ConvMixer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yolo-weights-'));
  try {
    const cls = timmLikeConvMixer(7);
    const file = join(dir, 'convmixer.safetensors');
    const sd = convMixerStateDict(cls);
    assert.ok('head.weight' in sd && 'blocks.0.0.fn.0.weight' in sd);
    writeSafetensors(file, sd);
    const m = tiny(1);
    const head = m.params['yolo_head.fc1.weight']!.dataSync().slice();
    loadBackboneWeights(m, file);
    for (const [k, v] of Object.entries({ ...cls.params, ...cls.buffers })) {
      if (k.startsWith('head.')) continue;
      assert.deepEqual(Array.from((m.params[k] ?? m.buffers[k])!.dataSync()), Array.from(v.dataSync()), k);
    }
    assert.deepEqual(m.params['yolo_head.fc1.weight']!.dataSync(), head, 'head untouched');
    // The loaded backbone is the ConvMixer: its features, globally pooled through the classifier, give the ConvMixer's logits.
    const x = tf.randomNormal([2, 28, 28, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    const viaYolo = tf.tidy(() => tf.add(tf.matMul(tf.mean(m.features(x), [1, 2]), cls.params['head.weight'] as tf.Tensor2D), cls.params['head.bias']!));
    const logits = cls.apply(x);
    assertClose(viaYolo.dataSync(), logits.dataSync(), 1e-5, 'logits');
    // The paper's nn.Sequential keys (0 = stem conv, 2 = stem BN, 3 + i = block i, 3 + depth + 2 = classifier) load the same.
    const sequential: Record<string, StoredTensor> = {};
    for (const [k, t] of Object.entries(sd)) {
      sequential[k.replace(/^stem\.(\d)\./, '$1.').replace(/^blocks\.(\d+)\./, (_, i: string) => `${3 + Number(i)}.`).replace(/^head\./, '6.')] = t;
    }
    const m2 = tiny(2);
    loadBackboneWeights(m2, sequential);
    assertClose(m2.features(x).dataSync(), m.features(x).dataSync(), 0, 'sequential layout');
    tf.dispose([x, viaYolo, logits]);
    m2.dispose();
    cls.dispose();
    m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backbone weights: shape mismatches, missing and unexpected keys are one-line UserErrors naming the key; the model is untouched', () => {
  const cls = timmLikeConvMixer(9);
  const sd = convMixerStateDict(cls);
  const m = tiny(1, { dim: 16 });
  const stem = m.params['stem.0.weight']!.dataSync().slice();
  const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  assert.throws(() => loadBackboneWeights(m, sd), oneLine(/checkpoint: 'stem\.0\.weight' has shape \[8,3,7,7\], expected \[16,3,7,7\] for yolo_convmixer backbone ConvMixer-16\/1 k3 p7/));
  assert.deepEqual(m.params['stem.0.weight']!.dataSync(), stem);
  m.dispose();
  const ok = tiny(1);
  const missing = { ...sd };
  delete missing['blocks.0.3.running_var'];
  assert.throws(() => loadBackboneWeights(ok, missing), oneLine(/missing key 'blocks\.0\.3\.running_var'/));
  assert.throws(() => loadBackboneWeights(ok, { ...sd, 'blocks.1.1.weight': sd['blocks.0.1.weight']! }), oneLine(/unexpected key 'blocks\.1\.1\.weight'/));
  assert.throws(() => loadBackboneWeights(ok, join(tmpdir(), 'no-such-yolo.safetensors')), oneLine(/no-such-yolo\.safetensors: cannot read/));
  ok.dispose();
  cls.dispose();
});

test('whole-model state dict: PyTorch layouts (fc1 [out, in]), round trip through loadYoloWeights gives the same output', () => {
  const a = tiny(11), b = tiny(12);
  const sd = yoloStateDict(a);
  assert.deepEqual(sd['yolo_head.fc1.weight']!.shape, [12, 8 * 81]);
  assert.deepEqual(sd['blocks.0.0.fn.0.weight']!.shape, [8, 1, 3, 3]);
  const x = tf.randomNormal([1, 56, 56, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
  loadYoloWeights(b, { ...sd, 'module.stem.2.num_batches_tracked': { dtype: 'I64', shape: [], data: Float32Array.of(3) } });
  assertClose(b.apply(x).dataSync(), a.apply(x).dataSync(), 0, 'same output');
  assert.throws(() => loadYoloWeights(b, { ...sd, 'yolo_head.fc3.bias': sd['yolo_head.fc2.bias']! }), /unexpected key 'yolo_head\.fc3\.bias'/);
  tf.dispose(x);
  a.dispose();
  b.dispose();
});
