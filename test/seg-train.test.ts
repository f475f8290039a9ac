// Segmentation on the one training loop: the recipe (class count from the dataset, refusals), the seed's step lr
// schedule, a tiny Unet trained on synthetic frames (the record carries mIoU, pixel accuracy, Dice and per-class IoU,
// and an interrupted run resumes bit for bit), and the segmentation experiment table in the runner.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../lib/rng.ts';
import { IGNORE_INDEX, type SegDataset } from '../lib/data/segmentation.ts';
import { buildSegRecipe, type SegTrainConfig } from '../lib/train/segConfig.ts';
import { stepSchedule } from '../lib/train/schedule.ts';
import { trainRun } from '../lib/train/loop.ts';
import { UserError } from '../lib/errors.ts';
import { SEGMENTATION_EXPERIMENT } from '../lib/experiments/segmentation.ts';
import { planRuns, runOwners } from '../lib/experiments/runner.ts';
import { tableRowRecipe } from '../lib/experiments/table.ts';
import { evalSegmentationRun, readLabelMapPng } from '../lib/eval/segmentation.ts';
import { segEvalBatch } from '../lib/data/segBatch.ts';

await tf.setBackend('cpu');

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
function dirs(): { resultsDir: string; checkpointRoot: string } {
  const root = mkdtempSync(join(tmpdir(), 'convmixer-seg-'));
  made.push(root);
  return { resultsDir: join(root, 'results'), checkpointRoot: join(root, 'checkpoints') };
}

const CLASSES = ['sky', 'road', 'car'];
/** n frames of 16x16: sky on top (blue), road below (grey), a red car box at a seeded place; a few void pixels. */
function frames(n: number, seed: number): SegDataset {
  const rng = createRng(seed), h = 16, w = 16;
  const images = new Uint8Array(n * h * w * 3), labels = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) {
    const cx = 2 + rng.int(8), cy = 8 + rng.int(4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const car = x >= cx && x < cx + 5 && y >= cy && y < cy + 3;
      const c = car ? 2 : y < 7 ? 0 : 1;
      const p = (i * h + y) * w + x;
      labels[p] = x === 0 && y === 0 ? IGNORE_INDEX : c;
      const rgb = c === 0 ? [60, 90, 200] : c === 1 ? [120, 120, 120] : [200, 40, 40];
      for (let k = 0; k < 3; k++) images[p * 3 + k] = Math.min(255, rgb[k]! + rng.int(30));
    }
  }
  return { name: `synthetic-${seed}`, split: 'train', n, height: h, width: w, classes: CLASSES, ignoreIndex: IGNORE_INDEX,
    palette: [[0, 0, 255], [128, 128, 128], [255, 0, 0]], images, labels, ids: Array.from({ length: n }, (_, i) => `f${i}`),
    mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
}
const segData = { train: frames(12, 1), test: { ...frames(6, 2), split: 'test' } };

function tinyConfig(runId: string, epochs = 2): SegTrainConfig {
  const recipe = buildSegRecipe('smoke', 'unet_camvid', { model: { baseWidth: 2, numClasses: 3 }, epochs, batchSize: 4, evalBatchSize: 3,
    height: 16, width: 16, trainSubset: 0, testSubset: 0, experiment: 'test-seg', lrMax: 0.01 });
  // The synthetic data has 3 classes: the recipe's model follows the data here (buildSegRecipe set CamVid's 11).
  return { ...recipe, model: { ...recipe.model, numClasses: 3 }, run: { runId, resume: false, backend: 'cpu', explicit: [], checkpoint: true } };
}

test('segmentation recipe: classes from the dataset, one-line refusals for a classification model and a bad value', () => {
  const r = buildSegRecipe('quick', 'convmixer_unet_camvid');
  assert.equal(r.model['numClasses'], 11);
  assert.deepEqual([r.height, r.width, r.batchSize, r.lrSchedule, r.loss, r.task], [96, 128, 8, 'step', 'dice', 'segmentation']);
  assert.equal(buildSegRecipe('paper', 'unet').model['numClasses'], 19); // Cityscapes' 19 train ids
  assert.throws(() => buildSegRecipe('quick', 'convmixer_256_8'), (e: Error) => e instanceof UserError && /classification model, expected a segmentation model/.test(e.message));
  assert.throws(() => buildSegRecipe('quick', 'unet_camvid', { batchSize: 0 }), (e: Error) => e instanceof UserError && /'batchSize'/.test(e.message));
  assert.throws(() => buildSegRecipe('quick', 'no_such_model'), /unknown model 'no_such_model'/);
});

test("step schedule: the seed's 1e-3 for the first half of the epochs, then 2e-4 (odd counts: the first part is longer)", () => {
  const s = stepSchedule(1e-3, 10, 0.2);
  assert.deepEqual([0, 4, 5, 9].map((e) => s.forStep(e, 0, 10)), [1e-3, 1e-3, 2e-4, 2e-4]);
  const odd = stepSchedule(1e-3, 5, 0.2);
  assert.deepEqual([0, 1, 2, 3, 4].map((e) => odd.forStep(e, 3, 10)), [1e-3, 1e-3, 1e-3, 2e-4, 2e-4]);
  assert.equal(stepSchedule(1e-3, 1, 0.2).forStep(0, 0, 1), 1e-3);
});

