// Helpers shared by the native kernel families (kernels-*.ts): the parts of tfjs's cpu backend a kernel touches,
// zero-copy access to a tensor's float32 values, and the conv attributes tfjs passes to conv kernels.
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';

/** The parts of tfjs's MathBackendCPU that kernels use. */
export interface CpuBackend {
  data: { get(dataId: TensorInfo['dataId']): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
export interface ConvAttrs {
  strides: [number, number] | number;
  pad: PadAttr;
  dilations?: [number, number] | number | null;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: 'NHWC' | 'NCHW';
}

/** The backend's own float32 array of t (no copy), or null when t is absent or not float32. */
export function float32Of(backend: CpuBackend, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

export function dilationsAreOne(d: ConvAttrs['dilations']): boolean {
  return d == null || (typeof d === 'number' ? d === 1 : d[0] === 1 && d[1] === 1);
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The saved JS kernel `name`, or one that says the native kernel cannot handle the case when there is none. */
export function fallback(original: (name: string) => KernelFunc | undefined, name: string): KernelFunc {
  return original(name) ?? (() => { throw new Error(`native ${name}: unsupported case and no JS kernel to fall back to`); });
}

/** Registers `kernels` on the cpu backend in place of whatever is there; returns their names. */
export function registerCpuKernels(kernels: Record<string, KernelFunc>): string[] {
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(kernelName, 'cpu')) tf.unregisterKernel(kernelName, 'cpu');
    tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc });
  }
  return Object.keys(kernels);
}
