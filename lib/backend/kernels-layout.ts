// Native layout kernels for tfjs's `cpu` backend (native/layout.cc): Transpose (any permutation), DepthToSpace,
// Concat (any axis), Slice and SplitV (Concat's gradient), PadV2 (Slice's gradient). Each is one or more strided
// copies, planned here: size-1 dimensions dropped and neighbours merged while both sides stay affine, so an NHWC
// channel concat or a pixel-shuffle gradient becomes a few long memcpy runs. Values are only moved, so results are
// bit-identical to the JS kernels. Non-float32 tensors go to the saved JS kernel, and so do slices of one contiguous
// range (the JS kernel returns a zero-copy view for those, which no copy can beat) and NCHW depth-to-space.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type CpuBackend, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (lib/backend/native.ts's NativeAddon is a superset). */
export interface LayoutAddon {
  /** dst[dstOffset + i . dstStrides] = src[srcOffset + i . srcStrides] for every index i < dims (rank 1-8). */
  copyStrided(src: Float32Array, srcOffset: number, srcStrides: Int32Array, dst: Float32Array, dstOffset: number, dstStrides: Int32Array,
    dims: Int32Array): void;
  fill(out: Float32Array, value: number): void;
}

export const LAYOUT_KERNELS = ['Transpose', 'DepthToSpace', 'Concat', 'Slice', 'SplitV', 'PadV2'] as const;
const MAX_RANK = 8;

/** Row-major strides of a contiguous array of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

export interface StridedPlan { dims: Int32Array; src: Int32Array; dst: Int32Array }

/**
 * A walk over `dims` reading with `src` strides and writing with `dst` strides, simplified: size-1 dimensions
 * dropped, and a dimension merged into its outer neighbour when both sides step through them as one (outer stride =
 * inner stride x inner size). Null when more than the native rank limit remains.
 */
export function planStrided(dims: readonly number[], src: readonly number[], dst: readonly number[]): StridedPlan | null {
  const kept: { n: number; s: number; d: number }[] = [];
  for (let k = 0; k < dims.length; k++) {
    const n = dims[k]!;
    if (n === 1) continue;
    const last = kept[kept.length - 1];
    if (last && last.s === src[k]! * n && last.d === dst[k]! * n) {
      last.n *= n;
      last.s = src[k]!;
      last.d = dst[k]!;
    } else {
      kept.push({ n, s: src[k]!, d: dst[k]! });
    }
  }
  if (kept.length === 0) kept.push({ n: 1, s: 1, d: 1 });
  if (kept.length > MAX_RANK) return null;
  return { dims: Int32Array.from(kept, (e) => e.n), src: Int32Array.from(kept, (e) => e.s), dst: Int32Array.from(kept, (e) => e.d) };
}

/** dst (contiguous, `outShape`) = the walk of src over outShape with `srcStrides` from `srcOffset`; false if unplannable. */
function gather(addon: LayoutAddon, src: Float32Array, srcOffset: number, srcStrides: number[], dst: Float32Array, dstOffset: number,
  dstStrides: number[], dims: number[]): boolean {
  const plan = planStrided(dims, srcStrides, dstStrides);
  if (!plan) return false;
  addon.copyStrided(src, srcOffset, plan.src, dst, dstOffset, plan.dst, plan.dims);
  return true;
}

/** Whether every input is float32 with the backend's own Float32Array. */
function allFloat32(backend: CpuBackend, ts: TensorInfo[]): Float32Array[] | null {
  const vs = ts.map((t) => float32Of(backend, t));
  return vs.every((v) => v !== null) ? (vs as Float32Array[]) : null;
}

