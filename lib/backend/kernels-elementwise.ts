// Native elementwise / BatchNorm / reduction kernels for tfjs's `cpu` backend (native/elementwise.cc), the ones a
// ConvMixer training step spends its time in once convolutions are native (tf.profile: broadcasting Add/Mul/Sub/
// RealDiv, Sum/Mean over N,H,W or H,W, Erf/Exp/Neg/Square of GELU and its gradient, FusedBatchNorm).
// Float32 only; other dtypes, reductions over non-adjacent axes and BatchNorm parameters that are neither per
// channel nor scalar go to the saved JS kernel.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type CpuBackend, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (B1's NativeAddon is a superset). */
export interface ElementwiseAddon {
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null,
    out: Float32Array, channels: number, eps: number): void;
  reduce(x: Float32Array, out: Float32Array, outer: number, reduce: number, inner: number, scale: number): void;
}

// Op codes of native/elementwise.cc.
const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4 } as const;
const UNARY_OPS = { Neg: 0, Square: 1, Exp: 2, Erf: 3, Sqrt: 4, Rsqrt: 5, Abs: 7, Reciprocal: 8 } as const;
const MAX_RANK = 6;

export const ELEMENTWISE_KERNELS = [...Object.keys(BINARY_OPS), ...Object.keys(UNARY_OPS), 'FusedBatchNorm', 'Sum', 'Mean', 'Tile'];
const ONE = Float32Array.of(1);

export interface BroadcastPlan { outShape: number[]; dims: Int32Array; aStrides: Int32Array; bStrides: Int32Array }

/**
 * The broadcast of a and b as a short strided loop nest: size-1 output dims dropped, adjacent dims merged while
 * each input is either walked along both or repeated along both; stride 0 means repeated. Null when the merged
 * rank exceeds what the native loop handles (then the JS kernel runs).
 */
export function broadcastPlan(aShape: number[], bShape: number[]): BroadcastPlan | null {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = outShape.length;
  const pad = (s: number[]) => [...new Array(r - s.length).fill(1), ...s];
  const a = pad(aShape), b = pad(bShape);
  const merged: { n: number; ra: boolean; rb: boolean }[] = [];
  for (let d = 0; d < r; d++) {
    if (outShape[d] === 1) continue;
    const ra = a[d] === 1, rb = b[d] === 1;
    const last = merged[merged.length - 1];
    if (last && last.ra === ra && last.rb === rb) last.n *= outShape[d];
    else merged.push({ n: outShape[d], ra, rb });
  }
  if (merged.length === 0) merged.push({ n: 1, ra: false, rb: false });
  if (merged.length > MAX_RANK) return null;
  const k = merged.length;
  const dims = new Int32Array(k), aStrides = new Int32Array(k), bStrides = new Int32Array(k);
  let sa = 1, sb = 1;
  for (let d = k - 1; d >= 0; d--) {
    const { n, ra, rb } = merged[d];
    dims[d] = n;
    aStrides[d] = ra ? 0 : sa;
    bStrides[d] = rb ? 0 : sb;
    if (!ra) sa *= n;
    if (!rb) sb *= n;
  }
  return { outShape, dims, aStrides, bStrides };
}

/** Sum/Mean over `axes` as [outer, reduce, inner] when the axes are one adjacent block; null otherwise. */
export function reducePlan(shape: number[], axis: number | number[] | null | undefined, keepDims: boolean):
  { outer: number; reduce: number; inner: number; outShape: number[] } | null {
  const axes = [...new Set(tf.util.parseAxisParam(axis ?? shape.map((_, d) => d), shape))].sort((p, q) => p - q);
  if (axes.length === 0 || axes.some((ax, i) => ax !== axes[0] + i)) return null;
  const first = axes[0], last = axes[axes.length - 1];
  const outer = size(shape.slice(0, first)), reduce = size(shape.slice(first, last + 1)), inner = size(shape.slice(last + 1));
  if (outer * reduce * inner === 0) return null;
  const outShape = keepDims ? shape.map((n, d) => (d >= first && d <= last ? 1 : n)) : shape.filter((_, d) => d < first || d > last);
  return { outer, reduce, inner, outShape };
}

