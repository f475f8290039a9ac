// What notebook 01-architecture shows of Tables 1 and 2 (lib/views/imagenetTables.ts), on bench records written the
// way `convmixer bench models` writes them: benchModels itself with injected timings (no model is built or timed),
// plus copies of its records edited as a later or earlier run would have left them. Ratios are checked by hand.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  baselineRow, benchModels, NO_TORCH_DEFINITION, PAPER_RESNET50_THROUGHPUT, tableBenchRows, type BenchModelsSettings, type ModelBenchRow, type RowMeasurement,
} from '../lib/bench/models.ts';
import { torchvisionModelFor, type TorchResult } from '../lib/bench/torch.ts';
import { modelInfo } from '../lib/models/registry.ts';
import { resolveConfig } from '../lib/models/convmixer.ts';
import { loadRunRecords, type RunRecord } from '../lib/runRecord.ts';
import type { PlotTrace } from '../lib/views/plots.ts';
import {
  benchModelsCommandLine, benchModelsGroups, convMixerMacs, IMAGENET_EVAL_COMMAND, imagenetEvalRows, throughputContrasts, throughputRows,
  throughputScatter, throughputSummary, torchRankAgreement,
} from '../lib/views/imagenetTables.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-imagenet-tables-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const settings: BenchModelsSettings = { mode: 'infer', batch: 8, imageSize: 224, steps: 3, warmup: 1, threads: 2, seed: 0, vs: 'torch', backend: 'native-cpu (AVX2+FMA, 2 threads)' };

/** This engine's img/s per model (default 10) and PyTorch's ms/img for ConvMixers (default 100) and the torchvision architectures. */
const ENGINE: Record<string, number> = { resnet50: 40, convmixer_1536_20: 2, convmixer_1536_20_k3: 2.5, convmixer_1536_20_p14: 8, convmixer_768_32: 4, convmixer_768_32_k3_p14: 16 };
const TORCH_MS: Record<string, number> = { convmixer_1536_20: 200, convmixer_1536_20_k3: 125, convmixer_1536_20_p14: 50, convmixer_768_32: 125, convmixer_768_32_k3_p14: 25,
  resnet50: 20, resnet101: 40, resnet152: 50, vit_base_patch16_224: 80, deit_base_patch16_224: 80, swin_tiny_patch4_window7_224: 50, swin_small_patch4_window7_224: 80 };

/** As measureTorchRow: PyTorch for ConvMixers and torchvision's architectures (none for those without torchvision), a note otherwise. */
function measure(row: ModelBenchRow, s: BenchModelsSettings, opts: { torchvision?: boolean } = {}): RowMeasurement {
  const ips = ENGINE[row.id] ?? 10;
  const info = modelInfo(row.model);
  const tv = torchvisionModelFor(info);
  const ours = { msPerImg: 1000 / ips, imgPerSec: ips, stepMs: [s.batch * 1000 / ips], peakRssMiB: 200 };
  if (s.vs !== 'torch') return { ours, torch: null };
  if (info.family !== 'convmixer' && !tv) return { ours, torch: null, torchModel: null, torchNote: NO_TORCH_DEFINITION };
  if (tv && opts.torchvision === false) return { ours, torch: null, torchModel: null, torchNote: 'PyTorch side skipped: torchvision not installed (No module named \'torchvision\')' };
  const torchMs = TORCH_MS[row.id] ?? 100;
  const torch: TorchResult = { ms_per_img: torchMs, img_per_s: 1000 / torchMs, step_ms: [torchMs * s.batch], peak_rss_mib: 100, threads: 2, torch: '2.5.1', python: 'python3' };
  return { ours, torch, torchModel: tv ? `torchvision ${tv}` : 'bench_torch.py ConvMixer (Appendix D)', torchNote: null };
}