function makeKernels(addon: LayoutAddon, original: (name: string) => KernelFunc | undefined): Record<(typeof LAYOUT_KERNELS)[number], KernelFunc> {
  const js = Object.fromEntries(LAYOUT_KERNELS.map((n) => [n, fallback(original, n)])) as Record<(typeof LAYOUT_KERNELS)[number], KernelFunc>;
  const jsSlice = js.Slice;

  const transpose: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { perm } = args.attrs as unknown as { perm: number[] };
    const xv = float32Of(backend, x);
    if (!xv || perm.length !== x.shape.length || size(x.shape) === 0) return js.Transpose(args);
    const outShape = perm.map((p) => x.shape[p]!);
    const xStrides = contiguousStrides(x.shape);
    const out = allocOutput(size(outShape));
    if (!gather(addon, xv, 0, perm.map((p) => xStrides[p]!), out, 0, contiguousStrides(outShape), outShape)) return js.Transpose(args);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  // Output pixel (h*b + i, w*b + j) channel d is input (h, w) channel (i*b + j)*C' + d: the output, viewed as
  // [N, H, b, W, b, C'], reads the input viewed as [N, H, W, b, b, C'] with axes 2 and 3 swapped.
  const depthToSpace: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { blockSize: b, dataFormat } = args.attrs as unknown as { blockSize: number; dataFormat: string };
    const xv = float32Of(backend, x);
    if (!xv || dataFormat !== 'NHWC' || x.shape.length !== 4 || size(x.shape) === 0 || !(b >= 1) || x.shape[3]! % (b * b) !== 0) {
      return js.DepthToSpace(args);
    }
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const cOut = c / (b * b);
    const dims = [n, h, b, w, b, cOut];
    const out = allocOutput(size(x.shape));
    const src = [h * w * c, w * c, b * cOut, c, cOut, 1];
    if (!gather(addon, xv, 0, src, out, 0, contiguousStrides(dims), dims)) return js.DepthToSpace(args);
    return backend.makeTensorInfo([n, h * b, w * b, cOut], 'float32', out);
  };

  const concat: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const inputs = (args.inputs as unknown as TensorInfo[]).filter((t) => size(t.shape) > 0);
    const { axis } = args.attrs as unknown as { axis: number | number[] };
    const values = inputs.length >= 2 ? allFloat32(backend, inputs) : null;
    if (!values) return js.Concat(args);
    const ax = tf.util.parseAxisParam(axis, inputs[0]!.shape)[0]!;
    tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), ax);
    const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), ax);
    const outStrides = contiguousStrides(outShape);
    const plans = inputs.map((t) => planStrided(t.shape, contiguousStrides(t.shape), outStrides));
    if (plans.some((p) => p === null)) return js.Concat(args);
    const out = allocOutput(size(outShape)); // the inputs together cover every element
    let at = 0;
    inputs.forEach((t, k) => {
      const p = plans[k]!;
      addon.copyStrided(values[k]!, 0, p.src, out, at * outStrides[ax]!, p.dst, p.dims);
      at += t.shape[ax]!;
    });
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  /**
   * x[begin : begin + size] as a new tensor: the JS kernel's zero-copy view when contiguous, else a native copy.
   * Callers check x's rank <= MAX_RANK first, so the copy always has a plan.
   */
  const sliceOf = (backend: CpuBackend, x: TensorInfo, xv: Float32Array, begin: number[], sz: number[]): TensorInfo => {
    if (tf.slice_util.isSliceContinous(x.shape, begin, sz) || size(sz) === 0) {
      return jsSlice({ inputs: { x }, backend: backend as unknown as tf.KernelBackend, attrs: { begin, size: sz } }) as TensorInfo;
    }
    const xStrides = contiguousStrides(x.shape);
    const offset = begin.reduce((a, b, d) => a + b * xStrides[d]!, 0);
    const out = allocOutput(size(sz));
    if (!gather(addon, xv, offset, xStrides, out, 0, contiguousStrides(sz), sz)) throw new Error(`native Slice: no plan for rank ${sz.length}`);
    return backend.makeTensorInfo(sz, 'float32', out);
  };

  const slice: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { begin, size: sz } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const xv = float32Of(backend, x);
    if (!xv || x.shape.length > MAX_RANK) return js.Slice(args);
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, sz);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, b, s);
    return sliceOf(backend, x, xv, b, s);
  };

  const splitV: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const xv = float32Of(backend, x);
    if (!xv || x.shape.length > MAX_RANK) return js.SplitV(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    const pieces: TensorInfo[] = [];
    for (const s of sizes) {
      const sz = [...x.shape];
      sz[ax] = s;
      pieces.push(sliceOf(backend, x, xv, [...begin], sz));
      begin[ax]! += s;
    }
    return pieces;
  };

  const padV2: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const { paddings, constantValue } = args.attrs as unknown as { paddings: [number, number][]; constantValue: number };
    const xv = float32Of(backend, x);
    if (!xv || paddings.length !== x.shape.length || paddings.some(([a, b]) => a < 0 || b < 0)) return js.PadV2(args);
    const outShape = x.shape.map((n, d) => paddings[d]![0] + n + paddings[d]![1]);
    const outStrides = contiguousStrides(outShape);
    const plan = planStrided(x.shape, contiguousStrides(x.shape), outStrides);
    if (!plan || size(outShape) === 0) return js.PadV2(args);
    const out = allocOutput(size(outShape));
    addon.fill(out, constantValue);
    const offset = paddings.reduce((a, [before], d) => a + before * outStrides[d]!, 0);
    if (size(x.shape) > 0) addon.copyStrided(xv, 0, plan.src, out, offset, plan.dst, plan.dims);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  return { Transpose: transpose, DepthToSpace: depthToSpace, Concat: concat, Slice: slice, SplitV: splitV, PadV2: padV2 };
}

/** Replaces tfjs's cpu layout kernels with the native ones; returns the kernel names it replaced. */
export function registerLayoutKernels(addon: LayoutAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