test('segmentation training: a tiny Unet learns the synthetic scenes; the record has mIoU, pixel accuracy, Dice, per-class IoU; resume is bit for bit', async () => {
  const straightDirs = dirs();
  const straight = await trainRun(tinyConfig('seg-straight', 3), { segData, ...straightDirs });
  const m = straight.record.metrics;
  assert.equal(straight.record.status, 'finished');
  for (const k of ['testMIoU', 'testPixelAcc', 'testDice', 'bestTestMIoU', 'testIoU.sky', 'testIoU.road', 'testIoU.car']) {
    const v = m[k];
    assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${k} = ${v}`);
  }
  assert.equal(m['testMIoU'], straight.epochs[2]!['testMIoU']);
  // The mean of the per-class IoUs is the mIoU (all three classes occur in the test frames).
  const perClass = ['sky', 'road', 'car'].map((c) => m[`testIoU.${c}`] as number);
  assert.ok(Math.abs(perClass.reduce((a, b) => a + b, 0) / 3 - (m['testMIoU'] as number)) < 1e-12);
  // The Dice loss falls and the big classes are found (sky and road are half the frame each, nearly).
  assert.ok(straight.epochs[2]!.trainLoss < straight.epochs[0]!.trainLoss, JSON.stringify(straight.epochs.map((e) => e.trainLoss)));
  assert.ok((m['testPixelAcc'] as number) > 0.5, `pixel accuracy ${m['testPixelAcc']}`);
  assert.equal(straight.record.config['params'], Object.values(straight.model.params).reduce((s, v) => s + v.size, 0));

  // eval segmentation: the final weights re-evaluated give the record's metrics; the kept predictions are the argmax.
  const ev = await evalSegmentationRun('seg-straight', { resultsDir: straightDirs.resultsDir, predictionsDir: join(straightDirs.resultsDir, 'pred'),
    backend: 'cpu', keepFrames: 2, batchSize: 4, data: segData.test });
  for (const k of ['testMIoU', 'testPixelAcc', 'testDice', 'testIoU.car']) assert.equal(ev.metrics[k], m[k], k);
  assert.equal(ev.id, 'eval-seg-straight');
  assert.ok((ev.metrics['inferImgPerSec'] as number) > 0);
  const png = await readLabelMapPng(join(straightDirs.resultsDir, 'pred', 'seg-straight.png'));
  const x = tf.tensor4d(segEvalBatch(segData.test, 0, 2).x, [2, 16, 16, 3]);
  const expected = tf.tidy(() => tf.argMax(straight.model.apply(x, { training: false }), 3).dataSync());
  x.dispose();
  assert.deepEqual([png.width, png.height], [16, 32]);
  assert.deepEqual(Array.from(png.labels), Array.from(expected));
  // A record written before the recipe had `precision` (Unet's quick run) is still evaluated, as fp32.
  const recordPath = join(straightDirs.resultsDir, 'seg-straight.json');
  const saved = JSON.parse(readFileSync(recordPath, 'utf8'));
  assert.equal(saved.config.precision, 'fp32');
  delete saved.config.precision;
  writeFileSync(recordPath, JSON.stringify(saved));
  const evOld = await evalSegmentationRun('seg-straight', { resultsDir: straightDirs.resultsDir, predictionsDir: join(straightDirs.resultsDir, 'pred'),
    backend: 'cpu', keepFrames: 0, batchSize: 4, data: segData.test });
  assert.equal(evOld.metrics['testMIoU'], m['testMIoU']);
  await assert.rejects(evalSegmentationRun('no-such-run', { resultsDir: straightDirs.resultsDir, backend: 'cpu' }), (e: Error) => e instanceof UserError && /--run: no run record/.test(e.message));
  straight.model.dispose();

  // Interrupted after epoch 2 of 3, then resumed: equal to 3 epochs straight (lr, losses, metrics; the augmentation
  // rng state is restored too).
  const cfg = tinyConfig('seg-split', 3);
  const d2 = dirs();
  const ctl = new AbortController();
  await assert.rejects(trainRun(cfg, { segData, ...d2, signal: ctl.signal, onEpoch: (e) => { if (e.epoch === 2) ctl.abort(); } }), /interrupted in epoch 3/);
  const resumed = await trainRun({ ...cfg, run: { ...cfg.run, resume: true } }, { segData, ...d2 });
  const strip = (es: typeof resumed.epochs) => es.map(({ seconds: _s, imgPerSec: _i, ...e }) => e);
  assert.deepEqual(strip(resumed.epochs), strip(straight.epochs));
  assert.equal(resumed.record.metrics['testMIoU'], m['testMIoU']);
  resumed.model.dispose();
});

test('segmentation table: two rows that own their runs, equal conditions except the model, narrowed at smoke', () => {
  const owners = runOwners(SEGMENTATION_EXPERIMENT, 'quick');
  assert.deepEqual([...owners.values()].map((o) => `${o.owner.id}/${o.row.id}`), ['segmentation/unet', 'segmentation/convmixer-unet']);
  assert.deepEqual(planRuns(SEGMENTATION_EXPERIMENT, 'quick', 2).map((r) => r.runId),
    ['segmentation-unet-quick-s0', 'segmentation-unet-quick-s1', 'segmentation-convmixer-unet-quick-s0', 'segmentation-convmixer-unet-quick-s1']);
  const [u, c] = SEGMENTATION_EXPERIMENT.rows.map((row) => tableRowRecipe(SEGMENTATION_EXPERIMENT, row, 'quick', 0));
  const { model: _m1, modelName: _n1, ...restU } = u! as Record<string, unknown>;
  const { model: _m2, modelName: _n2, ...restC } = c! as Record<string, unknown>;
  assert.deepEqual(restU, restC);
  const smoke = tableRowRecipe(SEGMENTATION_EXPERIMENT, SEGMENTATION_EXPERIMENT.rows[0]!, 'smoke', 0);
  assert.equal((smoke.model as Record<string, unknown>)['baseWidth'], 4);
});
