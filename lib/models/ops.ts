// The few non-convolution ops ConvMixer needs, written with plain tfjs ops so they work under tf.grads /
// tf.variableGrads and so a native engine can speed them up by replacing the underlying kernels (erf, moments, ...).
import * as tf from '@tensorflow/tfjs';
import { fusedActLayerNorm, fusedActNorm, fusedDepthwiseBlock, fusedGlobalAvgPool, nativeFusedAvailable } from '../backend/fused.ts';

/** PyTorch's BatchNorm2d / LayerNorm defaults. */
export const NORM_EPS = 1e-5;
/** PyTorch momentum: running = (1 - m) * running + m * batch. */
export const BN_MOMENTUM = 0.1;

const INV_SQRT2 = Math.SQRT1_2;

/** GELU in its exact erf form, x * Phi(x) (PyTorch's nn.GELU() default, not the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, INV_SQRT2)), 1))) as T;
}

export function activate<T extends tf.Tensor>(x: T, kind: 'gelu' | 'relu'): T {
  return kind === 'gelu' ? gelu(x) : tf.relu(x);
}

export interface BatchNormState {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/**
 * BatchNorm2d over NHWC input (statistics per channel over N, H, W), as PyTorch computes it.
 * Eval: normalizes with the running statistics. Training: normalizes with the batch mean and biased batch variance,
 * then moves the running statistics towards the batch mean and the UNBIASED batch variance (n / (n - 1)).
 */
export function batchNorm(x: tf.Tensor4D, s: BatchNormState, training: boolean): tf.Tensor4D {
  if (!training) return tf.batchNorm4d(x, s.runningMean as tf.Tensor1D, s.runningVar as tf.Tensor1D, s.bias, s.weight, NORM_EPS);
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  const y = tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, s.bias, s.weight, NORM_EPS);
  // The running update does not lead to the output, so a gradient tape prunes it; tidy frees its temporaries.
  tf.tidy(() => {
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    s.runningMean.assign(tf.add(tf.mul(s.runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
    s.runningVar.assign(tf.add(tf.mul(s.runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
  });
  return y;
}

/**
 * A ConvMixer layer tail with BatchNorm: batchNorm(act(z + bias)) (+ residual). On the native engine this is one fused
 * native op forward and backward (lib/backend/fused.ts; CONVMIXER_FUSED=0 turns it off); otherwise the plain tfjs ops above.
 */
export function biasActBatchNorm(z: tf.Tensor4D, bias: tf.Tensor1D, s: BatchNormState, activation: 'gelu' | 'relu', training: boolean,
  residual: tf.Tensor4D | null = null): tf.Tensor4D {
  if (nativeFusedAvailable()) {
    return fusedActNorm(z, bias, s.weight, s.bias, { activation, training, runningMean: s.runningMean, runningVar: s.runningVar,
      eps: NORM_EPS, momentum: BN_MOMENTUM, residual });
  }
  const y = batchNorm(activate(tf.add(z, bias), activation), s, training);
  return residual ? tf.add(y, residual) : y;
}

/**
 * ConvMixer's depthwise half with BatchNorm: biasActBatchNorm(depthwiseConv2d(h, filter, 'same'), ...) + (residual ? h : 0).
 * On the native engine one fused op (its backward also joins the residual's gradient natively); otherwise plain tfjs.
 */
export function depthwiseActBatchNorm(h: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, s: BatchNormState, activation: 'gelu' | 'relu',
  training: boolean, residual: boolean): tf.Tensor4D {
  if (nativeFusedAvailable()) {
    return fusedDepthwiseBlock(h, filter, bias, s.weight, s.bias, { activation, training, runningMean: s.runningMean, runningVar: s.runningVar,
      eps: NORM_EPS, momentum: BN_MOMENTUM, residual });
  }
  // tfjs 'same' pads floor((k-1)/2) before and the rest after, exactly like PyTorch padding='same' (also for even k).
  return biasActBatchNorm(tf.depthwiseConv2d(h, filter, 1, 'same'), bias, s, activation, training, residual ? h : null);
}

/** Global average pooling of NHWC x to [N, C] (native forward/backward on the native engine). */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  return nativeFusedAvailable() ? fusedGlobalAvgPool(x) : (tf.mean(x, [1, 2]) as tf.Tensor2D);
}

/** LayerNorm over the channel axis of each pixel (NHWC), with per-channel affine: the Table 3 "LayerNorm" ablation. */
export function layerNormChannels(x: tf.Tensor4D, weight: tf.Tensor1D, bias: tf.Tensor1D): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, NORM_EPS))), weight), bias) as tf.Tensor4D;
}

/**
 * A ConvMixer layer tail with LayerNorm: layerNormChannels(act(z + bias)) (+ residual). One fused native op forward and
 * backward on the native engine (the plain composition costs ~30 JS-dispatched elementwise kernels and their gradients).
 */
export function biasActLayerNorm(z: tf.Tensor4D, bias: tf.Tensor1D, weight: tf.Tensor1D, beta: tf.Tensor1D, activation: 'gelu' | 'relu',
  residual: tf.Tensor4D | null = null): tf.Tensor4D {
  if (nativeFusedAvailable()) return fusedActLayerNorm(z, bias, weight, beta, { activation, eps: NORM_EPS, residual });
  const y = layerNormChannels(activate(tf.add(z, bias), activation), weight, beta);
  return residual ? tf.add(y, residual) : y;
}

/**
 * Depth-to-space (ConvMixer-Unet's "UpSample-reshape" block): NHWC [N, H, W, r*r*C] -> [N, H*r, W*r, C], in TensorFlow's
 * DCR order: out[n, h*r + i, w*r + j, c] = x[n, h, w, (i*r + j)*C + c].
 * PyTorch's PixelShuffle, and the seed's einops 'b (c r1 r2) h w -> b c (h r1) (w r2)', read channel c*r*r + i*r + j
 * instead (CRD order): porting PyTorch weights of the layer before a depth-to-space needs that channel permutation.
 * Forward: tf.depthToSpace (a native kernel where the engine has one). tfjs registers no gradient for DepthToSpace, so the
 * backward is space-to-depth written as reshape + transpose + reshape.
 */
export function depthToSpace(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % (r * r) !== 0) throw new Error(`depthToSpace: ${c} channels are not divisible by ${r}x${r}`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor): tf.Tensor => tf.tidy(() => {
      const blocks = tf.reshape(dy, [n, h, r, w, r, c / (r * r)]);
      return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [n, h, w, c]);
    });
    return { value: tf.depthToSpace(input, r, 'NHWC'), gradFunc };
  });
  return op(x) as tf.Tensor4D;
}

/**
 * LeakyReLU with the gradient dy * step(x, alpha): tfjs's own LeakyRelu gradient, where(greater(x, 0), dy, dy * alpha),
 * has the same values (1 for x > 0, alpha for x <= 0, products exact) but runs Greater and Select, which the native
 * engine does not have; Step and Multiply it has, so forward and backward stay native. The one difference is a NaN
 * input, whose gradient is NaN here and dy * alpha in tfjs.
 */
export function leakyRelu<T extends tf.Tensor>(x: T, alpha: number): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => tf.tidy(() => tf.mul(dy, tf.step(saved[0]!, alpha)));
    return { value: tf.leakyRelu(input, alpha), gradFunc };
  });
  return op(x) as T;
}
