// `convmixer bench models`: the rows of the paper's Tables 1 and 2 the registry builds, and the runner on an injected
// tiny table (1 step of tiny models): one record per row, ResNet-50 ratios and the paper's, resuming finished rows.
// No timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { benchModels, PAPER_RESNET50_THROUGHPUT, tableBenchRows, type BenchModelsSettings, type ModelBenchRow } from '../lib/bench/models.ts';
import { isRegistered } from '../lib/models/registry.ts';
import { parseRunRecord, type RunRecord } from '../lib/runRecord.ts';
import { fileURLToPath } from 'node:url';

await tf.setBackend('cpu');
const tmp = mkdtempSync(join(tmpdir(), 'bench-models-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const records = (dir: string): RunRecord[] => readdirSync(dir).map((f) => {
  const p = parseRunRecord(readFileSync(join(dir, f), 'utf8'));
  assert.ok('record' in p, JSON.stringify(p));
  return p.record;
});

test('bench models: Table 1 and 2 rows the registry builds, one per model; Swin and isotropic MobileNetV3 skipped', () => {
  const t1 = tableBenchRows(1);
  assert.deepEqual(t1.rows.map((r) => r.id), ['convmixer_1536_20', 'convmixer_768_32', 'resnet152', 'deit_base_patch16_224', 'resmlp_big_24_224']);
  assert.deepEqual(t1.skipped, []);
  const t2 = tableBenchRows(2);
  assert.deepEqual(t2.skipped.map((r) => `${r.network} p${r.patchSize}`), ['Swin-S p4', 'Swin-T p4', 'Isotropic MobileNetv3 p8', 'Isotropic MobileNetv3 p16']);
  assert.equal(new Set(t2.rows.map((r) => r.id)).size, t2.rows.length);
  for (const r of t2.rows) assert.ok(isRegistered(r.model), r.model);
  // Table 2's ★ and plain ConvMixer-1536/20 rows are one model (and one measurement).
  assert.equal(t2.rows.find((r) => r.id === 'convmixer_1536_20')!.networks.length, 2);
  assert.equal(t2.rows.find((r) => r.id === 'resnet50')!.paperThroughput, PAPER_RESNET50_THROUGHPUT);
  assert.equal(t2.rows.length, 31 - 4 - 2); // 31 printed rows, 4 skipped, 2 duplicate ConvMixer models
});

const settings: BenchModelsSettings = { mode: 'infer', batch: 2, imageSize: 32, steps: 1, warmup: 0, threads: 1, seed: 0, vs: null, backend: 'cpu' };
const baseline: ModelBenchRow = { id: 'resnet50', model: 'resnet50', overrides: { layers: [1, 1, 1, 1], channels: [4, 4, 4, 4], stemWidth: 8, numClasses: 10 }, networks: ['ResNet-50'], paperThroughput: 1739 };
const rows: ModelBenchRow[] = [
  { id: 'convmixer_64_4_k5_p2', model: 'convmixer_64_4_k5_p2', networks: ['tiny ConvMixer'], paperThroughput: 500 },
  { id: 'deit_tiny_patch16_224', model: 'deit_tiny_patch16_224', overrides: { imgSize: 32, depth: 1, numClasses: 10 }, networks: ['tiny DeiT'], paperThroughput: null },
  { ...baseline, networks: ['ResNet-50 row'] },
];

