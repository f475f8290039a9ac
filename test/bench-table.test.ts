import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchTable, engineOf, replaceBenchTable } from '../lib/bench/table.ts';
import type { RunRecord } from '../lib/runRecord.ts';

interface RecOptions { backend?: string; threads?: number; torchThreads?: number; imageSize?: number; torchBlas?: string; precision?: 'fp32' | 'bf16' }

function rec(startedAt: string, ms: number, torchMs: number, batch = 16, status: RunRecord['status'] = 'finished', o: RecOptions = {}): RunRecord {
  return {
    version: 1, id: `b-${startedAt}`, kind: 'bench', experiment: 'bench', profile: 'quick', seed: 0,
    config: { model: { dim: 256, depth: 8, kernelSize: 9, patchSize: 1 }, mode: 'train', batch, imageSize: o.imageSize ?? 32, threads: o.threads ?? 2, ...(o.precision ? { precision: o.precision } : {}) },
    backend: o.backend ?? 'native-cpu (AVX2, 2 threads)', machine: { cpuModel: 'X', cores: 2, memoryGiB: 24, platform: 'linux', arch: 'x64', node: 'v20', gpu: null },
    gitCommit: 'abcdef0123', gitDirty: false, startedAt, finishedAt: startedAt, wallTimeSec: 1, status,
    metrics: { msPerImg: ms, torchMsPerImg: torchMs, peakRssMiB: 300, torchPeakRssMiB: 200, ...(o.torchThreads ? { torchThreads: o.torchThreads } : {}), ...(o.torchBlas ? { torchBlas: o.torchBlas } : {}) },
  };
}

const rowsOf = (table: string): string[] => table.split('\n').filter((l) => l.startsWith('| ConvMixer'));
const footerOf = (table: string): string => table.split('\n').pop()!;

test('bench table: newest finished record per workload, ratio and memory ratio computed from the record', () => {
  // loadRunRecords returns newest first.
  const table = benchTable([rec('2026-11-21T03', 99, 1, 16, 'failed'), rec('2026-11-21T02', 60, 120), rec('2026-11-21T01', 500, 100), rec('2026-11-21T00', 200, 250, 64)]);
  const rows = rowsOf(table);
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /\| ConvMixer-256\/8 k9 p1 \| native-cpu \| train \| 16 \| 2 \| 60\.0 \| 120 \| not recorded \| 0\.50 \| 300 \/ 200 \(1\.50x\) \| abcdef0, 2026-11-21 \|/);
  assert.match(rows[1]!, /\| 64 \| 2 \| 200 \| 250 \| not recorded \| 0\.80 \|/);
  assert.match(footerOf(table), /\(32x32 inputs\)\.$/);
});

test('bench table: a --backend cpu run gets its own row and never replaces the native one', () => {
  const cpu = { backend: 'cpu (tfjs JS kernels)', threads: 1, torchThreads: 2 };
  // Newest first: the cpu run is newer than the native one for the same model, mode, batch and size.
  const table = benchTable([rec('2026-11-22T00', 900, 120, 16, 'finished', cpu), rec('2026-11-21T00', 60, 120, 16, 'finished', { torchThreads: 2 })]);
  const rows = rowsOf(table);
  assert.equal(rows.length, 2);
  assert.match(rows.find((r) => r.includes('| cpu |'))!, /\| cpu \| train \| 16 \| 1 \(PyTorch 2\) \| 900 \| 120 \| not recorded \| 7\.50 \|/);
  assert.match(rows.find((r) => r.includes('| native-cpu |'))!, /\| native-cpu \| train \| 16 \| 2 \| 60\.0 \| 120 \| not recorded \| 0\.50 \|/);
  assert.match(footerOf(table), /cpu \(tfjs JS kernels\)/);
});

test('bench table: a --precision bf16 run (PyTorch under bf16 autocast) gets its own row; records without precision are fp32', () => {
  const bf16 = { backend: 'native-cpu (AVX-512, 2 threads), bf16 GEMM (avx512_bf16)', precision: 'bf16' as const };
  const table = benchTable([rec('2026-12-02T01', 20, 12, 128, 'finished', bf16), rec('2026-12-02T00', 80, 270, 128, 'finished', { precision: 'fp32' }),
    rec('2026-11-21T00', 90, 280, 128)]);
  const rows = rowsOf(table);
  assert.equal(rows.length, 2, 'bf16 and fp32 rows; the older fp32 record (no precision key) is replaced by the newer fp32 one');
  assert.match(rows.find((r) => r.includes('| native-cpu bf16 |'))!, /\| native-cpu bf16 \| train \| 128 \| 2 \| 20\.0 \| 12\.0 \| not recorded \| 1\.67 \|/);
  assert.match(rows.find((r) => r.includes('| native-cpu |'))!, /\| 80\.0 \| 270 \| not recorded \| 0\.30 \|/);
});

