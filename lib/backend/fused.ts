// Fused ConvMixer layer tail on the native engine: BN(act(z + bias)) (+ residual) in one native forward call and one
// native backward call (native/fused.cc), wrapped in tf.customGrad so tf.grads / tf.variableGrads see an ordinary op.
// The plain-tfjs composition in lib/models/ops.ts is the reference; the model uses this op only while
// nativeFusedAvailable() says the native engine is active (and CONVMIXER_FUSED is not '0').
import * as tf from '@tensorflow/tfjs';
import { loadAddon, nativeKernelNames, originalKernel } from './native.ts';
import { allocOutput } from './bufferPool.ts';
import { type CpuBackend, float32Of } from './kernelUtil.ts';

/** The functions of the addon this file uses (native/fused.cc). */
export interface FusedAddon {
  /** training: mean/variance are outputs (batch statistics, biased variance); eval: inputs (running statistics). */
  fusedActNormForward(z: Float32Array, bias: Float32Array, gamma: Float32Array, beta: Float32Array, residual: Float32Array | null,
    y: Float32Array, mean: Float32Array, variance: Float32Array, invstd: Float32Array, m: number, c: number, relu: boolean, training: boolean, eps: number): void;
  fusedActNormBackward(dy: Float32Array, z: Float32Array, bias: Float32Array, gamma: Float32Array, mean: Float32Array, invstd: Float32Array,
    dz: Float32Array, dbias: Float32Array, dgamma: Float32Array, dbeta: Float32Array, m: number, c: number, relu: boolean, training: boolean): void;
  /** LayerNorm tail: mean/invstd are per-row outputs ([M]); statistics are the row's own in training and eval alike. */
  fusedActLayerNormForward(z: Float32Array, bias: Float32Array, gamma: Float32Array, beta: Float32Array, residual: Float32Array | null,
    y: Float32Array, mean: Float32Array, invstd: Float32Array, m: number, c: number, relu: boolean, eps: number): void;
  fusedActLayerNormBackward(dy: Float32Array, z: Float32Array, bias: Float32Array, gamma: Float32Array, mean: Float32Array, invstd: Float32Array,
    dz: Float32Array, dbias: Float32Array, dgamma: Float32Array, dbeta: Float32Array, m: number, c: number, relu: boolean): void;
  /** dst += src. */
  addInto(dst: Float32Array, src: Float32Array): void;
  /** NHWC [n, hw, c] -> [n, c] mean over hw, and its gradient. */
  avgPoolForward(x: Float32Array, y: Float32Array, n: number, hw: number, c: number): void;
  avgPoolBackward(dy: Float32Array, dx: Float32Array, n: number, hw: number, c: number): void;
}

export interface FusedActNormOptions {
  activation: 'gelu' | 'relu';
  /** Batch statistics (and a running-statistics update) when true; running statistics when false. */
  training: boolean;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  eps: number;
  /** PyTorch momentum: running = (1 - m) * running + m * batch (unbiased variance). */
  momentum: number;
  /** Added after the norm (ConvMixer's residual); its gradient is dy. */
  residual?: tf.Tensor4D | null;
}

let addonSlot: FusedAddon | null | undefined;
function fusedAddon(): FusedAddon | null {
  if (addonSlot === undefined) {
    const { addon } = loadAddon();
    const fns = addon as unknown as Partial<FusedAddon> | null;
    const all = fns && (['fusedActNormForward', 'fusedActNormBackward', 'fusedActLayerNormForward', 'fusedActLayerNormBackward', 'addInto', 'avgPoolForward', 'avgPoolBackward'] as const).every((k) => typeof fns[k] === 'function');
    addonSlot = all ? (fns as FusedAddon) : null;
  }
  return addonSlot;
}

/**
 * Whether the model should use the fused op: the active backend is tfjs's cpu backend with the native kernels
 * installed (not the plain cpu / tensorflow backends, not inside withJsKernels), the addon has the fused functions,
 * and CONVMIXER_FUSED is not '0' (read on every call, so it can be switched at run time).
 */
export function nativeFusedAvailable(): boolean {
  if (process.env.CONVMIXER_FUSED === '0') return false;
  if (tf.getBackend() !== 'cpu') return false;
  const names = nativeKernelNames();
  const probe = names.includes('Conv2D') ? 'Conv2D' : names[0];
  if (probe === undefined) return false;
  const installed = tf.getKernel(probe, 'cpu');
  if (!installed || installed.kernelFunc === originalKernel(probe)) return false;
  return fusedAddon() !== null;
}

/** The cpu backend's own array for a float32 tensor (no copy). */
function valuesOf(t: tf.Tensor): Float32Array {
  return float32Of(tf.backend() as unknown as CpuBackend, t) ?? (t.dataSync() as Float32Array);
}