/** Writes records of `table` with benchModels and returns every record of the folder. */
function run(dir: string, table: 1 | 2, rows: ModelBenchRow[], s = settings, opts: { torchvision?: boolean } = {}): RunRecord[] {
  benchModels({ table: `table${table}`, rows, baseline: baselineRow(), settings: s, resultsDir: dir, measure: (row, st) => measure(row, st, opts) });
  return loadRunRecords({}, dir);
}

/** A copy of a record as another invocation would have written it (other id, start time, metrics, settings). */
function variant(rec: RunRecord, id: string, startedAt: string, metrics: Record<string, number | string | null>, settingsPatch: Record<string, unknown> = {}): RunRecord {
  const copy = structuredClone(rec);
  return { ...copy, id, startedAt, metrics: { ...copy.metrics, ...metrics }, config: { ...copy.config, settings: { ...(copy.config.settings as object), ...settingsPatch } } };
}

const table2Rows = tableBenchRows(2).rows.filter((r) => r.id !== 'mixer_b16_224');
const records2 = run(join(tmp, 't2'), 2, table2Rows);

test('benchModels fixtures: one record per Table 2 model measured (26 of 27: Mixer-B/16 left out), ResNet-50 among them', () => {
  assert.equal(records2.length, 26);
  assert.ok(records2.every((r) => r.kind === 'bench' && r.experiment === 'bench-models' && r.table === 'table2' && r.status === 'finished'));
  assert.equal(records2.find((r) => r.row === 'convmixer_1536_20')!.metrics.throughputRatioVsResnet50, 0.05);
});

test('throughputRows: every printed Table 2 row, exact params, paper ratio, engine ratio vs the same run\'s ResNet-50, PyTorch img/s and its ratio to PyTorch\'s ResNet-50', () => {
  const rows = throughputRows(records2, 2);
  assert.equal(rows.length, 31);
  assert.ok(rows.every((r) => r.role === 'row' && r.table === 2));
  // ★ and plain ConvMixer-1536/20: one model, one measurement, each with its own printed top-1.
  const cm = rows.filter((r) => r.model === 'convmixer_1536_20');
  assert.deepEqual(cm.map((r) => [r.network, r.top1Paper]), [['ConvMixer-1536/20★', 82.2], ['ConvMixer-1536/20', 81.37]]);
  for (const r of cm) {
    assert.equal(r.params, 51_625_960);
    assert.equal(r.paramsPrinted, 51.6);
    assert.equal(r.paperImgPerSec, 134);
    assert.equal(r.paperRatio, 134 / 1739);
    assert.equal(r.imgPerSec, 2);
    assert.equal(r.ratio, 2 / 40);
    assert.equal(r.torchImgPerSec, 1000 / 200); // 5 img/s
    assert.equal(r.torchVsEngine, 500 / 200); // engine 500 ms/img, PyTorch 200: PyTorch 2.5x faster
    assert.equal(r.torchRatio, 20 / 200); // PyTorch: 5 img/s vs its ResNet-50's 50
    assert.equal(r.torchModel, 'bench_torch.py ConvMixer (Appendix D)');
    assert.equal(r.torchRecord, null);
    assert.deepEqual([r.batch, r.steps, r.note], [8, 3, '']);
    assert.match(r.record!, /^bench-models-table2-convmixer_1536_20-b8-/);
  }
  const k3p14 = rows.find((r) => r.model === 'convmixer_768_32_k3_p14')!;
  assert.deepEqual([k3p14.ratio, k3p14.paperRatio, k3p14.torchImgPerSec, k3p14.torchVsEngine, k3p14.params], [16 / 40, 1235 / 1739, 40, 62.5 / 25, 20_465_896]);
  const r50 = rows.find((r) => r.network === 'ResNet-50')!;
  assert.deepEqual([r50.model, r50.ratio, r50.paperRatio, r50.imgPerSec, r50.torchImgPerSec, r50.torchRatio, r50.torchModel, r50.params],
    ['resnet50', 1, 1, 40, 50, 1, 'torchvision resnet50', 25_557_032]);
  assert.equal(r50.note, '');
  // The torchvision rows: PyTorch's img/s over PyTorch's ResNet-50's (50 img/s).
  assert.deepEqual(['ResNet-152', 'ResNet-101', 'ViT-B/16', 'DeiT-B'].map((n) => { const r = rows.find((x) => x.network === n)!; return [r.torchImgPerSec, r.torchRatio, r.torchModel]; }),
    [[20, 20 / 50, 'torchvision resnet152'], [25, 25 / 50, 'torchvision resnet101'], [12.5, 12.5 / 50, 'torchvision vit_b_16'], [12.5, 12.5 / 50, 'torchvision vit_b_16']]);
  const deit = rows.find((r) => r.network === 'DeiT-Ti†')!;
  assert.deepEqual([deit.model, deit.ratio, deit.paperRatio, deit.top1Paper, deit.torchImgPerSec, deit.torchRatio], ['deit_tiny_patch7_224', 10 / 40, 336 / 1739, null, null, null]);
  assert.equal(deit.note, NO_TORCH_DEFINITION);
  // Swin-T / Swin-S: registry models, PyTorch through torchvision swin_t / swin_s.
  const swin = rows.find((r) => r.network === 'Swin-T')!;
  assert.deepEqual([swin.model, swin.params, swin.imgPerSec, swin.ratio, swin.paperRatio, swin.top1Paper, swin.note], ['swin_tiny_patch4_window7_224', 28_288_354, 10, 10 / 40, 878 / 1739, 81.3, '']);
  assert.deepEqual([swin.torchImgPerSec, swin.torchRatio, swin.torchModel], [20, 20 / 50, 'torchvision swin_t']);
  const swinS = rows.find((r) => r.network === 'Swin-S')!;
  assert.deepEqual([swinS.model, swinS.params, swinS.torchImgPerSec, swinS.torchModel], ['swin_small_patch4_window7_224', 49_606_258, 12.5, 'torchvision swin_s']);
  const mobile = rows.find((r) => r.network === 'Isotropic MobileNetv3')!;
  assert.deepEqual([mobile.model, mobile.params, mobile.note], [null, null, 'not built by this suite (no registry model)']);
  const mixer = rows.find((r) => r.network === 'Mixer-B/16')!;
  assert.deepEqual([mixer.imgPerSec, mixer.ratio, mixer.note], [null, null, 'no record at these settings']);
  assert.equal(rows.find((r) => r.network === 'Isotropic MobileNetv3')!.paperRatio, null);
});

