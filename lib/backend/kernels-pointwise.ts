// Native ReLU, Step, LeakyReLU, AddN, Log, Max (over trailing axes) and Softmax (last axis) kernels for tfjs's `cpu` backend (native/pointwise.cc).
// The ReLU gradient tfjs registers is dy * cast(step(x), 'float32'): with Step native here, Multiply native in
// kernels-elementwise.ts and a float32 -> float32 Cast being a no-copy identity, the whole backward path runs natively
// without touching tfjs's gradient registry (which is global, shared by every backend, and would need a new kernel
// name on each of them). LeakyReLU's tfjs gradient (Greater, Select) is replaced where it is used by ops.ts leakyRelu,
// a custom gradient dy * step(x, alpha) on the same native kernels. AddN is what tf.addN runs. Log and Max are the JS kernels left in a per-pixel softmax
// cross-entropy (logSoftmax: max over the classes, log of the summed exponentials).
// Non-float32 inputs, and Max over axes that are not the trailing ones, go to the saved JS kernel.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type CpuBackend, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (lib/backend/native.ts's NativeAddon is a superset). */
export interface PointwiseAddon {
  relu(x: Float32Array, out: Float32Array): void;
  /** out = NaN for NaN, 1 for x > 0, alpha otherwise. */
  step(x: Float32Array, out: Float32Array, alpha: number): void;
  /** out = alpha * x for x < 0, else x (NaN and -0 pass through), as tfjs's cpu LeakyRelu. */
  leakyRelu(x: Float32Array, out: Float32Array, alpha: number): void;
  /** out = sum of the inputs (all of out's length), in order. */
  addN(inputs: Float32Array[], out: Float32Array): void;
  log(x: Float32Array, out: Float32Array): void;
  /** out[r] = max of row r of x viewed as [rows, n] (NaN if the row has a NaN). */
  maxRows(x: Float32Array, out: Float32Array, rows: number, n: number): void;
  /** Per row of x viewed as [rows, n]: exp(x - max) / sum, as tfjs's cpu Softmax over the last axis. */
  softmaxRows(x: Float32Array, out: Float32Array, rows: number, n: number): void;
}

export const POINTWISE_KERNELS = ['Relu', 'Step', 'LeakyRelu', 'AddN', 'Log', 'Max', 'Softmax'] as const;

function makeKernels(addon: PointwiseAddon, original: (name: string) => KernelFunc | undefined): Record<(typeof POINTWISE_KERNELS)[number], KernelFunc> {
  const js = Object.fromEntries(POINTWISE_KERNELS.map((n) => [n, fallback(original, n)])) as Record<(typeof POINTWISE_KERNELS)[number], KernelFunc>;

  const relu: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const xv = float32Of(backend, x);
    if (!xv) return js.Relu(args);
    const out = allocOutput(xv.length);
    addon.relu(xv, out);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };

  const step: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const alpha = (args.attrs as { alpha?: number } | undefined)?.alpha ?? 0;
    const xv = float32Of(backend, x);
    if (!xv) return js.Step(args);
    const out = allocOutput(xv.length);
    addon.step(xv, out, alpha);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };

  const leakyRelu: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const alpha = (args.attrs as { alpha?: number } | undefined)?.alpha ?? 0.2;
    const xv = float32Of(backend, x);
    if (!xv) return js.LeakyRelu(args);
    const out = allocOutput(xv.length);
    addon.leakyRelu(xv, out, alpha);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };

  const addN: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const inputs = args.inputs as unknown as TensorInfo[];
    const values = inputs.map((t) => float32Of(backend, t));
    if (inputs.length === 0 || values.some((v) => v === null || v.length !== values[0]!.length)) return js.AddN(args);
    const out = allocOutput(values[0]!.length);
    addon.addN(values as Float32Array[], out);
    return backend.makeTensorInfo([...inputs[0]!.shape], 'float32', out);
  };

  const log: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const xv = float32Of(backend, x);
    if (!xv) return js.Log(args);
    const out = allocOutput(xv.length);
    addon.log(xv, out);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };

  const max: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { reductionIndices, keepDims } = args.attrs as unknown as { reductionIndices: number | number[]; keepDims: boolean };
    const xv = float32Of(backend, x);
    if (!xv || x.shape.length === 0) return js.Max(args);
    const axes = tf.util.parseAxisParam(reductionIndices, x.shape);
    const rank = x.shape.length;
    // Only a trailing block of axes (in any order): then each output is the max of one contiguous row.
    if (axes.length === 0 || !tf.backend_util.axesAreInnerMostDims([...axes].sort((a, b) => a - b), rank)) return js.Max(args);
    const [outShape, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const n = size(reduceShape), rows = size(outShape);
    if (n === 0 || rows === 0) return js.Max(args);
    const out = allocOutput(rows);
    addon.maxRows(xv, out, rows, n);
    return backend.makeTensorInfo(keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32', out);
  };

  // Softmax over the last axis (tf.softmax's default, and the only axis tfjs's cpu kernel accepts).
  const softmax: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { logits } = args.inputs as Record<'logits', TensorInfo>;
    const dim = (args.attrs as { dim?: number } | undefined)?.dim ?? -1;
    const rank = logits.shape.length;
    const xv = float32Of(backend, logits);
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return js.Softmax(args);
    const n = logits.shape[rank - 1]!, rows = n === 0 ? 0 : xv.length / n;
    if (rows === 0) return js.Softmax(args);
    const out = allocOutput(xv.length);
    addon.softmaxRows(xv, out, rows, n);
    return backend.makeTensorInfo([...logits.shape], 'float32', out);
  };

  return { Relu: relu, Step: step, LeakyRelu: leakyRelu, AddN: addN, Log: log, Max: max, Softmax: softmax };
}

/** Replaces tfjs's cpu Relu / Step / LeakyRelu / AddN / Log / Max / Softmax kernels with the native ones; returns the kernel names it replaced. */
export function registerPointwiseKernels(addon: PointwiseAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