/** A tensor over `values` without copying them (the cpu backend keeps the array it is given). */
function tensorOver<R extends tf.Rank>(values: Float32Array, shape: number[]): tf.Tensor<R> {
  return tf.engine().makeTensor(values, shape, 'float32') as tf.Tensor<R>;
}

/** running = (1 - m) * running + m * batch, in float32 like the plain path's tf ops. */
function updateRunning(running: tf.Variable, batch: Float32Array, momentum: number, factor = 1): void {
  const old = valuesOf(running);
  const next = new Float32Array(old.length);
  for (let c = 0; c < old.length; c++) next[c] = Math.fround(old[c]! * (1 - momentum)) + Math.fround(Math.fround(batch[c]! * factor) * momentum);
  running.assign(tensorOver<tf.Rank.R1>(next, [old.length]));
}

interface TailSaved { mean: Float32Array; invstd: Float32Array }

/** Native forward of BN(act(z + bias)) (+ residual) and, in training, the running-statistics update. */
function tailForward(addon: FusedAddon, z: tf.Tensor, bias: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, residual: tf.Tensor | null,
  o: FusedActNormOptions): TailSaved & { y: Float32Array } {
  const c = z.shape[3]!, m = z.size / c;
  const y = allocOutput(m * c);
  const mean = new Float32Array(c), variance = new Float32Array(c), invstd = new Float32Array(c);
  if (!o.training) {
    mean.set(valuesOf(o.runningMean));
    variance.set(valuesOf(o.runningVar));
  }
  addon.fusedActNormForward(valuesOf(z), valuesOf(bias), valuesOf(gamma), valuesOf(beta), residual ? valuesOf(residual) : null,
    y, mean, variance, invstd, m, c, o.activation === 'relu', o.training, o.eps);
  if (o.training) {
    updateRunning(o.runningMean, mean, o.momentum);
    updateRunning(o.runningVar, variance, o.momentum, m > 1 ? m / (m - 1) : 1);
  }
  return { y, mean, invstd };
}

/** Native backward: [dz, dbias, dgamma, dbeta] as tensors (the residual's gradient is dy itself). */
function tailBackward(addon: FusedAddon, dy: tf.Tensor, z: tf.Tensor, bias: tf.Tensor, gamma: tf.Tensor, mean: tf.Tensor, invstd: tf.Tensor,
  o: FusedActNormOptions): tf.Tensor[] {
  const c = z.shape[3]!, m = z.size / c;
  const dz = allocOutput(m * c);
  const dbias = new Float32Array(c), dgamma = new Float32Array(c), dbeta = new Float32Array(c);
  addon.fusedActNormBackward(valuesOf(dy), valuesOf(z), valuesOf(bias), valuesOf(gamma), valuesOf(mean), valuesOf(invstd),
    dz, dbias, dgamma, dbeta, m, c, o.activation === 'relu', o.training);
  return [tensorOver(dz, z.shape), tensorOver(dbias, [c]), tensorOver(dgamma, [c]), tensorOver(dbeta, [c])];
}

function requireAddon(): FusedAddon {
  const addon = fusedAddon();
  if (!addon) throw new Error('fused ops: the native addon has no fused functions (npm run build:native)');
  return addon;
}

/**
 * BatchNorm2d(act(z + bias)) (+ residual) over NHWC z, per-channel statistics over N, H, W, as PyTorch computes it
 * (see ops.ts#batchNorm); the native engine must be active (nativeFusedAvailable()).
 */
export function fusedActNorm(z: tf.Tensor4D, bias: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D, o: FusedActNormOptions): tf.Tensor4D {
  const addon = requireAddon();
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [zt, bt, gt, betat, rt] = args.slice(0, -1) as tf.Tensor[];
    const { y, mean, invstd } = tailForward(addon, zt!, bt!, gt!, betat!, rt ?? null, o);
    const c = z.shape[3];
    save([zt!, bt!, gt!, tensorOver(mean, [c]), tensorOver(invstd, [c])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sz, sb, sg, smean, sinvstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const grads = tailBackward(addon, dy, sz, sb, sg, smean, sinvstd, o);
      if (rt) grads.push(dy.clone());
      return grads;
    };
    return { value: tensorOver<tf.Rank.R4>(y, z.shape), gradFunc };
  });
  return (o.residual ? op(z, bias, gamma, beta, o.residual) : op(z, bias, gamma, beta)) as tf.Tensor4D;
}

export interface FusedActLayerNormOptions {
  activation: 'gelu' | 'relu';
  eps: number;
  /** Added after the norm (ConvMixer's residual); its gradient is dy. */
  residual?: tf.Tensor4D | null;
}

/**
 * LayerNorm(act(z + bias)) (+ residual) over NHWC z, statistics per pixel over its C channels, per-channel affine (the
 * plain-tfjs reference is ops.ts#layerNormChannels); one native call forward, one backward. There are no running
 * statistics, so training and eval are the same op.
 */
