// Native GEMM-family kernels for tfjs's `cpu` backend (native/gemm.cc): Conv2D, FusedConv2D, their two backprops,
// BatchMatMul (what tf.matMul runs) and _FusedMatMul. Shapes and padding come from tfjs's own computeConv2DInfo,
// so 'same' / 'valid' / explicit / numeric padding and dimRoundingMode match the JS kernels exactly. Cases the
// native code does not cover (NCHW, dilations > 1, non-float32, activations other than linear/relu, prelu,
// biases that are not per-channel or scalar, matmul batch broadcasting other than "equal or 1") go to the saved
// JS kernel.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type ConvAttrs, type CpuBackend, dilationsAreOne, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (lib/backend/native.ts's NativeAddon is a superset). */
export interface GemmAddon {
  /** c[m x n] = (accumulate ? c : 0) + op(a) * op(b); dense row-major. */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** Batched c = op(a) op(b) (a batch of 1 broadcasts), then + bias (length n, or 1 = scalar), then relu if act = 1. */
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batchA: number, batchB: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, bias: Float32Array | null, biasLen: number, act: number): void;
  conv2d(x: Float32Array, w: Float32Array, y: Float32Array, bias: Float32Array | null, biasLen: number, act: number, ...shape: number[]): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, ...shape: number[]): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, ...shape: number[]): void;
  /** Arithmetic of every function above: 0 fp32, 1 bf16 operands with fp32 accumulation, 2 the same on the portable
   * kernel (tests compare it with the AVX512-BF16 one). Absent from addons built before bf16 support. */
  setGemmPrecision?(mode: 0 | 1 | 2): number;
  /** The kernel bf16 mode runs on: 'avx512_bf16' where the CPU has it, else 'portable'. */
  bf16Kernel?: string;
}

type Shape4 = [number, number, number, number];

export const GEMM_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul'] as const;

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

function convSupported(attrs: ConvAttrs, xShape: readonly number[], filterShape: readonly number[]): boolean {
  return xShape.length === 4 && filterShape.length === 4 && dilationsAreOne(attrs.dilations) && attrs.dataFormat !== 'NCHW';
}

/** tfjs's conv geometry for an NHWC input and [kh, kw, inC, outC] filter, as the 13 ints native/gemm.cc expects. */
function convShape(xShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs): { shape: number[]; outShape: number[] } {
  const i = tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const shape = [i.batchSize, i.inHeight, i.inWidth, i.inChannels, i.outHeight, i.outWidth, i.outChannels,
    i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, i.padInfo.top, i.padInfo.left];
  return { shape, outShape: i.outShape };
}

/** A bias the native epilogue can add: one value per output channel (any shape [..1.., n]) or one scalar. */
function fusableBias(backend: CpuBackend, bias: TensorInfo | undefined, n: number): { values: Float32Array | null; ok: boolean } {
  if (!bias) return { values: null, ok: true };
  const v = float32Of(backend, bias);
  const perChannel = v !== null && v.length === n && bias.shape[bias.shape.length - 1] === n;
  const scalar = v !== null && v.length === 1;
  return { values: v, ok: perChannel || scalar };
}

function makeKernels(addon: GemmAddon, original: (name: string) => KernelFunc | undefined): Record<(typeof GEMM_KERNELS)[number], KernelFunc> {
  const js = Object.fromEntries(GEMM_KERNELS.map((n) => [n, fallback(original, n)])) as Record<(typeof GEMM_KERNELS)[number], KernelFunc>;

  // Conv2D and FusedConv2D share this; `bias`/`activation` only for the fused one.
  const convForward = (name: 'Conv2D' | 'FusedConv2D'): KernelFunc => (args) => {
    const backend = args.backend as CpuBackend;
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
    const act = ACTIVATIONS[attrs.activation ?? 'linear'];
    const xv = float32Of(backend, x), wv = float32Of(backend, filter);
    if (!x || !filter || !xv || !wv || !convSupported(attrs, x.shape, filter.shape) || act === undefined || preluActivationWeights) return js[name](args);
    const b = fusableBias(backend, bias, filter.shape[3]!);
    if (!b.ok) return js[name](args);
    const { shape, outShape } = convShape(x.shape, filter.shape, attrs);
    const y = allocOutput(size(outShape)); // Sgemm zero-initializes (accumulate = false)
    addon.conv2d(xv, wv, y, b.values, b.values?.length ?? 0, act, ...shape);
    return backend.makeTensorInfo(outShape, 'float32', y);
  };

  const backpropInput: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { dy, filter } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
    const dyv = float32Of(backend, dy), wv = float32Of(backend, filter);
    if (!filter || !dyv || !wv || !convSupported(attrs, attrs.inputShape, filter.shape)) return js.Conv2DBackpropInput(args);
    const { shape } = convShape(attrs.inputShape, filter.shape, attrs);
    const dx = allocOutput(size(attrs.inputShape)); // native code zero-fills each dx row first
    addon.conv2dBackpropInput(dyv, wv, dx, ...shape);
    return backend.makeTensorInfo([...attrs.inputShape], 'float32', dx);
  };

  const backpropFilter: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, dy } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
    const xv = float32Of(backend, x), dyv = float32Of(backend, dy);
    if (!x || !xv || !dyv || !convSupported(attrs, x.shape, attrs.filterShape)) return js.Conv2DBackpropFilter(args);
    const { shape } = convShape(x.shape, attrs.filterShape, attrs);
    const dw = new Float32Array(size(attrs.filterShape));
    addon.conv2dBackpropFilter(xv, dyv, dw, ...shape);
    return backend.makeTensorInfo([...attrs.filterShape], 'float32', dw);
  };

  // BatchMatMul and _FusedMatMul: batch dims of a and b must be equal, or one side's must all be 1 (broadcast).
  const matMul = (name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc => (args) => {
    const backend = args.backend as CpuBackend;
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string };
    const act = ACTIVATIONS[attrs.activation ?? 'linear'];
    const av = float32Of(backend, a), bv = float32Of(backend, b);
    if (!a || !b || !av || !bv || a.shape.length < 2 || b.shape.length < 2 || act === undefined || preluActivationWeights) return js[name](args);
    const ra = a.shape.length, rb = b.shape.length;
    const m = attrs.transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = attrs.transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = attrs.transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = attrs.transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
    const batchA = size(outerA), batchB = size(outerB);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (k !== kb || !(sameOuter || batchA === 1 || batchB === 1)) return js[name](args);
    const fb = fusableBias(backend, bias, n);
    if (!fb.ok) return js[name](args);
    const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB), m, n];
    const c = new Float32Array(size(outShape));
    addon.matmul(av, bv, c, batchA, batchB, m, n, k, attrs.transposeA, attrs.transposeB, fb.values, fb.values?.length ?? 0, act);
    return backend.makeTensorInfo(outShape, 'float32', c);
  };

  return {
    Conv2D: convForward('Conv2D'),
    FusedConv2D: convForward('FusedConv2D'),
    Conv2DBackpropInput: backpropInput,
    Conv2DBackpropFilter: backpropFilter,
    BatchMatMul: matMul('BatchMatMul'),
    _FusedMatMul: matMul('_FusedMatMul'),
  };
}

/** Replaces tfjs's cpu conv2d / matmul kernels with the native ones; returns the kernel names it replaced. */
export function registerGemmKernels(addon: GemmAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
