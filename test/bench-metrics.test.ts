// What a bench run record stores (lib/bench/metrics.ts): PyTorch's interpreter, version and thread count next to
// its timings, and the threads each engine really ran on (the JS cpu backend: one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchMetrics, engineThreads } from '../lib/bench/metrics.ts';
import type { BenchResult } from '../lib/bench/engine.ts';
import { referenceBlasWarning, type TorchResult } from '../lib/bench/torch.ts';

const ours: BenchResult = { msPerImg: 2, imgPerSec: 500, stepMs: [40, 32, 36], peakRssMiB: 300 };
const torch: TorchResult = { ms_per_img: 4, img_per_s: 250, step_ms: [64], peak_rss_mib: 200, threads: 3, torch: '2.5.1', python: '/usr/bin/python3' };

test('bench metrics with --vs torch: PyTorch threads, python and version stored with the ratios', () => {
  assert.deepEqual(benchMetrics(ours, torch), {
    msPerImg: 2, imgPerSec: 500, peakRssMiB: 300, stepMsMin: 32,
    torchMsPerImg: 4, torchPeakRssMiB: 200, torchVersion: '2.5.1', torchThreads: 3, torchPython: '/usr/bin/python3', torchBlas: null,
    ratio: 0.5, memoryRatio: 1.5,
  });
});

test('bench metrics without --vs torch: every PyTorch field is null', () => {
  const m = benchMetrics(ours, null);
  for (const k of ['torchMsPerImg', 'torchPeakRssMiB', 'torchVersion', 'torchThreads', 'torchPython', 'torchBlas', 'ratio', 'memoryRatio']) assert.equal(m[k], null, k);
  assert.equal(m.msPerImg, 2);
});

test('engine threads: the JS cpu backend runs on one thread; native and tensorflow use the requested count', () => {
  assert.equal(engineThreads('cpu', 8), 1);
  assert.equal(engineThreads('native', 8), 8);
  assert.equal(engineThreads('tensorflow', 4), 4);
});

test('bench metrics: the BLAS PyTorch ran on is stored, and the reference BLAS is warned about', () => {
  const ref = { ...torch, blas: 'reference BLAS (blas/libblas.so.3)' };
  assert.equal(benchMetrics(ours, ref).torchBlas, 'reference BLAS (blas/libblas.so.3)');
  assert.match(referenceBlasWarning(ref)!, /^warning: PyTorch runs on the reference BLAS here \(reference BLAS \(blas\/libblas\.so\.3\)\).*apt-get install libopenblas0-pthread/);
  assert.equal(referenceBlasWarning({ ...torch, blas: 'OpenBLAS (openblas-pthread/libblas.so.3)' }), null);
  assert.equal(referenceBlasWarning(torch), null, 'older scripts do not report it: no warning');
});