test('throughputRows: the newest record per row of the same settings; PyTorch from the newest --vs torch record; other settings are another group', () => {
  const cm = records2.find((r) => r.row === 'convmixer_1536_20')!;
  const cm768 = records2.find((r) => r.row === 'convmixer_768_32')!;
  const older = variant(cm, 'older-1536', '2000-01-01T00:00:00.000Z', { imgPerSec: 1, msPerImg: 1000, throughputRatioVsResnet50: 0.025 });
  // A later plain run (no --vs torch) of ConvMixer-768/32 at the same settings: its img/s, PyTorch's from the torch record.
  const later = variant(cm768, 'later-768', '2999-01-01T00:00:00.000Z', { imgPerSec: 5, msPerImg: 200, throughputRatioVsResnet50: 0.125, torchMsPerImg: null, ratio: null }, { vs: null });
  // Another batch: another group, not mixed in.
  const batch2 = variant(cm, 'batch2-1536', '2999-06-01T00:00:00.000Z', { imgPerSec: 3, msPerImg: 1000 / 3, throughputRatioVsResnet50: 0.1 }, { batch: 2 });
  const recs = [older, later, batch2, ...records2];
  const groups = benchModelsGroups(recs, 2);
  assert.equal(groups.length, 2);
  assert.deepEqual([groups[0]!.hasBaseline, groups[0]!.hasTorch, groups[0]!.rows.length, groups[0]!.records.length], [true, true, 26, 28]);
  assert.deepEqual([groups[1]!.hasBaseline, groups[1]!.rows], [false, ['convmixer_1536_20']]);
  const rows = throughputRows(recs, 2);
  const r1536 = rows.find((r) => r.model === 'convmixer_1536_20')!;
  assert.deepEqual([r1536.imgPerSec, r1536.ratio, r1536.record], [2, 0.05, cm.id]);
  const r768 = rows.find((r) => r.model === 'convmixer_768_32')!;
  assert.deepEqual([r768.imgPerSec, r768.ratio, r768.record, r768.torchRecord], [5, 0.125, 'later-768', cm768.id]);
  assert.deepEqual([r768.torchImgPerSec, r768.torchVsEngine], [8, 250 / 125]); // from the torch record: engine 250 ms, PyTorch 125
  // The other group on request: only its one row measured.
  const other = throughputRows(recs, 2, { group: groups[1]!.key });
  assert.deepEqual(other.filter((r) => r.imgPerSec !== null).map((r) => [r.network, r.imgPerSec, r.ratio]), [['ConvMixer-1536/20★', 3, 0.1], ['ConvMixer-1536/20', 3, 0.1]]);
  assert.equal(other.find((r) => r.model === 'resnet50')!.note, 'no record at these settings');
  const summary = throughputSummary(recs, 2);
  assert.equal(summary.group!.key, groups[0]!.key);
  assert.deepEqual(summary.missing, ['mixer_b16_224']);
  assert.equal(summary.baselineImgPerSec, 40);
  assert.match(summary.lines.join('\n'), /Table 2: 26 models measured \(28 records\), infer, batch 8, 3 timed batches after 1 warm-up, 224x224, 2 threads, backend native-cpu/);
  assert.match(summary.lines.join('\n'), /Not measured at these settings: mixer_b16_224 \(convmixer bench models --table 2 --vs torch with the same settings resumes\)/);
  assert.match(summary.lines.join('\n'), /Other settings with records \(not shown\): infer, batch 2, .* \(1 models\)/);
  // Records of other tables, kinds or states do not count.
  assert.deepEqual(benchModelsGroups([{ ...cm, table: 'table1' }, { ...cm, status: 'failed' }, { ...cm, experiment: 'bench' }], 2), []);
});

