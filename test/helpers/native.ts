// Shared harness for the native-kernel tests: load the addon if built, count its calls, swap a family's kernels in
// and out of tfjs's cpu registry (JS originals vs native replacements), run a function under both, and compare
// with a tolerance relative to the output's scale.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs';
import type { Rng } from '../../lib/rng.ts';
import { silenceCpuBanner } from '../../lib/backend/index.ts';
import { fileURLToPath } from 'node:url';

const addonPath = fileURLToPath(new URL('../../build/Release/convmixer_native.node', import.meta.url));

/** The built addon (typed as the caller's view of it), or null with a skip reason for node:test. */
export function loadBuiltAddon<T>(): { addon: T | null; skip: false | string } {
  const addon = existsSync(addonPath) ? (createRequire(import.meta.url)(addonPath) as T) : null;
  return { addon, skip: addon ? false : 'native addon not built (npm run build:native)' };
}

/** An addon whose function calls are counted per name, so a test can tell the native path from a JS fallback. */
export interface CountedAddon<T> {
  addon: T | null;
  calls: Map<string, number>;
}

export function countCalls<T extends object>(addon: T | null): CountedAddon<T> {
  const calls = new Map<string, number>();
  if (!addon) return { addon, calls };
  const counted = new Proxy(addon, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { addon: counted, calls };
}

export type KernelSet = Map<string, KernelFunc>;

function currentKernels(names: readonly string[]): KernelSet {
  return new Map(names.map((n) => [n, tf.getKernel(n, 'cpu')!.kernelFunc]));
}

export function useKernels(set: KernelSet): void {
  for (const [kernelName, kernelFunc] of set) {
    if (tf.getKernel(kernelName, 'cpu')) tf.unregisterKernel(kernelName, 'cpu');
    tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc });
  }
}

export interface KernelHarness {
  /** Registers the native family once (asserting it replaced exactly `names`), leaving the JS kernels active. */
  setup(): Promise<void>;
  /** Runs fn with the JS kernels and with the native ones; returns both results as plain arrays, and the addon
   * calls of the native run (empty unless the harness was given a call counter). */
  both(fn: () => tf.Tensor | tf.Tensor[]): { js: Float32Array[]; native: Float32Array[]; nativeCalls: Map<string, number> };
  /** Runs fn with the native kernels active, restoring the JS ones afterwards. */
  withNative<T>(fn: () => T): T;
}

export function kernelHarness(
  names: readonly string[],
  register: (original: (name: string) => KernelFunc | undefined) => string[],
  calls: Map<string, number> = new Map(),
): KernelHarness {
  let jsKernels: KernelSet;
  let nativeKernels: KernelSet | undefined;
  const withSet = <T>(set: KernelSet, fn: () => T): T => {
    useKernels(set);
    try {
      return fn();
    } finally {
      useKernels(jsKernels);
    }
  };
  const run = (fn: () => tf.Tensor | tf.Tensor[]): Float32Array[] =>
    tf.tidy(() => [fn()].flat()).map((t) => {
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    });
  return {
    async setup() {
      if (nativeKernels) return;
      await tf.setBackend('cpu');
      silenceCpuBanner();
      jsKernels = currentKernels(names);
      const replaced = register((n) => jsKernels.get(n));
      assert.deepEqual([...replaced].sort(), [...names].sort());
      nativeKernels = currentKernels(names);
      useKernels(jsKernels);
    },
    both(fn) {
      const js = withSet(jsKernels, () => run(fn));
      calls.clear();
      const native = withSet(nativeKernels!, () => run(fn));
      return { js, native, nativeCalls: new Map(calls) };
    },
    withNative(fn) {
      return withSet(nativeKernels!, fn);
    },
  };
}

export function assertClose(actual: Float32Array, expected: Float32Array, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  // Tolerance relative to the output's scale: sums of many float32 products differ in the last bits by order.
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= rtol * (Math.abs(expected[i]!) + scale * 0.1) + 1e-6)) {
      assert.fail(`${what}: element ${i} native ${actual[i]} vs JS ${expected[i]} (scale ${scale})`);
    }
  }
}

/** NaN exactly where `expected` has NaN (none hidden, none made up), and assertClose on the other elements. */
export function assertCloseWithNaNs(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const nan = expected.map((v) => (Number.isNaN(v) ? 1 : 0));
  assert.ok(nan.some((v) => v === 1), `${what}: the reference has NaNs (else this check is vacuous)`);
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(actual[i]!) !== (nan[i] === 1)) assert.fail(`${what}: element ${i} native ${actual[i]} vs JS ${expected[i]}`);
  }
  assertClose(actual.filter((_, i) => nan[i] === 0), expected.filter((_, i) => nan[i] === 0), what);
}

/** Uniform values in [lo, hi) as a tensor of the given shape. */
export function randn(rng: Rng, shape: number[], lo = -1, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.next();
  return tf.tensor(v, shape);
}

/** Integer in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

export type ExplicitPad = [[0, 0], [number, number], [number, number], [0, 0]];
export type SweepPad = 'same' | 'valid' | ExplicitPad;

/** One random convolution geometry of a shape sweep (channels are the caller's), with tfjs's output size. */
export interface ConvGeometry {
  n: number; h: number; w: number; kh: number; kw: number;
  stride: [number, number]; pad: SweepPad; outH: number; outW: number;
}

/** A random geometry: batch 1-5, H/W 1-17, kernels 1-9 (square with probability `square`, so odd and even both
 * occur), strides 1-3 (stride 1 half the time), 'same' / 'valid' / explicit padding; redrawn until the output is
 * non-empty. Output size from tfjs's own computeConv2DInfo, as the kernels use it. */
export function drawConvGeometry(rng: Rng, square = 0.5): ConvGeometry {
  for (;;) {
    const n = randInt(rng, 1, 5), h = randInt(rng, 1, 17), w = randInt(rng, 1, 17);
    const kh = randInt(rng, 1, 9);
    const kw = rng.next() < square ? kh : randInt(rng, 1, 9);
    const stride: [number, number] = rng.next() < 0.5 ? [1, 1] : [randInt(rng, 1, 3), randInt(rng, 1, 3)];
    const u = rng.next();
    const pad: SweepPad = u < 0.45 ? 'same' : u < 0.85 ? 'valid'
      : [[0, 0], [randInt(rng, 0, 3), randInt(rng, 0, 3)], [randInt(rng, 0, 3), randInt(rng, 0, 3)], [0, 0]];
    const info = tf.backend_util.computeConv2DInfo([n, h, w, 1], [kh, kw, 1, 1], stride, 1, pad);
    if (info.outHeight > 0 && info.outWidth > 0) return { n, h, w, kh, kw, stride, pad, outH: info.outHeight, outW: info.outWidth };
  }
}

export function describeGeometry(g: ConvGeometry): string {
  const pad = typeof g.pad === 'string' ? g.pad : `explicit ${JSON.stringify(g.pad.slice(1, 3))}`;
  return `n${g.n} ${g.h}x${g.w} k${g.kh}x${g.kw} s${g.stride.join(',')} ${pad}`;
}
