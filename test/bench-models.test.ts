// `convmixer bench models`: the rows of the paper's Tables 1 and 2 the registry builds, and the runner on an injected
// tiny table (1 step of tiny models): one record per row, ResNet-50 ratios and the paper's, resuming finished rows.
// No timing assertions. --vs torch: PyTorch's ratios to PyTorch's ResNet-50 with injected timings, the torchvision
// mapping, and (skipped without torch / torchvision) a tiny real PyTorch side: torchvision ResNet-50, ViT-B/16 and Swin-T
// at 32x32 and a CIFAR ConvMixer, parameter counts checked, and a stand-in torchvision that fails to import (rows skipped,
// no crash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  benchModels, measureTorchRow, NO_TORCH_DEFINITION, PAPER_RESNET50_THROUGHPUT, tableBenchRows, type BenchModelsSettings, type ModelBenchRow, type RowMeasurement,
} from '../lib/bench/models.ts';
import { benchTorchvision, findTorchPython, TORCH_SCRIPT, torchvisionModelFor, type TorchResult } from '../lib/bench/torch.ts';
import { isRegistered, modelInfo } from '../lib/models/registry.ts';
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

test('bench models: Table 1 and 2 rows the registry builds, one per model; the isotropic MobileNetV3s skipped', () => {
  const t1 = tableBenchRows(1);
  assert.deepEqual(t1.rows.map((r) => r.id), ['convmixer_1536_20', 'convmixer_768_32', 'resnet152', 'deit_base_patch16_224', 'resmlp_big_24_224']);
  assert.deepEqual(t1.skipped, []);
  const t2 = tableBenchRows(2);
  assert.deepEqual(t2.skipped.map((r) => `${r.network} p${r.patchSize}`), ['Isotropic MobileNetv3 p8', 'Isotropic MobileNetv3 p16']);
  assert.deepEqual(t2.rows.filter((r) => r.id.startsWith('swin')).map((r) => [r.id, r.networks, r.paperThroughput]),
    [['swin_small_patch4_window7_224', ['Swin-S (p4)'], 576], ['swin_tiny_patch4_window7_224', ['Swin-T (p4)'], 878]]);
  assert.equal(new Set(t2.rows.map((r) => r.id)).size, t2.rows.length);
  for (const r of t2.rows) assert.ok(isRegistered(r.model), r.model);
  // Table 2's ★ and plain ConvMixer-1536/20 rows are one model (and one measurement).
  assert.equal(t2.rows.find((r) => r.id === 'convmixer_1536_20')!.networks.length, 2);
  assert.equal(t2.rows.find((r) => r.id === 'resnet50')!.paperThroughput, PAPER_RESNET50_THROUGHPUT);
  assert.equal(t2.rows.length, 31 - 2 - 2); // 31 printed rows, 2 skipped, 2 duplicate ConvMixer models
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

// ---- --vs torch: PyTorch's own ratio to PyTorch's ResNet-50 of the same run ----

const torchSettings: BenchModelsSettings = { ...settings, vs: 'torch' };
const fakeTorch = (imgPerSec: number, params = 1): TorchResult => ({ ms_per_img: 1000 / imgPerSec, img_per_s: imgPerSec, step_ms: [1], peak_rss_mib: 1, threads: 1, torch: '1.13', python: 'python3', params });
const fakeOurs = (imgPerSec: number) => ({ imgPerSec, msPerImg: 1000 / imgPerSec, stepMs: [1], peakRssMiB: 1 });

test('bench models --vs torch: torchRatioVsResnet50 = PyTorch img/s of the row / PyTorch img/s of ResNet-50 (injected timings), in the result and the record', () => {
  const dir = join(tmp, 'torch-fake');
  const ours: Record<string, number> = { resnet50: 40, convmixer_64_4_k5_p2: 10, deit_tiny_patch16_224: 80 };
  const torch: Record<string, number | null> = { resnet50: 50, convmixer_64_4_k5_p2: 20, deit_tiny_patch16_224: null };
  const lines: string[] = [];
  const r = benchModels({
    table: 'fake', rows, baseline, settings: torchSettings, resultsDir: dir, log: (l) => lines.push(l),
    measure: (row): RowMeasurement => {
      const t = torch[row.id]!;
      return t === null ? { ours: fakeOurs(ours[row.id]!), torch: null, torchModel: null, torchNote: NO_TORCH_DEFINITION }
        : { ours: fakeOurs(ours[row.id]!), torch: fakeTorch(t), torchModel: row.id === 'resnet50' ? 'torchvision resnet50' : 'bench_torch.py ConvMixer (Appendix D)', torchNote: null };
    },
  });
  assert.equal(r.baseline.torchRatioVsResnet50, 1);
  assert.deepEqual(r.rows.map((x) => x.torchImgPerSec), [20, null, 50]);
  assert.deepEqual(r.rows.map((x) => x.torchRatioVsResnet50), [20 / 50, null, 1]);
  assert.deepEqual(r.rows.map((x) => x.ratio), [10 / 40, 80 / 40, 1]); // this engine's ratios, unchanged
  assert.deepEqual(r.rows.map((x) => x.torchNote), [null, NO_TORCH_DEFINITION, null]);
  const recs = records(dir);
  const cm = recs.find((x) => x.row === 'convmixer_64_4_k5_p2')!.metrics;
  assert.deepEqual([cm.torchImgPerSec, cm.torchResnet50ImgPerSec, cm.torchThroughputRatioVsResnet50, cm.torchModel, cm.torchNote, cm.throughputRatioVsResnet50],
    [20, 50, 20 / 50, 'bench_torch.py ConvMixer (Appendix D)', null, 10 / 40]);
  const r50 = recs.find((x) => x.row === 'resnet50')!.metrics;
  assert.deepEqual([r50.torchImgPerSec, r50.torchThroughputRatioVsResnet50, r50.torchModel, r50.torchParams], [50, 1, 'torchvision resnet50', 1]);
  const deit = recs.find((x) => x.row === 'deit_tiny_patch16_224')!.metrics;
  assert.deepEqual([deit.torchImgPerSec, deit.torchThroughputRatioVsResnet50, deit.torchNote], [null, null, NO_TORCH_DEFINITION]);
  assert.match(lines.find((l) => l.startsWith('convmixer_64_4_k5_p2'))!, /PyTorch 50\.0 ms\/img \(bench_torch\.py ConvMixer \(Appendix D\)\), 0\.40x PyTorch's ResNet-50/);
  assert.match(lines.find((l) => l.startsWith('deit_tiny'))!, /no PyTorch definition here/);

  // Resumed: the same ratios, from the records.
  const again = benchModels({ table: 'fake', rows, baseline, settings: torchSettings, resultsDir: dir });
  assert.deepEqual(again.rows.map((x) => [x.source, x.torchImgPerSec, x.torchRatioVsResnet50, x.torchNote]),
    r.rows.map((x) => ['resumed', x.torchImgPerSec, x.torchRatioVsResnet50, x.torchNote]));
  assert.ok(Math.abs(again.rows[0]!.torchRatioVsResnet50! - 0.4) < 1e-12);
});

test('bench models --vs torch: ResNet-50 skipped in PyTorch (no torchvision): ConvMixer rows keep PyTorch img/s, no PyTorch ratio, a note', () => {
  const dir = join(tmp, 'torch-skip');
  const lines: string[] = [];
  const skipped = 'PyTorch side skipped: torchvision not installed (No module named \'torchvision\')';
  const r = benchModels({
    table: 'fake', rows: rows.slice(0, 1), baseline, settings: torchSettings, resultsDir: dir, log: (l) => lines.push(l),
    measure: (row): RowMeasurement => row.id === 'resnet50' ? { ours: fakeOurs(40), torch: null, torchModel: null, torchNote: skipped }
      : { ours: fakeOurs(10), torch: fakeTorch(20), torchModel: 'bench_torch.py ConvMixer (Appendix D)', torchNote: null },
  });
  assert.deepEqual([r.baseline.torchImgPerSec, r.baseline.torchRatioVsResnet50, r.baseline.torchNote], [null, null, skipped]);
  const cm = r.rows[0]!;
  assert.deepEqual([cm.torchImgPerSec, cm.torchRatioVsResnet50, cm.ratio], [20, null, 0.25]);
  assert.equal(cm.torchNote, `no PyTorch ratio: PyTorch has no ResNet-50 img/s in this run (${skipped})`);
  const rec = records(dir).find((x) => x.row === 'convmixer_64_4_k5_p2')!.metrics;
  assert.deepEqual([rec.torchImgPerSec, rec.torchResnet50ImgPerSec, rec.torchThroughputRatioVsResnet50, rec.torchNote], [20, null, null, cm.torchNote]);
  assert.match(lines.find((l) => l.startsWith('resnet50'))!, /PyTorch side skipped: torchvision not installed/);
  assert.match(lines.find((l) => l.startsWith('convmixer'))!, /PyTorch 50\.0 ms\/img .*no PyTorch ratio/);
});

test('torchvisionModelFor: the Table 1/2 rows PyTorch times through torchvision (ResNet-50/101/152, ViT-B/16 and DeiT-B, the same network, Swin-T/S)', () => {
  const tv = (t: 1 | 2) => Object.fromEntries(tableBenchRows(t).rows.map((r) => [r.id, torchvisionModelFor(modelInfo(r.model))]).filter(([, m]) => m !== null));
  assert.deepEqual(tv(1), { resnet152: 'resnet152', deit_base_patch16_224: 'vit_b_16' });
  assert.deepEqual(tv(2), { resnet152: 'resnet152', resnet101: 'resnet101', resnet50: 'resnet50', deit_base_patch16_224: 'vit_b_16',
    swin_small_patch4_window7_224: 'swin_s', swin_tiny_patch4_window7_224: 'swin_t', vit_base_patch16_224: 'vit_b_16' });
  assert.equal(torchvisionModelFor(modelInfo('swin_tiny_patch4_window7_224', { numClasses: 10 })), 'swin_t');
  assert.equal(torchvisionModelFor(modelInfo('swin_tiny_patch4_window7_224', { windowSize: 8 })), null);
  assert.equal(torchvisionModelFor(modelInfo('swin_small_patch4_window7_224', { depths: [2, 2, 18, 2, 2], numHeads: [3, 6, 12, 24, 48] })), null);
  assert.equal(torchvisionModelFor(modelInfo('resnet50', { numClasses: 10 })), 'resnet50');
  assert.equal(torchvisionModelFor(modelInfo('resnet50', { channels: [4, 4, 4, 4] })), null);
  assert.equal(torchvisionModelFor(modelInfo('vit_base_patch16_224', { imgSize: 32 })), 'vit_b_16');
  assert.deepEqual(measureTorchRow(rows[1]!, settings, 1), { torch: null, torchModel: null, torchNote: null }); // no --vs torch: nothing
  assert.deepEqual(measureTorchRow(rows[1]!, torchSettings, 1), { torch: null, torchModel: null, torchNote: NO_TORCH_DEFINITION }); // DeiT-Ti: no torchvision model
});

const python = findTorchPython();
const noTorch = python ? false : 'no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)';
const noTorchvision = noTorch || (spawnSync(python!, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0 ? false : `torchvision not importable by ${python}`);

/** The engine side faked (no model built here), PyTorch's really run at 32x32, batch 1, 1 step. */
const torchOnly = (row: ModelBenchRow, s: BenchModelsSettings): RowMeasurement => ({ ours: fakeOurs(10), ...measureTorchRow(row, s, 1) });
const tvBaseline: ModelBenchRow = { id: 'resnet50', model: 'resnet50', overrides: { numClasses: 10 }, networks: ['ResNet-50'], paperThroughput: 1739 };
const tvRows: ModelBenchRow[] = [
  { id: 'convmixer_64_4_k5_p2', model: 'convmixer_64_4_k5_p2', networks: ['tiny ConvMixer'], paperThroughput: 500 },
  { id: 'vit_base_patch16_224', model: 'vit_base_patch16_224', overrides: { imgSize: 32, numClasses: 10 }, networks: ['ViT-B/16 at 32x32'], paperThroughput: 86 },
  { id: 'swin_tiny_patch4_window7_224', model: 'swin_tiny_patch4_window7_224', overrides: { numClasses: 10 }, networks: ['Swin-T at 32x32'], paperThroughput: 878 },
];
const tinyTorch: BenchModelsSettings = { ...torchSettings, batch: 1 };

test('bench models --vs torch, tiny real PyTorch side: torchvision ResNet-50, ViT-B/16 and Swin-T at 32x32 and a ConvMixer, parameter counts equal the registry\'s, ratios to PyTorch\'s ResNet-50', { skip: noTorchvision }, () => {
  const dir = join(tmp, 'torch-real');
  const r = benchModels({ table: 'fake', rows: tvRows, baseline: tvBaseline, settings: tinyTorch, resultsDir: dir, measure: torchOnly });
  const recs = records(dir);
  assert.equal(recs.length, 4);
  const base = recs.find((x) => x.row === 'resnet50')!.metrics;
  assert.deepEqual([base.torchModel, base.torchParams, base.torchThreads, base.torchThroughputRatioVsResnet50], ['torchvision resnet50', modelInfo('resnet50', { numClasses: 10 }).paramCount, 1, 1]);
  assert.equal(typeof base.torchvisionVersion, 'string');
  assert.match(String(base.torchBlas), /^(OpenBLAS|MKL|BLIS|ATLAS|reference BLAS|built in|unknown)/, 'the BLAS PyTorch ran on is stored');
  for (const row of tvRows) {
    const m = recs.find((x) => x.row === row.id)!.metrics;
    assert.equal(m.torchParams, modelInfo(row.model, row.overrides).paramCount, row.id);
    assert.equal(m.torchThroughputRatioVsResnet50, (m.torchImgPerSec as number) / (base.torchImgPerSec as number), row.id);
    assert.equal(m.torchResnet50ImgPerSec, base.torchImgPerSec);
    assert.equal(m.torchNote, null);
  }
  assert.deepEqual(r.rows.map((x) => x.torchModel), ['bench_torch.py ConvMixer (Appendix D)', 'torchvision vit_b_16', 'torchvision swin_t']);
  assert.equal(recs.find((x) => x.row === 'swin_tiny_patch4_window7_224')!.metrics.torchParams, 28_288_354 - 990 * 769); // swin_t with 10 classes
  assert.ok(r.rows.every((x) => x.torchRatioVsResnet50! > 0));
});

test('benchTorchvision: a parameter count other than the registry\'s is refused in one line (exit 3, a UserError)', { skip: noTorchvision }, () => {
  assert.throws(() => benchTorchvision({ model: 'resnet50', numClasses: 10, expectParams: 7, mode: 'infer', batch: 1, imageSize: 32, steps: 1, warmup: 0, threads: 1, seed: 0 }), (err: Error) => {
    assert.equal(err.name, 'UserError', err.stack);
    assert.equal(err.message, "--vs torch: parameter count mismatch for torchvision resnet50: this engine's registry model has 7, the PyTorch model 23528522: not the same architecture");
    return true;
  });
});

test('bench models --vs torch without torchvision (a stand-in that fails to import): ResNet-50 skipped with a note, the ConvMixer keeps its PyTorch img/s, no crash', { skip: noTorch }, () => {
  const fake = join(tmp, 'no-torchvision', 'torchvision');
  mkdirSync(fake, { recursive: true });
  writeFileSync(join(fake, '__init__.py'), 'raise ImportError("No module named \'torchvision\' (test stand-in)")\n');
  const saved = process.env.PYTHONPATH;
  process.env.PYTHONPATH = join(tmp, 'no-torchvision');
  let r: ReturnType<typeof benchModels>;
  try {
    r = benchModels({ table: 'fake', rows: tvRows.slice(0, 1), baseline: tvBaseline, settings: tinyTorch, resultsDir: join(tmp, 'torch-absent'), measure: torchOnly });
  } finally {
    if (saved === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = saved;
  }
  assert.equal(r.baseline.torchImgPerSec, null);
  assert.equal(r.baseline.torchNote, "PyTorch side skipped: torchvision not installed (No module named 'torchvision' (test stand-in))");
  const cm = r.rows[0]!;
  assert.ok(cm.torchImgPerSec! > 0);
  assert.equal(cm.torchRatioVsResnet50, null);
  assert.match(cm.torchNote!, /^no PyTorch ratio: PyTorch has no ResNet-50 img\/s in this run \(PyTorch side skipped: torchvision not installed/);
  const recs = records(join(tmp, 'torch-absent'));
  assert.ok(recs.every((x) => x.status === 'finished'));
  assert.equal(recs.find((x) => x.row === 'convmixer_64_4_k5_p2')!.metrics.torchParams, modelInfo('convmixer_64_4_k5_p2').paramCount);
});

// Debian's netlib BLAS and LAPACK folders: putting them first on the library path makes torch load the reference BLAS.
const REFERENCE_BLAS_DIRS = ['/usr/lib/x86_64-linux-gnu/blas', '/usr/lib/x86_64-linux-gnu/lapack'];
const noReferenceBlas = noTorch || !REFERENCE_BLAS_DIRS.every((d) => existsSync(join(d, d.endsWith('blas') ? 'libblas.so.3' : 'liblapack.so.3')));

test('bench_torch.py reports the BLAS torch\'s matmuls ran on: the reference BLAS when it is the one loaded', { skip: noReferenceBlas }, () => {
  const run = (env: NodeJS.ProcessEnv) => {
    const res = spawnSync(findTorchPython()!, [TORCH_SCRIPT, '--mode', 'infer', '--dim', '8', '--depth', '1', '--kernel', '3', '--patch', '2', '--image-size', '8',
      '--batch', '1', '--steps', '1', '--warmup', '0', '--threads', '1', '--classes', '3'], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(res.status, 0, res.stderr);
    return (JSON.parse(res.stdout.trim().split('\n').pop()!) as TorchResult).blas!;
  };
  assert.match(run({ LD_LIBRARY_PATH: REFERENCE_BLAS_DIRS.join(':') }), /^reference BLAS \(blas\/libblas\.so/);
  assert.match(run({}), /^(OpenBLAS|MKL|BLIS|ATLAS|reference BLAS|built in|unknown)/);
});