test('throughputRows, Table 1: its five printed rows plus the ResNet-50 baseline; without records every row says so and the command is printed', () => {
  const empty = throughputRows([], 1);
  assert.deepEqual(empty.map((r) => [r.network, r.role, r.model]), [
    ['ConvMixer-1536/20', 'row', 'convmixer_1536_20'], ['ConvMixer-768/32', 'row', 'convmixer_768_32'], ['ResNet-152', 'row', 'resnet152'],
    ['DeiT-B', 'row', 'deit_base_patch16_224'], ['ResMLP-B24/8', 'row', 'resmlp_big_24_224'], ['ResNet-50', 'baseline', 'resnet50'],
  ]);
  assert.ok(empty.slice(0, 5).every((r) => r.note === 'no bench record yet' && r.imgPerSec === null && r.ratio === null));
  assert.equal(empty[5]!.note, 'the ratios\' baseline (its paper row is in Table 2); no bench record yet');
  assert.deepEqual([empty[5]!.paperImgPerSec, empty[5]!.paperRatio, empty[5]!.top1Paper], [PAPER_RESNET50_THROUGHPUT, 1, 76.32]);
  const none = throughputSummary([], 1);
  assert.equal(none.group, null);
  assert.equal(none.lines.length, 1);
  assert.match(none.lines[0]!, /No `bench models` record for Table 1 yet.*convmixer bench models --table 1 --vs torch makes them/);
  assert.equal(benchModelsCommandLine(2), 'convmixer bench models --table 2 --vs torch');
  assert.equal(benchModelsCommandLine(1, { vsTorch: false }), 'convmixer bench models --table 1');
  assert.equal(IMAGENET_EVAL_COMMAND, 'convmixer eval imagenet --model NAME --weights FILE --data DIR');

  const recs = run(join(tmp, 't1'), 1, tableBenchRows(1).rows, { ...settings, vs: null });
  assert.equal(recs.length, 6);
  const rows = throughputRows(recs, 1);
  assert.deepEqual(rows.map((r) => r.ratio), [2 / 40, 4 / 40, 10 / 40, 10 / 40, 10 / 40, 1]);
  assert.deepEqual(rows.map((r) => r.torchImgPerSec), [null, null, null, null, null, null]);
  assert.equal(rows[5]!.note, 'the ratios\' baseline (its paper row is in Table 2)');
  assert.match(throughputSummary(recs, 1).lines.join('\n'), /No PyTorch numbers in this group \(convmixer bench models --table 1 --vs torch adds them\)/);
});

