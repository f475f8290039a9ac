// Native ReLU, Step and AddN kernels for tfjs's `cpu` backend (native/pointwise.cc).
// The ReLU gradient tfjs registers is dy * cast(step(x), 'float32'): with Step native here, Multiply native in
// kernels-elementwise.ts and a float32 -> float32 Cast being a no-copy identity, the whole backward path runs natively
// without touching tfjs's gradient registry (which is global, shared by every backend, and would need a new kernel
// name on each of them). AddN is what tf.addN runs (and tfjs's tape when it sums several gradients at once).
// Non-float32 inputs go to the saved JS kernel.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type CpuBackend, float32Of, fallback, registerCpuKernels } from './kernelUtil.ts';
import { allocOutput } from './bufferPool.ts';

/** The functions of the addon this file uses (lib/backend/native.ts's NativeAddon is a superset). */
export interface PointwiseAddon {
  relu(x: Float32Array, out: Float32Array): void;
  /** out = NaN for NaN, 1 for x > 0, alpha otherwise. */
  step(x: Float32Array, out: Float32Array, alpha: number): void;
  /** out = sum of the inputs (all of out's length), in order. */
  addN(inputs: Float32Array[], out: Float32Array): void;
}

export const POINTWISE_KERNELS = ['Relu', 'Step', 'AddN'] as const;

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

  const addN: KernelFunc = (args) => {
    const backend = args.backend as CpuBackend;
    const inputs = args.inputs as unknown as TensorInfo[];
    const values = inputs.map((t) => float32Of(backend, t));
    if (inputs.length === 0 || values.some((v) => v === null || v.length !== values[0]!.length)) return js.AddN(args);
    const out = allocOutput(values[0]!.length);
    addon.addN(values as Float32Array[], out);
    return backend.makeTensorInfo([...inputs[0]!.shape], 'float32', out);
  };

  return { Relu: relu, Step: step, AddN: addN };
}

/** Replaces tfjs's cpu Relu / Step / AddN kernels with the native ones; returns the kernel names it replaced. */
export function registerPointwiseKernels(addon: PointwiseAddon, original: (name: string) => KernelFunc | undefined): string[] {
  return registerCpuKernels(makeKernels(addon, original));
}
