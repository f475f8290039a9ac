// Segmentation metrics (confusion matrix, IoU, Dice, pixel accuracy) and the soft Dice training loss, against
// hand-computed cases and an independent per-class pixel count; the loss gradient against central differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { confusionMatrix, segmentationScores } from '../lib/metrics/segmentation.ts';
import { softDiceLoss } from '../lib/train/segLoss.ts';
import { createRng } from '../lib/rng.ts';

await tf.setBackend('cpu');

const near = (got: number, want: number, tol: number, what: string): void => assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want}`);

test('confusion matrix and scores on a hand-computed case with an ignored pixel and an absent class', () => {
  //            truth: 0  0  0  1  1  void 2  2       (class 3 appears nowhere)
  //       prediction: 0  0  1  1  2  1    2  0
  const labels = [0, 0, 0, 1, 1, 255, 2, 2], pred = [0, 0, 1, 1, 2, 1, 2, 0];
  const cm = confusionMatrix(pred, labels, 4, 255);
  assert.deepEqual(Array.from(cm), [2, 1, 0, 0, /**/ 0, 1, 1, 0, /**/ 1, 0, 1, 0, /**/ 0, 0, 0, 0]);
  const s = segmentationScores(cm, 4, ['a', 'b', 'c', 'd']);
  // IoU: class 0 TP 2 FP 1 FN 1 -> 2/4; class 1 TP 1 FP 1 FN 1 -> 1/3; class 2 likewise 1/3; class 3 0/0 -> null
  assert.deepEqual(s.perClassIoU, [2 / 4, 1 / 3, 1 / 3, null]);
  near(s.mIoU, (1 / 2 + 2 / 3) / 3, 1e-15, 'mIoU'); // 7/18
  // Dice 2TP / (2TP + FP + FN): 4/6, 2/4, 2/4
  assert.deepEqual(s.perClassDice, [4 / 6, 2 / 4, 2 / 4, null]);
  near(s.meanDice, 5 / 9, 1e-15, 'mean Dice');
  near(s.pixelAccuracy, 4 / 7, 1e-15, 'pixel accuracy'); // the void pixel counts neither way
  assert.deepEqual(s.classes, ['a', 'b', 'c', 'd']);
  // a class predicted but never true has IoU 0 (it is defined, and lowers the mean)
  const fp = segmentationScores(confusionMatrix([0, 1], [0, 0], 2, 255), 2);
  assert.deepEqual([fp.perClassIoU, fp.mIoU, fp.classes], [[1 / 2, 0], 1 / 4, ['class 0', 'class 1']]);
  // nothing but void: no defined value
  const empty = segmentationScores(confusionMatrix([1, 0], [255, 255], 2, 255), 2);
  assert.deepEqual([empty.perClassIoU, Number.isNaN(empty.mIoU), Number.isNaN(empty.pixelAccuracy)], [[null, null], true, true]);
});

test('accumulated confusion matrix over batches equals one pass; scores equal direct per-class pixel counts', () => {
  const r = createRng(42), k = 5, n = 4000;
  const labels = Uint8Array.from({ length: n }, () => (r.next() < 0.1 ? 255 : r.int(k - 1))); // class 4 never true
  const pred = Uint8Array.from({ length: n }, (_, i) => (r.next() < 0.6 && labels[i] !== 255 ? labels[i]! : r.int(k)));
  const whole = confusionMatrix(pred, labels, k, 255);
  const acc = new Float64Array(k * k);
  for (let at = 0; at < n; at += 1000) confusionMatrix(pred.subarray(at, at + 1000), labels.subarray(at, at + 1000), k, 255, acc);
  assert.deepEqual(acc, whole);
  const s = segmentationScores(whole, k);
  let correct = 0, valid = 0;
  for (let c = 0; c < k; c++) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] === 255) continue;
      if (labels[i] === c && pred[i] === c) tp++;
      else if (pred[i] === c) fp++;
      else if (labels[i] === c) fn++;
    }
    near(s.perClassIoU[c]!, tp / (tp + fp + fn), 1e-12, `IoU ${c}`);
    near(s.perClassDice[c]!, (2 * tp) / (2 * tp + fp + fn), 1e-12, `Dice ${c}`);
    correct += tp;
  }
  for (let i = 0; i < n; i++) if (labels[i] !== 255) valid++;
  near(s.pixelAccuracy, correct / valid, 1e-12, 'pixel accuracy');
  assert.equal(s.perClassIoU[4], 0, 'predicted-only class has IoU 0');
  near(s.mIoU, s.perClassIoU.reduce((a, b) => a! + b!, 0)! / k, 1e-12, 'mIoU over the 5 defined classes');
});

test('confusion matrix refuses out-of-range labels and predictions (a bug upstream)', () => {
  assert.throws(() => confusionMatrix([0], [7], 3, 255), /label 7 at pixel 0 is not a class in \[0, 3\)/);
  assert.throws(() => confusionMatrix([3], [0], 3, 255), /prediction 3 at pixel 0/);
  assert.throws(() => confusionMatrix([0, 1], [0], 3, 255), /2 predictions for 1 labels/);
  assert.throws(() => segmentationScores(new Float64Array(9), 3, ['a']), /1 class names for 3 classes/);
});

// 1 x 2 x 2 image, 2 classes. Logits chosen so that softmax is exact: [0, 0] -> (.5, .5), [ln 3, 0] -> (.75, .25),
// [0, ln 3] -> (.25, .75); the last pixel is ignored (its logits must not matter).
const L3 = Math.log(3);
const LOGITS = [0, 0, L3, 0, 0, L3, 5, -5];
const LABELS = [0, 0, 1, 255];

test('soft Dice loss on a hand-computed 1x2x2 case (smooth 1 and smooth 0); ignored pixel masked out of p and g', () => {
  const logits = tf.tensor4d(LOGITS, [1, 2, 2, 2]), labels = tf.tensor3d(LABELS, [1, 2, 2], 'int32');
  // class 0: sum p*g = .5 + .75 = 1.25, sum p = .5 + .75 + .25 = 1.5, sum g = 2
  // class 1: sum p*g = .75,             sum p = .5 + .25 + .75 = 1.5, sum g = 1
  // smooth 1: dice0 = 3.5 / 4.5 = 7/9, dice1 = 2.5 / 3.5 = 5/7 -> loss 1 - (7/9 + 5/7) / 2 = 16/63
  near(softDiceLoss(logits, labels, 2, 255).dataSync()[0]!, 16 / 63, 1e-6, 'loss, smooth 1');
  // smooth 0: dice0 = 2.5 / 3.5 = 5/7, dice1 = 1.5 / 2.5 = 3/5 -> loss 1 - (5/7 + 3/5) / 2 = 12/35
  near(softDiceLoss(logits, labels, 2, 255, 0).dataSync()[0]!, 12 / 35, 1e-6, 'loss, smooth 0');
  // the ignored pixel's logits do not change the loss
  const other = tf.tensor4d([...LOGITS.slice(0, 6), -9, 9], [1, 2, 2, 2]);
  near(softDiceLoss(other, labels, 2, 255).dataSync()[0]!, 16 / 63, 1e-6, 'loss with other ignored logits');
  // confident, correct predictions: loss near 0
  const perfect = tf.tensor4d([20, -20, 20, -20, -20, 20, 0, 0], [1, 2, 2, 2]);
  near(softDiceLoss(perfect, labels, 2, 255).dataSync()[0]!, 0, 1e-6, 'perfect prediction');
  tf.dispose([logits, labels, other, perfect]);
});

test('soft Dice loss gradient is finite, zero on the ignored pixel, and matches central differences', () => {
  const labels = tf.tensor3d(LABELS, [1, 2, 2], 'int32');
  const f = (v: number[]): number => tf.tidy(() => softDiceLoss(tf.tensor4d(v, [1, 2, 2, 2]), labels, 2, 255).dataSync()[0]!);
  const grad = tf.tidy(() => tf.grad((x: tf.Tensor) => softDiceLoss(x as tf.Tensor4D, labels, 2, 255))(tf.tensor4d(LOGITS, [1, 2, 2, 2])).dataSync());
  assert.ok(Array.from(grad).every(Number.isFinite));
  assert.deepEqual([grad[6], grad[7]], [0, 0]);
  const h = 1e-2;
  for (let i = 0; i < 6; i++) {
    const up = [...LOGITS], down = [...LOGITS];
    up[i]! += h; down[i]! -= h;
    near(grad[i]!, (f(up) - f(down)) / (2 * h), 2e-4, `d loss / d logit ${i}`);
  }
  assert.ok(Math.abs(grad[0]!) > 1e-3, 'the gradient is not trivially zero');
  labels.dispose();
});
