// The native CPU engine on tfjs's `cpu` backend: loads build/Release/convmixer_native.node, snapshots tfjs's own
// JS kernels, and lets each kernel family (gemm, depthwise, elementwise; pool, layout, pointwise for the segmentation
// models) swap in native kernels. Tensors stay the cpu backend's typed arrays, so every kernel not replaced keeps working, and
// the snapshot lets tests run the same code with the JS originals (withJsKernels) to compare.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { registerGemmKernels, type GemmAddon } from './kernels-gemm.ts';
import { registerDepthwiseKernels, type DepthwiseAddon } from './kernels-depthwise.ts';
import { registerElementwiseKernels, type ElementwiseAddon } from './kernels-elementwise.ts';
import { registerPoolKernels, type PoolAddon } from './kernels-pool.ts';
import { registerLayoutKernels, type LayoutAddon } from './kernels-layout.ts';
import { registerPointwiseKernels, type PointwiseAddon } from './kernels-pointwise.ts';
import { hookBackend } from './bufferPool.ts';
import { fileURLToPath } from 'node:url';

/** The addon's exports (native/addon.cc); kernel families add their own functions. */
export interface NativeAddon extends GemmAddon, DepthwiseAddon, ElementwiseAddon, PoolAddon, LayoutAddon, PointwiseAddon {
  /** Worker threads of the addon's pool. */
  threads: number;
  /** Instruction set the GEMM micro-kernel was compiled for, e.g. 'AVX-512' or 'AVX2+FMA'. */
  isa: string;
  /** Resizes the pool (n <= 0: CONVMIXER_THREADS or the hardware threads); returns the new size. */
  setThreads(n: number): number;
  /** Whether kernels flush denormals to zero (FTZ/DAZ while a kernel runs; native/parallel.h); returns the previous
   * setting. Absent from addons built before it and on CPUs without SSE's MXCSR (non-x86), where denormals are kept. */
  setFlushDenormals?(on: boolean): boolean;
  [fn: string]: unknown;
}

export type OriginalKernel = (name: string) => KernelFunc | undefined;

const root = new URL('../../', import.meta.url);
export const ADDON_PATH = fileURLToPath(new URL('build/Release/convmixer_native.node', root));
export const NATIVE_STATUS_PATH = fileURLToPath(new URL('build/native-status.json', root));

/** Functions the kernel families call; an addon built from older sources may lack some (fused ones are optional: see fused.ts). */
const REQUIRED_FUNCTIONS = [
  'setThreads', 'conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'matmul',
  'depthwiseForward', 'depthwiseBackpropInput', 'depthwiseBackpropFilter', 'binary', 'unary', 'batchNorm', 'reduce',
] as const satisfies readonly (keyof NativeAddon)[];

/**
 * Families added after the first engine (segmentation kernels): an addon built before them still loads and keeps its
 * other kernels native; these run in JS then, and registerNativeKernels says so once.
 */
const OPTIONAL_FAMILIES = {
  pool: ['maxPool', 'maxPoolGrad', 'resizeBilinear', 'resizeBilinearGrad'],
  layout: ['copyStrided', 'fill'],
  pointwise: ['relu', 'step', 'leakyRelu', 'addN', 'log', 'maxRows', 'softmaxRows'],
} as const satisfies Record<string, readonly (keyof NativeAddon)[]>;

/** The required functions an addon's exports lack (empty for an up-to-date build). */
export function missingAddonFunctions(exports: Record<string, unknown>): string[] {
  return REQUIRED_FUNCTIONS.filter((name) => typeof exports[name] !== 'function');
}