test('bench models: tiny fake table, 1 step: one record per row, ratios vs the same run\'s ResNet-50, resumable', () => {
  const dir = join(tmp, 'real');
  const lines: string[] = [];
  const first = benchModels({ table: 'fake', rows, baseline, settings, resultsDir: dir, log: (l) => lines.push(l) });
  const recs = records(dir);
  assert.equal(recs.length, 3); // baseline + 2 rows; the ResNet-50 row is the baseline's measurement
  for (const r of recs) {
    assert.equal(r.kind, 'bench');
    assert.equal(r.experiment, 'bench-models');
    assert.equal(r.table, 'fake');
    assert.equal(r.status, 'finished');
    assert.deepEqual(r.config.settings, settings);
  }
  assert.deepEqual(recs.map((r) => r.row).sort(), ['convmixer_64_4_k5_p2', 'deit_tiny_patch16_224', 'resnet50']);
  const base = first.baseline.imgPerSec;
  for (const r of first.rows) {
    assert.equal(r.source, 'measured');
    assert.equal(r.ratio, r.imgPerSec / base);
    const rec = recs.find((x) => x.row === r.id)!;
    assert.equal(rec.metrics.imgPerSec, r.imgPerSec);
    assert.equal(rec.metrics.throughputRatioVsResnet50, r.ratio);
  }
  assert.equal(first.rows[0]!.paperRatio, 500 / 1739);
  assert.equal(first.rows[1]!.paperRatio, null);
  assert.equal(first.rows[2]!.ratio, 1);
  assert.equal(lines.length, 1 + 3); // header, baseline, 2 rows

  // Same settings and commit: nothing re-run, the numbers come from the records.
  const again = benchModels({ table: 'fake', rows, baseline, settings, resultsDir: dir });
  assert.equal(records(dir).length, 3);
  assert.deepEqual(again.rows.map((r) => r.source), ['resumed', 'resumed', 'resumed']);
  assert.deepEqual(again.rows.map((r) => r.ratio), first.rows.map((r) => r.ratio));
  // Other settings: measured again.
  const other = benchModels({ table: 'fake', rows: rows.slice(0, 1), baseline, settings: { ...settings, batch: 1 }, resultsDir: dir });
  assert.equal(other.rows[0]!.source, 'measured');
  assert.equal(records(dir).length, 5);
});

test('bench models: ratio arithmetic with injected timings', () => {
  const imgPerSec: Record<string, number> = { resnet50: 40, convmixer_64_4_k5_p2: 10, deit_tiny_patch16_224: 80 };
  const r = benchModels({
    table: 'fake', rows, baseline, settings, resultsDir: join(tmp, 'fake'),
    measure: (row) => ({ ours: { imgPerSec: imgPerSec[row.id]!, msPerImg: 1000 / imgPerSec[row.id]!, stepMs: [1], peakRssMiB: 1 }, torch: null }),
  });
  assert.equal(r.baseline.imgPerSec, 40);
  assert.deepEqual(r.rows.map((x) => x.ratio), [0.25, 2, 1]);
  assert.deepEqual(r.rows.map((x) => x.paperRatio), [500 / 1739, null, 1]);
  assert.equal(r.rows[0]!.msPerImg, 100);
});

test('bench models CLI: --table is required and must be 1 or 2 (one-line errors)', () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  for (const [args, pattern] of [[[], /--table 1\|2 is required/], [['--table', '3'], /--table: expected one of 1, 2, got '3'/]] as const) {
    const r = spawnSync(process.execPath, ['bin/convmixer.mjs', 'bench', 'models', ...args], { encoding: 'utf8', cwd });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test('bench models CLI glue (in process, injected tiny table): flags, skipped rows, JSON, records in --results-dir', async () => {
  const { benchModelsCommand } = await import('../lib/cli/bench.ts');
  const dir = join(tmp, 'cli');
  const out: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  try {
    const code = await benchModelsCommand({ table: '2', batch: '2', steps: '1', warmup: '0', backend: 'cpu', json: true, 'results-dir': dir },
      { table: { rows: rows.slice(0, 1), skipped: [{ network: 'Swin-T', patchSize: 4, reason: 'no registry model' }] }, baseline, imageSize: 32 });
    assert.equal(code, 0);
  } finally {
    console.log = orig;
  }
  assert.equal(out.length, 1);
  const j = JSON.parse(out[0]!);
  assert.equal(j.table, 2);
  assert.equal(j.batch, 2);
  assert.equal(j.image_size, 32);
  assert.equal(j.rows.length, 1);
  assert.equal(j.rows[0].ratio, j.rows[0].imgPerSec / j.baseline.imgPerSec);
  assert.equal(j.rows[0].paperRatio, 500 / PAPER_RESNET50_THROUGHPUT);
  assert.equal(j.skipped[0].network, 'Swin-T');
  const recs = records(dir);
  assert.deepEqual(recs.map((r) => r.table), ['table2', 'table2']);
  assert.deepEqual(recs.map((r) => r.config.settings).map((s) => (s as { steps: number }).steps), [1, 1]);
});
