// Unit tests of the training recipe's pieces against hand-computed values (and, for the schedule, the lr values
// printed by the official locuslab/convmixer-cifar10 script in its README).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { oneCycleSchedule } from '../lib/train/schedule.ts';
import { createAdamW, decaysExceptBiasAndNorm } from '../lib/train/adamw.ts';
import { gradNorms, clipGradsByGlobalNorm } from '../lib/train/clip.ts';
import { softTargetCrossEntropy, evalBatchStats } from '../lib/train/loss.ts';

await tf.setBackend('cpu');

const close = (actual: ArrayLike<number>, expected: number[], tol: number, what: string): void => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
};

test('schedule: one-cycle knots and the lrs the official CIFAR script logs (lr-max 0.05, 25 epochs)', () => {
  const s = oneCycleSchedule(0.05, 25);
  assert.deepEqual(s.knots, [0, 10, 20, 25]);
  // README of convmixer-cifar10 prints the lr of the last step of each epoch: epoch 0 -> 0.005, 9 -> 0.05,
  // 10 -> 0.045250, 19 -> 0.002500, 20 -> 0.002000, 24 -> 0.000000. With 98 steps/epoch the last step is t = epoch+1.
  const lastStep = (e: number): number => s.forStep(e, 97, 98);
  close([lastStep(0), lastStep(9), lastStep(10), lastStep(19), lastStep(20), lastStep(24)], [0.005, 0.05, 0.04525, 0.0025, 0.002, 0], 1e-12, 'lr');
  // First step of training: t = 1/98 -> 0.05 * (1/98) / 10.
  assert.ok(Math.abs(s.forStep(0, 0, 98) - 0.05 / 980) < 1e-15);
  // Halfway down the first ramp-down: t = 15 -> 0.05 - (0.05 - 0.0025) / 2 = 0.02625.
  assert.ok(Math.abs(s.at(15) - 0.02625) < 1e-15);
});

test('schedule: few epochs follow numpy.interp with repeated knots (E=2 -> knots 0,0,1,2)', () => {
  const s = oneCycleSchedule(0.01, 2);
  assert.deepEqual(s.knots, [0, 0, 1, 2]);
  // numpy.interp(0.5, [0,0,1,2], [0,.01,.0005,0]) = 0.01 + (0.0005-0.01)*0.5 = 0.00525; at t=1.5: 0.00025.
  close([s.at(0.5), s.at(1), s.at(1.5), s.at(2), s.at(3)], [0.00525, 0.0005, 0.00025, 0, 0], 1e-15, 'lr');
});

test('adamw: two steps on a 3-element tensor match the hand computation (and torch.optim.AdamW)', () => {
  // p0 = [1, -2, 0.5]; b1 0.9, b2 0.999, eps 1e-8, wd 0.1.
  // Step 1 (lr 0.1, g = [0.1, -0.2, 0]): decay p*0.99 = [0.99, -1.98, 0.495]; m = 0.1 g, v = 0.001 g^2;
  //   bias-corrected mhat = g, sqrt(vhat) = |g|, so the update is lr * g/(|g|+eps) = 0.1 * sign(g) (0 where g = 0):
  //   p1 = [0.89, -1.88, 0.495].
  // Step 2 (lr 0.05, g = [0.3, 0.1, -0.4]): decay factor 1 - 0.05*0.1 = 0.995 -> [0.88555, -1.8706, 0.492525];
  //   m = 0.9*m1 + 0.1*g = [0.039, -0.008, -0.04]; v = 0.999*v1 + 0.001*g^2 = [9.999e-5, 4.996e-5, 1.6e-4];
  //   mhat = m/(1-0.81) = [0.2052632, -0.0421053, -0.2105263]; sqrt(vhat) = sqrt(v/(1-0.998001)) = [0.2236515, 0.1580902, 0.2829134];
  //   p2 = decayed - 0.05 * mhat/sqrt(vhat) = [0.88555 - 0.0458894, -1.8706 + 0.0133168, 0.492525 + 0.0372068]
  //      = [0.8396610, -1.8572832, 0.5297318]   (torch 1.13 gives 0.8396609, -1.8572831, 0.5297319).
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'w');
  const opt = createAdamW({ w: p }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  opt.apply({ w: tf.tensor1d([0.1, -0.2, 0]) }, 0.1);
  close(p.dataSync(), [0.89, -1.88, 0.495], 1e-6, 'p1');
  const saved = opt.exportState();
  assert.equal(saved.step, 1);
  close(saved.tensors['m.w']!.data, [0.01, -0.02, 0], 1e-8, 'm1');
  close(saved.tensors['v.w']!.data, [1e-5, 4e-5, 0], 1e-10, 'v1');
  opt.apply({ w: tf.tensor1d([0.3, 0.1, -0.4]) }, 0.05);
  close(p.dataSync(), [0.839661, -1.8572832, 0.5297318], 2e-6, 'p2');

  // The exported state restores the optimizer exactly: a fresh one continued from step 1 reaches the same p2.
  const q = tf.variable(tf.zeros([3]), true, 'w2');
  const opt2 = createAdamW({ w: q }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  const r = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'w3');
  const ref = createAdamW({ w: r }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  ref.apply({ w: tf.tensor1d([0.1, -0.2, 0]) }, 0.1);
  q.assign(r);
  opt2.importState(ref.exportState());
  opt2.apply({ w: tf.tensor1d([0.3, 0.1, -0.4]) }, 0.05);
  ref.apply({ w: tf.tensor1d([0.3, 0.1, -0.4]) }, 0.05);
  assert.deepEqual(Array.from(q.dataSync()), Array.from(r.dataSync()));
  assert.equal(opt2.step, 2);
});

test('adamw: eps 1e-3 (the paper\'s ImageNet setting) is added to sqrt(v_hat), as torch does, not inside the root', () => {
  // One step, lr 0.1, no decay, g = [0.1, -0.2, 0.001]: mhat = g, sqrt(vhat) = |g|, update = lr * g / (|g| + 1e-3):
  //   0.1 * 0.1/0.101 = 0.0990099, 0.1 * -0.2/0.201 = -0.0995025, 0.1 * 0.001/0.002 = 0.05.
  // (eps inside the root, g/sqrt(g^2 + eps), would move the last weight by 0.1 * 0.001/0.0316386 = 0.0031607.)
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'weps');
  const opt = createAdamW({ weps: p }, { beta1: 0.9, beta2: 0.999, eps: 1e-3, weightDecay: 0 });
  opt.apply({ weps: tf.tensor1d([0.1, -0.2, 0.001]) }, 0.1);
  close(p.dataSync(), [1 - 0.0990099, -2 + 0.0995025, 0.5 - 0.05], 1e-6, 'p1');
});