/** The addon, or why it is not available (not built, failed to build, failed to load, built from older sources). */
export function loadAddon(): { addon: NativeAddon; reason: null } | { addon: null; reason: string } {
  if (!existsSync(ADDON_PATH)) {
    let why = 'not built';
    try {
      const status = JSON.parse(readFileSync(NATIVE_STATUS_PATH, 'utf8')) as { ok: boolean; error: string | null };
      if (!status.ok) why = `build failed: ${status.error ?? 'unknown error'}`;
    } catch {
      // no status file: the install script never ran (or CONVMIXER_SKIP_NATIVE=1)
    }
    return { addon: null, reason: `${why} (${ADDON_PATH} missing; run npm run build:native)` };
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (err) {
    return { addon: null, reason: `failed to load ${ADDON_PATH}: ${(err as Error).message.split('\n')[0]}` };
  }
  const missing = missingAddonFunctions(addon);
  if (missing.length > 0) return { addon: null, reason: `${ADDON_PATH} is out of date (no ${missing.join(', ')}; run npm run build:native)` };
  return { addon, reason: null };
}

export interface NativeRegistration {
  addon: NativeAddon;
  /** Kernel names replaced, per family. */
  families: Record<string, string[]>;
}

let registration: NativeRegistration | null = null;
const originals = new Map<string, KernelConfig>();
const natives = new Map<string, KernelConfig>();

/** tfjs's own JS kernel for `name` on the cpu backend, as it was before any native kernel replaced it. */
export function originalKernel(name: string): KernelFunc | undefined {
  return (originals.get(name) ?? tf.getKernel(name, 'cpu'))?.kernelFunc;
}

/** Registers every native kernel family on the cpu backend (once); returns what was replaced. */
export function registerNativeKernels(addon: NativeAddon): NativeRegistration {
  if (registration) return registration;
  for (const config of tf.getKernelsForBackend('cpu')) originals.set(config.kernelName, config);
  const original: OriginalKernel = (name) => originals.get(name)?.kernelFunc;
  const families: Record<string, string[]> = {
    gemm: registerGemmKernels(addon, original),
    depthwise: registerDepthwiseKernels(addon, original),
    elementwise: registerElementwiseKernels(addon, original),
  };
  const optional = { pool: registerPoolKernels, layout: registerLayoutKernels, pointwise: registerPointwiseKernels };
  const stale: string[] = [];
  for (const [family, register] of Object.entries(optional)) {
    const fns: readonly string[] = OPTIONAL_FAMILIES[family as keyof typeof OPTIONAL_FAMILIES];
    if (fns.every((fn) => typeof addon[fn] === 'function')) families[family] = register(addon, original);
    else stale.push(family);
  }
  if (stale.length > 0) {
    console.warn(`convmixer: ${ADDON_PATH} predates the native ${stale.join(', ')} kernels; they run in JS (run npm run build:native)`);
  }
  for (const name of Object.values(families).flat()) {
    const config = tf.getKernel(name, 'cpu');
    if (config) natives.set(name, config);
  }
  // Native outputs come from a recycling pool; the cpu backend tells it when their tensors are disposed.
  const cpu = tf.findBackend('cpu');
  if (cpu) hookBackend(cpu as unknown as Parameters<typeof hookBackend>[0]);
  registration = { addon, families };
  return registration;
}

/** Kernel names the native engine replaced (empty until registerNativeKernels ran). */
export function nativeKernelNames(): string[] {
  return [...natives.keys()];
}

function install(configs: Map<string, KernelConfig>, names: Iterable<string>): void {
  for (const name of names) {
    const config = configs.get(name);
    if (!config) continue;
    if (tf.getKernel(name, 'cpu')) tf.unregisterKernel(name, 'cpu');
    tf.registerKernel(config);
  }
}

/** Puts the native kernels (true) or tfjs's JS originals (false) in the cpu registry; a no-op before registration. */
export function setNativeKernelsActive(active: boolean): void {
  install(active ? natives : originals, natives.keys());
}

/**
 * Runs fn with tfjs's JS kernels in place of the native ones (all of them, or just `names`), then puts the native
 * ones back. Synchronous on purpose: an awaited callback could let unrelated code run on the wrong kernels.
 */
export function withJsKernels<T>(fn: () => T, names: Iterable<string> = natives.keys()): T {
  const swapped = [...names].filter((n) => natives.has(n) && originals.has(n));
  install(originals, swapped);
  try {
    return fn();
  } finally {
    install(natives, swapped);
  }
}
