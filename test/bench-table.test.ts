import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchTable, replaceBenchTable } from '../lib/bench/table.ts';
import type { RunRecord } from '../lib/runRecord.ts';

function rec(startedAt: string, ms: number, torchMs: number, batch = 16, status: RunRecord['status'] = 'finished'): RunRecord {
  return {
    version: 1, id: `b-${startedAt}`, kind: 'bench', experiment: 'bench', profile: 'quick', seed: 0,
    config: { model: { dim: 256, depth: 8, kernelSize: 9, patchSize: 1 }, mode: 'train', batch, imageSize: 32, threads: 2 },
    backend: 'native-cpu (AVX2, 2 threads)', machine: { cpuModel: 'X', cores: 2, memoryGiB: 24, platform: 'linux', arch: 'x64', node: 'v20', gpu: null },
    gitCommit: 'abcdef0123', gitDirty: false, startedAt, finishedAt: startedAt, wallTimeSec: 1, status,
    metrics: { msPerImg: ms, torchMsPerImg: torchMs, peakRssMiB: 300, torchPeakRssMiB: 200 },
  };
}

test('bench table: newest finished record per workload, ratio and memory ratio computed from the record', () => {
  // loadRunRecords returns newest first.
  const table = benchTable([rec('2026-11-21T03', 99, 1, 16, 'failed'), rec('2026-11-21T02', 60, 120), rec('2026-11-21T01', 500, 100), rec('2026-11-21T00', 200, 250, 64)]);
  const rows = table.split('\n').filter((l) => l.startsWith('| ConvMixer'));
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /\| ConvMixer-256\/8 k9 p1 \| train \| 16 \| 2 \| 60\.0 \| 120 \| 0\.50 \| 300 \/ 200 \(1\.50x\) \| abcdef0, 2026-11-21 \|/);
  assert.match(rows[1]!, /\| 64 \| 2 \| 200 \| 250 \| 0\.80 \|/);
});

test('bench table: README markers are replaced, missing markers are an error', () => {
  const readme = 'a\n<!-- bench-table:start -->\nold\n<!-- bench-table:end -->\nb';
  assert.equal(replaceBenchTable(readme, 'NEW'), 'a\n<!-- bench-table:start -->\nNEW\n<!-- bench-table:end -->\nb');
  assert.throws(() => replaceBenchTable('no markers', 'x'), /markers/);
});
