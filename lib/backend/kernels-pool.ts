// Native max-pool and bilinear-resize kernels for tfjs's `cpu` backend (native/pool.cc, native/resize.cc): MaxPool,
// MaxPoolGrad (what tf.maxPool's gradient runs), ResizeBilinear and ResizeBilinearGrad. Pool geometry comes from tfjs's
// own computePool2DInfo, so every filter size, stride, 'same' / 'valid' / numeric / explicit padding and
// dimRoundingMode matches the JS kernels, and ties / NaN are resolved as they are (native/pool.cc). Non-float32 inputs,
// non-4D shapes, empty tensors and the 1x1 identity max-pool (JS returns its input as is) go to the saved JS kernel.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type CpuBackend, float32Of, size, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (lib/backend/native.ts's NativeAddon is a superset). */
export interface PoolAddon {
  /** dims: [n, inH, inW, c, outH, outW, kh, kw, strideH, strideW, padTop, padLeft] */
  maxPool(x: Float32Array, y: Float32Array, dims: Int32Array): void;
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, dims: Int32Array): void;
  /** dims: [n, inH, inW, c, outH, outW] */
  resizeBilinear(x: Float32Array, y: Float32Array, dims: Int32Array, alignCorners: boolean, halfPixelCenters: boolean): void;
  resizeBilinearGrad(dy: Float32Array, dx: Float32Array, dims: Int32Array, alignCorners: boolean, halfPixelCenters: boolean): void;
}

export const POOL_KERNELS = ['MaxPool', 'MaxPoolGrad', 'ResizeBilinear', 'ResizeBilinearGrad'] as const;

type Shape4 = [number, number, number, number];
interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
interface ResizeAttrs { alignCorners: boolean; halfPixelCenters: boolean; size?: [number, number] }

/** tfjs's pool geometry for NHWC x, packed as native/pool.cc's dims. */
function poolDims(xShape: number[], attrs: PoolAttrs): { dims: Int32Array; outShape: number[]; identity: boolean } {
  const i = tf.backend_util.computePool2DInfo(xShape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const dims = Int32Array.from([i.batchSize, i.inHeight, i.inWidth, i.inChannels, i.outHeight, i.outWidth,
    i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, i.padInfo.top, i.padInfo.left]);
  const identity = i.filterHeight === 1 && i.filterWidth === 1 && tf.util.arraysEqual(i.inShape, i.outShape);
  return { dims, outShape: i.outShape, identity };
}

function makeKernels(addon: PoolAddon, original: (name: string) => KernelFunc | undefined): Record<(typeof POOL_KERNELS)[number], KernelFunc> {
  const js = Object.fromEntries(POOL_KERNELS.map((n) => [n, fallback(original, n)])) as Record<(typeof POOL_KERNELS)[number], KernelFunc>;

  const maxPool: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as Record<'x', TensorInfo>;
    const xv = float32Of(backend, x);
    if (!xv || x.shape.length !== 4 || size(x.shape) === 0) return js.MaxPool(args);
    const { dims, outShape, identity } = poolDims(x.shape, args.attrs as unknown as PoolAttrs);
    if (identity || size(outShape) === 0) return js.MaxPool(args);
    const y = allocOutput(size(outShape));
    addon.maxPool(xv, y, dims);
    return backend.makeTensorInfo(outShape, 'float32', y);
  };

  // tfjs passes dy, the pool's input and its output; like the JS kernel this uses only dy and the input.
  const maxPoolGrad: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { dy, input } = args.inputs as Record<'dy' | 'input', TensorInfo>;
    const xv = float32Of(backend, input), dyv = float32Of(backend, dy);
    if (!xv || !dyv || input.shape.length !== 4 || size(input.shape) === 0) return js.MaxPoolGrad(args);
    const { dims, outShape } = poolDims(input.shape, args.attrs as unknown as PoolAttrs);
    if (!tf.util.arraysEqual(outShape, dy.shape)) return js.MaxPoolGrad(args);
    const dx = allocOutput(size(input.shape)); // native code writes every element (zero or gradient)
    addon.maxPoolGrad(xv, dyv, dx, dims);
    return backend.makeTensorInfo([...input.shape], 'float32', dx);
  };

  const resize: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { images } = args.inputs as Record<'images', TensorInfo>;
    const { alignCorners, halfPixelCenters, size: [outH, outW] = [0, 0] } = args.attrs as unknown as ResizeAttrs;
    const xv = float32Of(backend, images);
    if (!xv || images.shape.length !== 4 || size(images.shape) === 0 || !(outH > 0 && outW > 0)) return js.ResizeBilinear(args);
    const [n, h, w, c] = images.shape as Shape4;
    const y = allocOutput(n * outH * outW * c);
    addon.resizeBilinear(xv, y, Int32Array.from([n, h, w, c, outH, outW]), !!alignCorners, !!halfPixelCenters);
    return backend.makeTensorInfo([n, outH, outW, c], 'float32', y);
  };

  // The exact adjoint of the forward (also with halfPixelCenters, which tfjs's JS gradient ignores); dx has the
  // images' shape (the JS kernel returns [n, w, h, c], which only works for square images).
  const resizeGrad: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const { images, dy } = args.inputs as Record<'images' | 'dy', TensorInfo>;
    const { alignCorners, halfPixelCenters } = args.attrs as unknown as ResizeAttrs;
    const dyv = float32Of(backend, dy);
    if (!dyv || images.shape.length !== 4 || dy.shape.length !== 4 || size(images.shape) === 0 || size(dy.shape) === 0 ||
        dy.shape[0] !== images.shape[0] || dy.shape[3] !== images.shape[3]) return js.ResizeBilinearGrad(args);
    const [n, h, w, c] = images.shape as Shape4;
    const dx = allocOutput(n * h * w * c); // native code zeroes each dx row first
    addon.resizeBilinearGrad(dyv, dx, Int32Array.from([n, h, w, c, dy.shape[1]!, dy.shape[2]!]), !!alignCorners, !!halfPixelCenters);
    return backend.makeTensorInfo([n, h, w, c], 'float32', dx);
  };

  return { MaxPool: maxPool, MaxPoolGrad: maxPoolGrad, ResizeBilinear: resize, ResizeBilinearGrad: resizeGrad };
}

/** Replaces tfjs's cpu max-pool / bilinear-resize kernels with the native ones; returns the kernel names it replaced. */
export function registerPoolKernels(addon: PoolAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