export function fusedActLayerNorm(z: tf.Tensor4D, bias: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D, o: FusedActLayerNormOptions): tf.Tensor4D {
  const addon = requireAddon();
  const relu = o.activation === 'relu';
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [zt, bt, gt, betat, rt] = args.slice(0, -1) as tf.Tensor[];
    const c = z.shape[3], m = z.size / c;
    const y = allocOutput(m * c), mean = new Float32Array(m), invstd = new Float32Array(m);
    addon.fusedActLayerNormForward(valuesOf(zt!), valuesOf(bt!), valuesOf(gt!), valuesOf(betat!), rt ? valuesOf(rt) : null,
      y, mean, invstd, m, c, relu, o.eps);
    save([zt!, bt!, gt!, tensorOver(mean, [m]), tensorOver(invstd, [m])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sz, sb, sg, smean, sinvstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const dz = allocOutput(m * c), dbias = new Float32Array(c), dgamma = new Float32Array(c), dbeta = new Float32Array(c);
      addon.fusedActLayerNormBackward(valuesOf(dy), valuesOf(sz), valuesOf(sb), valuesOf(sg), valuesOf(smean), valuesOf(sinvstd),
        dz, dbias, dgamma, dbeta, m, c, relu);
      const grads = [tensorOver(dz, z.shape), tensorOver(dbias, [c]), tensorOver(dgamma, [c]), tensorOver(dbeta, [c])];
      if (rt) grads.push(dy.clone());
      return grads;
    };
    return { value: tensorOver<tf.Rank.R4>(y, z.shape), gradFunc };
  });
  return (o.residual ? op(z, bias, gamma, beta, o.residual) : op(z, bias, gamma, beta)) as tf.Tensor4D;
}

// Stride 1, 'same' padding: ConvMixer's depthwise conv (tfjs pads like PyTorch's padding='same', also for even k).
const DEPTHWISE_ATTRS = { strides: 1, pad: 'same', dilations: [1, 1], dimRoundingMode: undefined };

/**
 * ConvMixer's depthwise half: BN(act(depthwiseConv2d(h, filter, 'same') + bias)) + (residual ? h : 0), as one op whose
 * backward joins the residual's gradient into the conv's input gradient natively (tfjs's tape would add the two with
 * a JS Add over the whole activation). The conv itself runs through tfjs's kernels (the native depthwise ones).
 */
export function fusedDepthwiseBlock(h: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D,
  o: Omit<FusedActNormOptions, 'residual'> & { residual: boolean }): tf.Tensor4D {
  const addon = requireAddon();
  const tail: FusedActNormOptions = { ...o, residual: null };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [ht, ft, bt, gt, betat] = args.slice(0, -1) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor];
    const z = tf.depthwiseConv2d(ht, ft, 1, 'same');
    const { y, mean, invstd } = tailForward(addon, z, bt, gt, betat, o.residual ? ht : null, tail);
    const c = h.shape[3];
    save([ht, ft, z, bt, gt, tensorOver(mean, [c]), tensorOver(invstd, [c])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sh, sf, sz, sb, sg, smean, sinvstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const [dz, dbias, dgamma, dbeta] = tailBackward(addon, dy, sz, sb, sg, smean, sinvstd, tail) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const engine = tf.engine();
      const dh = engine.runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dz, filter: sf },
        { ...DEPTHWISE_ATTRS, inputShape: sh.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const dfilter = engine.runKernel('DepthwiseConv2dNativeBackpropFilter', { x: sh, dy: dz },
        { ...DEPTHWISE_ATTRS, filterShape: sf.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      if (o.residual) addon.addInto(valuesOf(dh), valuesOf(dy)); // dh is this call's fresh output: safe to update in place
      return [dh, dfilter, dbias, dgamma, dbeta];
    };
    return { value: tensorOver<tf.Rank.R4>(y, h.shape), gradFunc };
  });
  return op(h, filter, bias, gamma, beta) as tf.Tensor4D;
}

/** Mean over H and W of NHWC x (global average pooling), native forward and backward. */
export function fusedGlobalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  const addon = requireAddon();
  const [n, hgt, wid, c] = x.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xt = args[0] as tf.Tensor;
    const y = new Float32Array(n * c);
    addon.avgPoolForward(valuesOf(xt), y, n, hgt * wid, c);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dx = allocOutput(n * hgt * wid * c);
      addon.avgPoolBackward(valuesOf(dy), dx, n, hgt * wid, c);
      return [tensorOver(dx, x.shape)];
    };
    return { value: tensorOver<tf.Rank.R2>(y, [n, c]), gradFunc };
  });
  return op(x) as tf.Tensor2D;
}
