// AdamW exactly as torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter), which tfjs lacks:
//   p <- p * (1 - lr*wd)                       (decay first, on the pre-update weights)
//   m <- b1*m + (1-b1)*g ;  v <- b2*v + (1-b2)*g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The state (step count, m, v) is exported as plain Float32Arrays so checkpoints can store it bit for bit.
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  /** torch default 1e-8; the paper's ImageNet runs used 1e-3 (timm --opt-eps). */
  eps: number;
  weightDecay: number;
  /** Which parameters are decayed; default all (as torch.optim.AdamW over model.parameters()). */
  decays?: (name: string, shape: readonly number[]) => boolean;
}

export interface AdamWState {
  step: number;
  /** 'm.<param>' and 'v.<param>' for every parameter, in the order of the parameter record. */
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

export interface AdamW {
  options: AdamWOptions;
  /** Number of steps taken so far. */
  readonly step: number;
  /** One update of every parameter that has a gradient, with learning rate lr. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void;
  exportState(): AdamWState;
  importState(state: AdamWState): void;
  dispose(): void;
}

/** timm's rule (filter_bias_and_bn): no decay for biases and other 1-D parameters (norm scales/shifts). */
export function decaysExceptBiasAndNorm(name: string, shape: readonly number[]): boolean {
  return shape.length > 1 && !name.endsWith('.bias');
}

export function createAdamW(params: Record<string, tf.Variable>, options: AdamWOptions): AdamW {
  const names = Object.keys(params);
  const m: Record<string, tf.Variable> = {};
  const v: Record<string, tf.Variable> = {};
  for (const n of names) {
    // In a tidy: a variable shares the data of its initial value, which would otherwise stay registered after dispose().
    m[n] = tf.tidy(() => tf.variable(tf.zerosLike(params[n]!), false, undefined, 'float32'));
    v[n] = tf.tidy(() => tf.variable(tf.zerosLike(params[n]!), false, undefined, 'float32'));
  }
  const decays = options.decays ?? (() => true);
  let step = 0;

  return {
    options,
    get step() { return step; },
    apply(grads, lr) {
      step += 1;
      const { beta1: b1, beta2: b2, eps, weightDecay: wd } = options;
      const bc1 = 1 - b1 ** step;
      const sqrtBc2 = Math.sqrt(1 - b2 ** step);
      const stepSize = lr / bc1;
      tf.tidy(() => {
        for (const n of names) {
          const g = grads[n];
          if (!g) continue;
          const p = params[n]!;
          const decayed = wd !== 0 && decays(n, p.shape) ? tf.mul(p, 1 - lr * wd) : p;
          const m1 = tf.add(tf.mul(m[n]!, b1), tf.mul(g, 1 - b1));
          const v1 = tf.add(tf.mul(v[n]!, b2), tf.mul(tf.square(g), 1 - b2));
          const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), eps);
          m[n]!.assign(m1);
          v[n]!.assign(v1);
          p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)));
        }
      });
    },
    exportState() {
      const tensors: AdamWState['tensors'] = {};
      for (const n of names) {
        tensors[`m.${n}`] = { shape: [...m[n]!.shape], data: m[n]!.dataSync() as Float32Array };
        tensors[`v.${n}`] = { shape: [...v[n]!.shape], data: v[n]!.dataSync() as Float32Array };
      }
      return { step, tensors };
    },
    importState(state) {
      for (const n of names) {
        for (const [kind, store] of [['m', m], ['v', v]] as const) {
          const t = state.tensors[`${kind}.${n}`];
          if (!t) throw new Error(`optimizer state lacks '${kind}.${n}'`);
          if (t.shape.join('x') !== store[n]!.shape.join('x')) throw new Error(`optimizer state '${kind}.${n}' has shape [${t.shape}], expected [${store[n]!.shape}]`);
          const value = tf.tensor(t.data, t.shape, 'float32');
          store[n]!.assign(value); // assign copies: the temporary is ours to dispose
          value.dispose();
        }
      }
      step = state.step;
    },
    dispose() {
      for (const n of names) { m[n]!.dispose(); v[n]!.dispose(); }
    },
  };
}
