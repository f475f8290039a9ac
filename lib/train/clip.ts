// Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (norm type 2):
//   total = sqrt(sum over all grads of ||g||^2);  if maxNorm/(total+1e-6) < 1, every grad *= maxNorm/(total+1e-6).
// The per-parameter squared norms come back to JS in one read, so the caller can also find the first
// parameter whose gradient is non-finite (the NaN guard) without a second pass.
import * as tf from '@tensorflow/tfjs';

export interface GradNorms {
  /** Names in the order of the gradient record. */
  names: string[];
  /** Squared L2 norm of each gradient (NaN/Inf when that gradient has a non-finite entry). */
  squared: Float32Array;
  /** Global L2 norm over all gradients. */
  total: number;
}

export function gradNorms(grads: Record<string, tf.Tensor>): GradNorms {
  const names = Object.keys(grads);
  const stacked = tf.tidy(() => tf.stack(names.map((n) => tf.sum(tf.square(grads[n]!)))));
  const squared = stacked.dataSync() as Float32Array;
  stacked.dispose();
  // Sum in float64, as the global norm is a single number; torch sums in float32 (differences ~1e-7 relative).
  let s = 0;
  for (const q of squared) s += q;
  return { names, squared: Float32Array.from(squared), total: Math.sqrt(s) };
}

/** The clipping factor torch applies: min(1, maxNorm / (total + 1e-6)). */
export function clipCoefficient(total: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (total + 1e-6));
}

/** New gradient tensors scaled by the clipping factor (the inputs are disposed when they are replaced). */
export function clipGradsByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number, total = gradNorms(grads).total): Record<string, tf.Tensor> {
  const coef = clipCoefficient(total, maxNorm);
  if (coef >= 1) return grads;
  const out: Record<string, tf.Tensor> = {};
  for (const [n, g] of Object.entries(grads)) {
    out[n] = tf.mul(g, coef);
    g.dispose();
  }
  return out;
}
