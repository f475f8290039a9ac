// Denormal flushing of the native kernels (native/parallel.h DenormalGuard, lib/backend setFlushDenormals): with it on
// (the default) a kernel treats denormal inputs as zero, with it off it keeps IEEE arithmetic; either way the JS code
// on the main thread keeps IEEE behaviour after a kernel ran (the FP mode is restored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setFlushDenormals } from '../lib/backend/index.ts';
import { loadAddon, type NativeAddon } from '../lib/backend/native.ts';

const loaded = loadAddon();
const addon = loaded.addon as NativeAddon | null;
const skip = !addon ? `native addon not available: ${loaded.reason}` : process.arch !== 'x64' ? `denormal flushing is x86-only (${process.arch})` : false;
const DENORMAL = 1e-39; // below FLT_MIN (1.18e-38): a float32 denormal

/** C = A·B with A all DENORMAL and B all ones (k = n = m = size), through the addon's raw SGEMM. */
function gemmOfDenormals(size: number): Float32Array {
  const a = new Float32Array(size * size).fill(DENORMAL), b = new Float32Array(size * size).fill(1), c = new Float32Array(size * size);
  addon!.gemm(false, false, size, size, size, a, b, c, false);
  return c;
}

/** JS float arithmetic that needs denormals: true when the main thread is in IEEE mode. */
function jsKeepsDenormals(): boolean {
  const f = new Float32Array([DENORMAL]);
  return f[0]! > 0 && Number.MIN_VALUE > 0 && Number.MIN_VALUE / 2 === 0 && Math.fround(1e-40) > 0;
}

test('native denormals: flushed (default) -> a GEMM of denormals is exactly 0; kept -> k·1e-39; JS stays IEEE either way', { skip }, async () => {
  await initBackend('native');
  assert.equal(jsKeepsDenormals(), true);
  assert.equal(setFlushDenormals(true), true, 'flushing is the default');
  for (const size of [1, 96]) {
    // flushed: the denormal inputs count as zero (DAZ)
    setFlushDenormals(true);
    assert.ok(gemmOfDenormals(size).every((v) => v === 0), `size ${size}, flushed`);
    assert.equal(jsKeepsDenormals(), true, `JS after a flushed kernel, size ${size}`);
    // kept: each output is the sum of `size` denormals, k·1e-39 in float32
    setFlushDenormals(false);
    const kept = gemmOfDenormals(size);
    const expect = Math.fround(size * Math.fround(DENORMAL));
    assert.ok(kept.every((v) => Math.abs(v - expect) <= 1e-6 * expect + 1e-45), `size ${size}, kept: ${kept[0]} vs ${expect}`);
    assert.equal(jsKeepsDenormals(), true);
  }
  setFlushDenormals(true);
  // Through tfjs: a matMul of denormals on the native engine is 0 (flushed), and a pure-JS op on the same values is not.
  const x = tf.fill([8, 8], DENORMAL), ones = tf.ones([8, 8]);
  assert.ok((tf.matMul(x, ones).dataSync() as Float32Array).every((v) => v === 0));
  assert.ok((x.dataSync() as Float32Array).every((v) => v > 0));
  tf.dispose([x, ones]);
});

test('setFlushDenormals refuses without the native engine, in one line naming the flag', async () => {
  await initBackend('cpu');
  assert.throws(() => setFlushDenormals(true), /^UserError: --denormals needs the native engine \(--backend native\)/);
});
