// One training step of a small Unet-like segmentation graph, built from the ops the segmentation models (Unet,
// ConvMixer-Unet) train with: conv3x3 + BatchNorm + ReLU, 2x2 max-pool, 2x2 stride-2 transposed conv, channel concat
// with a skip, depth-to-space (pixel shuffle, with a Reshape+Transpose gradient) and bilinear resize, then a per-pixel
// softmax cross-entropy and a plain SGD update. Used to list which kernels of such a step still run in JS and to time
// the native engine against tfjs's JS kernels (scripts/profile-seg-kernels.ts, test/native-seg-kernels.test.ts).
import * as tf from '@tensorflow/tfjs';
import { batchNorm, depthToSpace, type BatchNormState } from '../models/ops.ts';
import { createRng, type Rng } from '../rng.ts';

export interface SegStepOptions {
  batch: number;
  /** Square input side; a multiple of 2 (one max-pool level). */
  size: number;
  /** Channels of the first level (the second has twice as many). */
  width: number;
  classes: number;
  seed: number;
  lr?: number;
}

export interface SegStep {
  /** Runs one forward + backward + SGD update; returns the loss. */
  step(): number;
  dispose(): void;
}

function heInit(rng: Rng, shape: number[], fanIn: number): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const std = Math.sqrt(2 / fanIn);
  return tf.variable(tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * std), shape));
}

interface ConvBn { w: tf.Variable; b: tf.Variable; bn: BatchNormState }

export function createSegStep(o: SegStepOptions): SegStep {
  if (o.size % 2 !== 0) throw new Error(`segStep: size must be even, got ${o.size}`);
  const rng = createRng(o.seed);
  const c1 = o.width, c2 = 2 * o.width, k = o.classes;
  const vars: tf.Variable[] = [];
  const buffers: tf.Variable[] = [];
  const param = (shape: number[], fanIn: number): tf.Variable => {
    const v = heInit(rng, shape, fanIn);
    vars.push(v);
    return v;
  };
  const filled = (n: number, value: number, trainable: boolean): tf.Variable => {
    const v = tf.variable(tf.fill([n], value), trainable);
    (trainable ? vars : buffers).push(v);
    return v;
  };
  const convBn = (cin: number, cout: number): ConvBn => ({
    w: param([3, 3, cin, cout], 9 * cin),
    b: filled(cout, 0, true),
    bn: { weight: filled(cout, 1, true) as tf.Tensor as tf.Tensor1D, bias: filled(cout, 0, true) as tf.Tensor as tf.Tensor1D,
      runningMean: filled(cout, 0, false), runningVar: filled(cout, 1, false) },
  });
  const enc1a = convBn(3, c1), enc1b = convBn(c1, c1), enc2 = convBn(c1, c2), dec = convBn(2 * c1, c1);
  const upW = param([2, 2, c1, c2], 4 * c2), upB = filled(c1, 0, true);
  const headW = param([1, 1, c1, k], c1), shuffleW = param([1, 1, c2, 4 * k], c2), sideW = param([1, 1, c2, k], c2);

  const block = (x: tf.Tensor4D, p: ConvBn): tf.Tensor4D =>
    tf.relu(batchNorm(tf.add(tf.conv2d(x, p.w as tf.Tensor as tf.Tensor4D, 1, 'same'), p.b), p.bn, true));
  const s = o.size;
  const forward = (x: tf.Tensor4D): tf.Tensor4D => {
    const skip = block(block(x, enc1a), enc1b);
    const low = block(tf.maxPool(skip, 2, 2, 'valid'), enc2);
    const up = tf.add(tf.conv2dTranspose(low, upW as tf.Tensor as tf.Tensor4D, [o.batch, s, s, c1], 2, 'valid'), upB) as tf.Tensor4D;
    const fused = block(tf.concat([up, skip], 3), dec);
    const head = tf.conv2d(fused, headW as tf.Tensor as tf.Tensor4D, 1, 'same');
    const shuffled = depthToSpace(tf.conv2d(low, shuffleW as tf.Tensor as tf.Tensor4D, 1, 'same'), 2);
    const side = tf.image.resizeBilinear(tf.conv2d(low, sideW as tf.Tensor as tf.Tensor4D, 1, 'same'), [s, s]);
    return tf.addN([head, shuffled, side]) as tf.Tensor4D;
  };

  const x = tf.tensor4d(Float32Array.from({ length: o.batch * s * s * 3 }, () => rng.normal()), [o.batch, s, s, 3]);
  const labels = Int32Array.from({ length: o.batch * s * s }, () => Math.floor(rng.next() * k));
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat());
  const lr = o.lr ?? 0.01;
  return {
    step() {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, tf.reshape(forward(x), [-1, k])) as tf.Scalar, vars);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, lr)));
      });
      const loss = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    },
    dispose() {
      tf.dispose([x, y, ...vars, ...buffers]);
    },
  };
}