test('bench table: the footer states the image sizes of the records; with several, each row names its size', () => {
  const one = benchTable([rec('2026-11-21T00', 60, 120, 16, 'finished', { imageSize: 64 })]);
  assert.match(footerOf(one), /\(64x64 inputs\)\.$/);
  assert.doesNotMatch(one, /32x32/);
  const two = benchTable([rec('2026-11-21T01', 60, 120, 16, 'finished', { imageSize: 64 }), rec('2026-11-21T00', 50, 100)]);
  const rows = rowsOf(two);
  assert.equal(rows.length, 2, 'different image sizes are different rows');
  assert.match(rows[0]!, /^\| ConvMixer-256\/8 k9 p1, 32x32 \|/);
  assert.match(rows[1]!, /^\| ConvMixer-256\/8 k9 p1, 64x64 \|/);
  assert.match(footerOf(two), /\(32x32 and 64x64 inputs\)\.$/);
});

test('bench table: segmentation records are rows named by the registry model (changed config keys listed), sized H x W', () => {
  const seg = (startedAt: string, ms: number, model: Record<string, unknown>): RunRecord => {
    const r = rec(startedAt, ms, 2 * ms, 8);
    return { ...r, config: { model, mode: 'train', batch: 8, height: 96, width: 128, threads: 2, loss: 'dice' } };
  };
  const unet = { name: 'unet_camvid', family: 'unet', inChannels: 3, numClasses: 11, baseWidth: 64 };
  const cmu = { name: 'convmixer_unet_camvid', family: 'convmixer_unet', inChannels: 3, numClasses: 11, encoderWidths: [4, 8, 16], decoderWidth: 16,
    depth: 1, kernelSize: 9, patchSize: 2 };
  const table = benchTable([seg('2026-11-23T02', 1500, unet), seg('2026-11-23T01', 99, unet), seg('2026-11-23T00', 40, cmu), rec('2026-11-21T00', 60, 120)]);
  const lines = table.split('\n');
  assert.match(lines.find((l) => l.startsWith('| unet_camvid'))!, /^\| unet_camvid, 96x128 \| native-cpu \| train \| 8 \| 2 \| 1500 \| 3000 \| not recorded \| 0\.50 \|/);
  assert.equal(lines.filter((l) => l.startsWith('| unet_camvid')).length, 1, 'the newest record of a workload only');
  assert.match(table, /^\| convmixer_unet_camvid \(encoderWidths 4\/8\/16, decoderWidth 16, depth 1\), 96x128 \| native-cpu \| train \| 8 \| 2 \| 40\.0 \| 80\.0 \| not recorded \| 0\.50 \|/m);
  assert.equal(rowsOf(table).length, 1);
  assert.match(footerOf(table), /\(32x32 and 96x128 inputs\)\.$/);
});

test('engineOf: the backend description without its details', () => {
  assert.equal(engineOf('native-cpu (AVX-512, 2 threads)'), 'native-cpu');
  assert.equal(engineOf('cpu (tfjs JS kernels)'), 'cpu');
  assert.equal(engineOf('tensorflow (@tensorflow/tfjs-node)'), 'tensorflow');
});

test('bench table: README markers are replaced, missing markers are an error', () => {
  const readme = 'a\n<!-- bench-table:start -->\nold\n<!-- bench-table:end -->\nb';
  assert.equal(replaceBenchTable(readme, 'NEW'), 'a\n<!-- bench-table:start -->\nNEW\n<!-- bench-table:end -->\nb');
  assert.throws(() => replaceBenchTable('no markers', 'x'), /markers/);
});

test('bench table: the BLAS PyTorch ran on, shortened, so a ratio against the reference BLAS is visible', () => {
  const table = benchTable([
    rec('2026-12-02T01', 60, 30, 16, 'finished', { torchBlas: 'OpenBLAS (openblas-pthread/libblas.so.3)' }),
    rec('2026-12-02T00', 60, 120, 64, 'finished', { torchBlas: 'reference BLAS (blas/libblas.so.3)' }),
  ]);
  const rows = rowsOf(table);
  assert.match(rows[0]!, /\| 16 \| 2 \| 60\.0 \| 30\.0 \| OpenBLAS \| 2\.00 \|/);
  assert.match(rows[1]!, /\| 64 \| 2 \| 60\.0 \| 120 \| reference \| 0\.50 \|/);
});