function makeKernels(addon: ElementwiseAddon, original: (name: string) => KernelFunc | undefined): Record<string, KernelFunc> {
  const kernels: Record<string, KernelFunc> = {};

  for (const [name, op] of Object.entries(BINARY_OPS)) {
    const js = fallback(original, name);
    kernels[name] = (args) => {
      const backend = args.backend as CpuBackend;
      const { a, b } = args.inputs as Record<'a' | 'b', TensorInfo>;
      const av = float32Of(backend, a), bv = float32Of(backend, b);
      const plan = av && bv ? broadcastPlan(a.shape, b.shape) : null;
      if (!av || !bv || !plan || size(plan.outShape) === 0) return js(args);
      const out = allocOutput(size(plan.outShape));
      addon.binary(op, av, bv, out, plan.dims, plan.aStrides, plan.bStrides);
      return backend.makeTensorInfo(plan.outShape, 'float32', out);
    };
  }

  for (const [name, op] of Object.entries(UNARY_OPS)) {
    const js = fallback(original, name);
    kernels[name] = (args) => {
      const backend = args.backend as CpuBackend;
      const { x } = args.inputs as Record<'x', TensorInfo>;
      const xv = float32Of(backend, x);
      if (!xv) return js(args);
      const out = allocOutput(xv.length);
      addon.unary(op, xv, out);
      return backend.makeTensorInfo([...x.shape], 'float32', out);
    };
  }

  const jsBatchNorm = fallback(original, 'FusedBatchNorm');
  kernels.FusedBatchNorm = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, mean, variance } = args.inputs as Record<'x' | 'mean' | 'variance', TensorInfo>;
    const { offset, scale } = args.inputs;
    const eps = (args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001;
    const xv = float32Of(backend, x), mv = float32Of(backend, mean), vv = float32Of(backend, variance);
    const ov = offset ? float32Of(backend, offset) : null, sv = scale ? float32Of(backend, scale) : null;
    const c = x.shape[x.shape.length - 1] ?? 1;
    const okLen = (v: Float32Array | null) => v === null || v.length === 1 || v.length === c;
    if (!xv || !mv || !vv || (offset && !ov) || (scale && !sv) || x.shape.length === 0 || c === 0 ||
        ![mv, vv, ov, sv].every(okLen)) return jsBatchNorm(args);
    const out = allocOutput(xv.length);
    addon.batchNorm(xv, mv, vv, ov, sv, out, c, eps);
    return backend.makeTensorInfo([...x.shape], 'float32', out);
  };

  for (const name of ['Sum', 'Mean'] as const) {
    const js = fallback(original, name);
    kernels[name] = (args) => {
      const backend = args.backend as CpuBackend;
      const { x } = args.inputs as Record<'x', TensorInfo>;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const xv = float32Of(backend, x);
      const plan = xv ? reducePlan(x.shape, axis, keepDims) : null;
      if (!xv || !plan) return js(args);
      const out = allocOutput(plan.outer * plan.inner);
      addon.reduce(xv, out, plan.outer, plan.reduce, plan.inner, name === 'Mean' ? 1 / plan.reduce : 1);
      return backend.makeTensorInfo(plan.outShape, 'float32', out);
    };
  }

  // Tile that only repeats size-1 dims (tfjs's BatchNorm gradient tiles [1,1,1,C] to NHWC) is a broadcast:
  // x * 1 with the ones repeated everywhere (x * 1 keeps -0 and NaN, unlike x + 0).
  const jsTile = fallback(original, 'Tile');
  kernels.Tile = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { reps } = args.attrs as { reps: number[] };
    const xv = float32Of(backend, x);
    const outShape = x.shape.map((n, d) => n * (reps[d] ?? 1));
    const plan = xv && reps.length === x.shape.length && x.shape.every((n, d) => n === 1 || reps[d] === 1)
      ? broadcastPlan(x.shape, outShape) : null;
    if (!xv || !plan || size(outShape) === 0) return jsTile(args);
    const out = allocOutput(size(outShape));
    addon.binary(BINARY_OPS.Multiply, xv, ONE, out, plan.dims, plan.aStrides, new Int32Array(plan.dims.length));
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  return kernels;
}

/** Replaces tfjs's cpu elementwise / BatchNorm / Sum / Mean kernels with the native ones; returns their names. */
export function registerElementwiseKernels(addon: ElementwiseAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