test('adamw: timm-style decay mask skips biases and 1-D (norm) parameters', () => {
  assert.equal(decaysExceptBiasAndNorm('stem.0.weight', [2, 2, 3, 8]), true);
  assert.equal(decaysExceptBiasAndNorm('stem.0.bias', [8]), false);
  assert.equal(decaysExceptBiasAndNorm('stem.2.weight', [8]), false);
  // With grad 0 and wd 0.5, lr 0.1, a decayed weight shrinks by 5%; a skipped one does not move.
  const w = tf.variable(tf.tensor2d([[2]]), true, 'a.weight');
  const b = tf.variable(tf.tensor1d([2]), true, 'a.bias');
  const opt = createAdamW({ 'a.weight': w, 'a.bias': b }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decays: decaysExceptBiasAndNorm });
  opt.apply({ 'a.weight': tf.tensor2d([[0]]), 'a.bias': tf.tensor1d([0]) }, 0.1);
  close(w.dataSync(), [1.9], 1e-6, 'decayed');
  close(b.dataSync(), [2], 0, 'skipped');
});

test('clip: global norm over all gradients, scaled by maxNorm/(norm+1e-6) like clip_grad_norm_', () => {
  // ||[3,4]||^2 + ||[[12]]||^2 = 25 + 144 = 169 -> norm 13; coef = 1/(13+1e-6) -> [0.2307692, 0.3076923], [[0.9230769]].
  const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
  const norms = gradNorms(grads);
  assert.equal(norms.total, 13);
  close(norms.squared, [25, 144], 0, 'squared');
  const clipped = clipGradsByGlobalNorm(grads, 1, norms.total);
  close(clipped.a!.dataSync(), [3 / 13, 4 / 13], 1e-6, 'a');
  close(clipped.b!.dataSync(), [12 / 13], 1e-6, 'b');
  // Below the threshold nothing changes (same tensors come back).
  const small = { a: tf.tensor1d([0.3, 0.4]) };
  assert.equal(clipGradsByGlobalNorm(small, 1).a, small.a);
  // A NaN in one gradient shows in its squared norm, which is how the NaN guard names the layer.
  assert.ok(Number.isNaN(gradNorms({ a: tf.tensor1d([1]), b: tf.tensor1d([NaN]) }).squared[1]));
});

test('loss: soft-target cross-entropy and eval stats match hand values', () => {
  // Row 1: logits [1,2,3], target class 2 -> -log_softmax = log(1 + e^-1 + e^-2) = 0.4076059.
  // Row 2: logits [0,0,0], target [.5,.25,.25] -> log 3 = 1.0986123. Mean 0.7531091.
  const logits = tf.tensor2d([[1, 2, 3], [0, 0, 0]]);
  const loss = softTargetCrossEntropy(logits, tf.tensor2d([[0, 0, 1], [0.5, 0.25, 0.25]]));
  close(loss.dataSync(), [0.7531091], 1e-6, 'soft CE');
  // Hard labels [2, 1]: summed CE = 0.4076059 + 1.0986123; argmax of row 2 is 0 (first of ties) -> 1 correct.
  const stats = evalBatchStats(logits, Uint8Array.from([2, 1]));
  close([stats.lossSum], [1.5062182], 1e-6, 'CE sum');
  assert.equal(stats.correct, 1);
});