test('throughputRows/Summary, PyTorch ratio vs its own ResNet-50: the column, the ranking of both engines, torchvision absent, records made before PyTorch timed ResNet-50', () => {
  // Ranking: pairs of models with both ratios, same order or swapped (by hand on four rows; ties count as alike).
  const row = (model: string, ratio: number | null, torchRatio: number | null) => ({ ...throughputRows([], 2)[0]!, model, ratio, torchRatio });
  assert.deepEqual(torchRankAgreement([row('a', 1, 1), row('b', 0.5, 0.8), row('c', 0.25, 0.9), row('d', 0.5, 0.8), row('a', 9, 9), row('e', 2, null)]), {
    // b and d (a tie with each other) faster than c here (0.5 > 0.25), c faster in PyTorch (0.9 > 0.8); the second 'a' row and 'e' (no PyTorch ratio) do not count.
    models: ['a', 'b', 'c', 'd'], pairs: 6, concordant: 4, discordant: [['b', 'c'], ['d', 'c']],
  });
  // On the fixtures: every ConvMixer (PyTorch 100 ms/img unless listed) and the seven torchvision rows; the summary states it.
  const rows = throughputRows(records2, 2);
  const agreement = torchRankAgreement(rows);
  const timed = rows.filter((r) => r.torchRatio !== null).map((r) => r.model!);
  assert.deepEqual(agreement.models, [...new Set(timed)]);
  assert.equal(agreement.models.length, 18); // Table 2's 11 ConvMixer models + ResNet-50/101/152, ViT-B/16, DeiT-B, Swin-S/T
  for (const m of ['resnet50', 'resnet101', 'resnet152', 'vit_base_patch16_224', 'deit_base_patch16_224', 'swin_small_patch4_window7_224', 'swin_tiny_patch4_window7_224']) {
    assert.ok(agreement.models.includes(m), m);
  }
  assert.equal(agreement.pairs, 18 * 17 / 2);
  assert.equal(agreement.concordant + agreement.discordant.length, agreement.pairs);
  // e.g. ConvMixer-1536/20-p14: 8 img/s here < ViT-B/16's 10, but PyTorch 20 > 12.5: swapped.
  assert.ok(agreement.discordant.some(([a, b]) => a === 'vit_base_patch16_224' && b === 'convmixer_1536_20_p14'));
  const lines = throughputSummary(records2, 2).lines.join('\n');
  assert.match(lines, /PyTorch here \(--vs torch, same settings\): ConvMixers through scripts\/bench_torch\.py .* ResNet-50 50\.00 img\/s \(record bench-models-table2-resnet50-b8-/);
  assert.ok(lines.includes(`Ranking, this engine vs PyTorch (ratios to their own ResNet-50): ${agreement.concordant} of 153 pairs of the 18 models timed by both in the same order; swapped (faster here / faster in PyTorch): `), lines);
  const listed = agreement.discordant.slice(0, 6).map(([a, b]) => `${a} / ${b}`).join(', ');
  assert.ok(lines.includes(`${listed} and ${agreement.discordant.length - 6} more.`), lines);

  // No torchvision: ResNet / ViT rows skipped with the note, ConvMixer rows keep PyTorch img/s but no ratio.
  const noTv = run(join(tmp, 't2-no-torchvision'), 2, table2Rows.filter((r) => ['convmixer_1536_20', 'resnet101', 'deit_small_patch16_224'].includes(r.id)), settings, { torchvision: false });
  const rowsNoTv = throughputRows(noTv, 2);
  const skipped = 'PyTorch side skipped: torchvision not installed (No module named \'torchvision\')';
  const cm = rowsNoTv.find((r) => r.model === 'convmixer_1536_20')!;
  assert.deepEqual([cm.torchImgPerSec, cm.torchRatio, cm.note], [5, null, `no PyTorch ratio: PyTorch has no ResNet-50 img/s in this run (${skipped})`]);
  assert.deepEqual(['resnet50', 'resnet101', 'deit_small_patch16_224'].map((m) => { const r = rowsNoTv.find((x) => x.model === m)!; return [r.imgPerSec, r.torchImgPerSec, r.torchRatio, r.note]; }),
    [[40, null, null, skipped], [10, null, null, skipped], [10, null, null, NO_TORCH_DEFINITION]]);
  assert.match(throughputSummary(noTv, 2).lines.join('\n'), /PyTorch: some rows timed with --vs torch, but PyTorch has no ResNet-50 in this group \(PyTorch side skipped: torchvision not installed .*\), so no PyTorch ratios\./);
  assert.deepEqual(torchRankAgreement(rowsNoTv), { models: [], pairs: 0, concordant: 0, discordant: [] });

  // Records made before `bench models --vs torch` timed ResNet-50 in PyTorch: no torch fields beyond torchMsPerImg, no notes.
  const old = records2.map((r) => {
    const { torchImgPerSec: _a, torchResnet50ImgPerSec: _b, torchThroughputRatioVsResnet50: _c, torchModel: _d, torchNote: _e, torchParams: _f, torchvisionVersion: _g, ...m } = r.metrics;
    return { ...r, metrics: modelInfo(r.row!).family === 'convmixer' ? m : { ...m, torchMsPerImg: null, torchPeakRssMiB: null, ratio: null } };
  });
  const oldRows = throughputRows(old, 2);
  const oldCm = oldRows.find((r) => r.model === 'convmixer_1536_20')!;
  assert.deepEqual([oldCm.torchImgPerSec, oldCm.torchRatio, oldCm.torchModel, oldCm.note], [5, null, null, 'no PyTorch ratio (record made before PyTorch timed ResNet-50)']);
  assert.equal(oldRows.find((r) => r.model === 'resnet50')!.note, 'PyTorch side timed ConvMixers only when this record was made');
  assert.match(throughputSummary(old, 2).lines.join('\n'), /PyTorch has no ResNet-50 in this group \(PyTorch side timed ConvMixers only when this record was made\)/);
});

test('throughputScatter: paper and measured points (ConvMixers apart), repeated rows drawn once, log axes', () => {
  const fig = throughputScatter([...throughputRows(records2, 2), ...throughputRows([], 1)]);
  const byName: Record<string, PlotTrace> = Object.fromEntries(fig.data.map((t) => [t.name!, t]));
  assert.deepEqual(Object.keys(byName), ['paper [reference]: ConvMixer', 'this engine here: ConvMixer', 'paper [reference]: other models', 'this engine here: other models']);
  // 13 printed ConvMixer rows, 2 ★/plain pairs; Swin-S/T measured, the MobileNetV3s have no throughput.
  assert.deepEqual(Object.values(byName).map((t) => t.x.length), [11, 11, 16, 15]);
  const here = byName['this engine here: ConvMixer']!;
  const i = here.text!.findIndex((t) => t.startsWith('convmixer_1536_20 ('));
  assert.deepEqual([here.x[i], here.y[i]], [51.62596, 0.05]);
  const paper = byName['paper [reference]: ConvMixer']!;
  const j = paper.text!.findIndex((t) => t.startsWith('ConvMixer-1536/20★ / ConvMixer-1536/20 (p7 k9'));
  assert.deepEqual([paper.x[j], paper.y[j]], [51.62596, 134 / 1739]);
  const swin = byName['paper [reference]: other models']!.text!.findIndex((t) => t.startsWith('Swin-S'));
  assert.equal(byName['paper [reference]: other models']!.x[swin], 49.606258); // exact count of the built model (printed: 50M)
  assert.deepEqual([(fig.layout!.xaxis as { type: string }).type, (fig.layout!.yaxis as { type: string }).type], ['log', 'log']);
});

test('convMixerMacs and throughputContrasts: speed-ups of kernel 9 -> 3 and patch 7 -> 14, paper vs here vs PyTorch, next to the multiply-add ratio', () => {
  // ConvMixer-1536/20 at 224: 32x32 tokens; stem 1024*1536*3*49, depthwise 20*1024*1536*81, pointwise 20*1024*1536^2, head 1536*1000.
  assert.deepEqual(convMixerMacs(resolveConfig('convmixer_1536_20'), 224), {
    stem: 231_211_008, depthwise: 2_548_039_680, pointwise: 48_318_382_080, head: 1_536_000, total: 51_099_168_768,
  });
  const c = throughputContrasts(throughputRows(records2, 2));
  assert.deepEqual(c.map((x) => [x.slower, x.faster]), [
    ['convmixer_1536_20', 'convmixer_1536_20_k3'], ['convmixer_1536_20', 'convmixer_1536_20_p14'], ['convmixer_768_32', 'convmixer_768_32_k3_p14'],
  ]);
  assert.deepEqual(c.map((x) => x.macRatio), [51_099_168_768 / 48_834_244_608, 51_099_168_768 / 12_949_352_448, 20_676_851_712 / 5_004_834_816]);
  assert.deepEqual(c.map((x) => x.depthwiseShare), [2_548_039_680 / 51_099_168_768, 2_548_039_680 / 51_099_168_768, 1_233_125_376 / 20_676_851_712]);
  assert.deepEqual(c.map((x) => x.paperSpeedup), [246 / 134, 538 / 134, 1235 / 206]);
  assert.deepEqual(c.map((x) => x.hereSpeedup), [2.5 / 2, 8 / 2, 16 / 4]);
  assert.deepEqual(c.map((x) => x.torchSpeedup), [8 / 5, 20 / 5, 40 / 8]);
  // Table 1 has none of the faster variants: nothing measured to compare.
  assert.deepEqual(throughputContrasts(throughputRows([], 1)).map((x) => [x.paperSpeedup, x.hereSpeedup]), [[null, null], [null, null], [null, null]]);
});

test('imagenetEvalRows: finished `eval imagenet` records with the printed top-1 of every row of that model', () => {
  const base = records2[0]!;
  const evalRec: RunRecord = {
    ...base, id: 'eval-imagenet-convmixer_1536_20-x', kind: 'eval', experiment: 'imagenet-eval', table: undefined, row: undefined, profile: 'quick',
    config: { model: 'convmixer_1536_20', family: 'convmixer', weights: '/w/convmixer_1536_20.safetensors', weightsSha256: 'abcdef0123456789', limit: 500 },
    metrics: { images: 500, top1: 81.2, top5: 95.5, correct1: 406, correct5: 477 },
  };
  assert.deepEqual(imagenetEvalRows([evalRec, { ...evalRec, status: 'failed' }, base]), [{
    record: 'eval-imagenet-convmixer_1536_20-x', model: 'convmixer_1536_20', weights: 'convmixer_1536_20.safetensors', weightsSha256: 'abcdef012345',
    images: 500, limit: 500, top1: 81.2, top5: 95.5,
    paperTop1: 'Table 1 ConvMixer-1536/20 81.37; Table 2 ConvMixer-1536/20★ 82.2; Table 2 ConvMixer-1536/20 81.37',
    machine: `${base.machine.cpuModel}, ${base.machine.cores} cores${base.machine.gpu ? `, GPU ${base.machine.gpu}` : ''}`, date: base.startedAt.slice(0, 10),
  }]);
  assert.deepEqual(imagenetEvalRows(records2), []);
});
