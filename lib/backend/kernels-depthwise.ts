// Native depthwise-convolution kernels for tfjs's `cpu` backend (native/depthwise.cc). Shapes and padding come
// from tfjs's own computeConv2DInfo, so 'same' / 'valid' / explicit / numeric padding and dimRoundingMode match
// the JS kernels exactly. Cases the native code does not cover (channel multiplier > 1, dilations > 1, NCHW,
// non-float32, activations other than linear/relu, scalar or prelu bias) go to the saved JS kernel.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type ConvAttrs, type CpuBackend, dilationsAreOne, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (B1's NativeAddon is a superset). */
export interface DepthwiseAddon {
  depthwiseForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, dims: Int32Array, relu: boolean): void;
  depthwiseBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, dims: Int32Array): void;
  depthwiseBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, dims: Int32Array): void;
}

export const DEPTHWISE_KERNELS = [
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2D',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
] as const;

/** tfjs's conv geometry for NHWC x and an [kh, kw, C, 1] filter, packed as native/depthwise.cc's `dims`. */
function convDims(xShape: number[], filterShape: number[], attrs: ConvAttrs): { dims: Int32Array; outShape: number[] } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true);
  const dims = Int32Array.from([info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth,
    info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left]);
  return { dims, outShape: info.outShape };
}

function supported(attrs: ConvAttrs, filterShape: number[]): boolean {
  return filterShape.length === 4 && filterShape[3] === 1 && dilationsAreOne(attrs.dilations) && attrs.dataFormat !== 'NCHW';
}

function makeKernels(addon: DepthwiseAddon, original: (name: string) => KernelFunc | undefined): Record<(typeof DEPTHWISE_KERNELS)[number], KernelFunc> {
  const js = {
    forward: fallback(original, 'DepthwiseConv2dNative'),
    fused: fallback(original, 'FusedDepthwiseConv2D'),
    input: fallback(original, 'DepthwiseConv2dNativeBackpropInput'),
    filter: fallback(original, 'DepthwiseConv2dNativeBackpropFilter'),
  };

  const forward: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, filter } = args.inputs as Record<'x' | 'filter', TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs;
    const xv = float32Of(backend, x), wv = float32Of(backend, filter);
    if (!xv || !wv || x.shape.length !== 4 || !supported(attrs, filter.shape)) return js.forward(args);
    const { dims, outShape } = convDims(x.shape, filter.shape, attrs);
    const y = allocOutput(size(outShape));
    addon.depthwiseForward(xv, wv, null, y, dims, false);
    return backend.makeTensorInfo(outShape, 'float32', y);
  };

  const fused: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, filter } = args.inputs as Record<'x' | 'filter', TensorInfo>;
    const { bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
    const activation = attrs.activation ?? 'linear';
    const xv = float32Of(backend, x), wv = float32Of(backend, filter);
    const channels = filter.shape[2];
    const bv = bias ? float32Of(backend, bias) : null;
    // A bias is fused only when it is one value per channel ([C], [1,1,1,C], ...); a scalar bias goes to JS.
    const biasOk = !bias || (bv !== null && bv.length === channels && bias.shape[bias.shape.length - 1] === channels);
    if (!xv || !wv || x.shape.length !== 4 || !supported(attrs, filter.shape) || !biasOk || preluActivationWeights ||
        (activation !== 'linear' && activation !== 'relu')) return js.fused(args);
    const { dims, outShape } = convDims(x.shape, filter.shape, attrs);
    const y = allocOutput(size(outShape));
    addon.depthwiseForward(xv, wv, bv, y, dims, activation === 'relu');
    return backend.makeTensorInfo(outShape, 'float32', y);
  };

  const backpropInput: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { dy, filter } = args.inputs as Record<'dy' | 'filter', TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    const dyv = float32Of(backend, dy), wv = float32Of(backend, filter);
    if (!dyv || !wv || !supported(attrs, filter.shape)) return js.input(args);
    const { dims } = convDims(attrs.inputShape, filter.shape, attrs);
    const dx = allocOutput(size(attrs.inputShape));
    addon.depthwiseBackpropInput(dyv, wv, dx, dims);
    return backend.makeTensorInfo([...attrs.inputShape], 'float32', dx);
  };

  const backpropFilter: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x, dy } = args.inputs as Record<'x' | 'dy', TensorInfo>;
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    const xv = float32Of(backend, x), dyv = float32Of(backend, dy);
    if (!xv || !dyv || x.shape.length !== 4 || !supported(attrs, attrs.filterShape)) return js.filter(args);
    const { dims } = convDims(x.shape, attrs.filterShape, attrs);
    const dw = allocOutput(size(attrs.filterShape));
    addon.depthwiseBackpropFilter(xv, dyv, dw, dims);
    return backend.makeTensorInfo([...attrs.filterShape], 'float32', dw);
  };

  return {
    DepthwiseConv2dNative: forward,
    FusedDepthwiseConv2D: fused,
    DepthwiseConv2dNativeBackpropInput: backpropInput,
    DepthwiseConv2dNativeBackpropFilter: backpropFilter,
  };
}

/** Replaces tfjs's cpu depthwise kernels with the native ones; returns the kernel names it replaced. */
export function registerDepthwiseKernels(addon: DepthwiseAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
