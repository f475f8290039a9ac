// Detection on the one training loop: box-aware batches (a flip moves the boxes with the pixels), decoding a known
// prediction back to the original image's VOC coordinates and scoring it (AP 1), the recipe's refusals, the constant
// schedule, a tiny YOLO-ConvMixer trained on synthetic images (the record carries test and train mAP and per-class AP,
// an interrupted run resumes bit for bit), eval detection (official results files that read back to the same mAP), the
// detection table in the runner, and box drawing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../lib/rng.ts';
import { VOC_CLASSES, vocBoxToResized, type Box, type DetDataset, type VocAnnotation } from '../lib/data/voc.ts';
import { detEvalBatch, detTrainBatch } from '../lib/data/detBatch.ts';
import { buildDetRecipe, type DetTrainConfig } from '../lib/train/detConfig.ts';
import { constantSchedule } from '../lib/train/schedule.ts';
import { trainRun } from '../lib/train/loop.ts';
import { UserError } from '../lib/errors.ts';
import { groundTruthOf, predictDetections, type DetModel } from '../lib/train/tasks/detection.ts';
import { createDetectionModel } from '../lib/models/registry.ts';
import { vocEvaluate } from '../lib/metrics/voc.ts';
import { DETECTION_EXPERIMENT } from '../lib/experiments/detection.ts';
import { planRuns } from '../lib/experiments/runner.ts';
import { tableRowRecipe } from '../lib/experiments/table.ts';
import { evalDetectionRun } from '../lib/eval/detection.ts';
import { readVocDetections } from '../lib/eval/voc.ts';
import { drawBoxes } from '../lib/views/boxes.ts';
import { saveModelWeights } from '../lib/models/timmWeights.ts';
import sharp from 'sharp';
import { convmixer } from './helpers/cli.ts';
import { finishRunRecord, newRunRecord, saveRunRecord } from '../lib/runRecord.ts';
import { detClaims, detCurveFigures, detectionView, detMeasuredRows, detPerClassFigure } from '../lib/views/detection.ts';

await tf.setBackend('cpu');

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const root = mkdtempSync(join(tmpdir(), 'convmixer-det-'));
  made.push(root);
  return root;
}

/**
 * n synthetic images at size x size from originals of 2size x size (so a resized box has x halved): a grey background
 * with one bright box of class `car` (index 6) at a seeded place; ids '000000', ...
 */
function images(n: number, size: number, seed: number, offset = 0): DetDataset {
  const rng = createRng(seed);
  const imgs = new Uint8Array(n * size * size * 3).fill(90);
  const annotations: VocAnnotation[] = [];
  for (let i = 0; i < n; i++) {
    const w0 = 2 * size, h0 = size;
    const bw = 6 + rng.int(8), bh = 6 + rng.int(8);
    const x0 = 1 + rng.int(w0 - 2 * bw - 2), y0 = 1 + rng.int(h0 - bh - 2);
    const voc: Box = [x0, y0, x0 + 2 * bw - 1, y0 + bh - 1];
    annotations.push({ id: String(offset + i).padStart(6, '0'), width: w0, height: h0, objects: [{ cls: 6, name: 'car', box: voc, difficult: false }] });
    const r = vocBoxToResized(voc, w0, h0, size);
    for (let y = Math.floor(r[1]); y < Math.ceil(r[3]); y++) for (let x = Math.floor(r[0]); x < Math.ceil(r[2]); x++) imgs.set([240, 40, 40], ((i * size + y) * size + x) * 3);
  }
  return {
    name: 'synthetic', split: 'test', n, size, images: imgs,
    boxes: annotations.map((a) => a.objects.map((o) => ({ cls: o.cls, box: vocBoxToResized(o.box, a.width, a.height, size), difficult: o.difficult }))),
    ids: annotations.map((a) => a.id), origSizes: annotations.map((a): [number, number] => [a.width, a.height]), annotations, classes: [...VOC_CLASSES],
  };
}

test('detTrainBatch: a flip mirrors the image and its boxes together; no augmentation leaves both unchanged', () => {
  const ds = images(6, 28, 1);
  const mean = [0, 0, 0], std = [1, 1, 1];
  const plain = detTrainBatch(ds, Uint32Array.from([0, 1, 2, 3, 4, 5]), { hflip: false, scaleMin: 1 }, createRng(3), mean, std);
  assert.deepEqual(plain.boxes, ds.boxes.map((b) => b.map((o) => ({ cls: o.cls, box: o.box }))));
  assert.deepEqual(Array.from(plain.x.subarray(0, 28 * 28 * 3)), Array.from(ds.images.subarray(0, 28 * 28 * 3), (v) => Math.fround(v / 255)));
  const flipped = detTrainBatch(ds, Uint32Array.from([0, 1, 2, 3, 4, 5]), { hflip: true, scaleMin: 1 }, createRng(3), mean, std);
  let flips = 0;
  for (let i = 0; i < 6; i++) {
    const [x0, y0, x1, y1] = ds.boxes[i]![0]!.box;
    const got = flipped.boxes[i]![0]!.box;
    const isFlipped = got[0] !== x0;
    if (isFlipped) {
      flips++;
      assert.deepEqual(got, [28 - x1, y0, 28 - x0, y1]);
      // The bright pixels moved with the box: column x of the flipped image is column 27 - x of the original.
      for (let x = 0; x < 28; x++) assert.equal(flipped.x[((i * 28 + 14) * 28 + x) * 3], Math.fround(ds.images[((i * 28 + 14) * 28 + 27 - x) * 3]! / 255));
    } else {
      assert.deepEqual(got, [x0, y0, x1, y1]);
    }
  }
  assert.ok(flips > 0 && flips < 6, `a fair coin over 6 images: ${flips} flips`);
  const ev = detEvalBatch(ds, 4, 10, mean, std);
  assert.equal(ev.n, 2);
});

test('predictDetections: a known YOLO output decodes to the box in the original image (1-based VOC pixels) and scores AP 1', () => {
  const ds = images(2, 28, 5);
  const model = createDetectionModel('yolo_convmixer_256_8', { dim: 4, depth: 1, kernelSize: 3, patchSize: 7, hiddenWidth: 4, inputSize: 28 }, { init: 'zeros' }) as DetModel;
  // Each image: in the cell of its box centre, class car with score 1 and box 1 = the resized ground truth exactly.
  const S = 7, depth = 30, cell = 28 / S;
  const out = new Float32Array(2 * S * S * depth);
  for (let i = 0; i < 2; i++) {
    const [x0, y0, x1, y1] = ds.boxes[i]![0]!.box;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const r = Math.floor(cy / cell), c = Math.floor(cx / cell);
    const at = ((i * S + r) * S + c) * depth;
    out[at + 6] = 1;
    out.set([0.9, cx / cell - c, cy / cell - r, (x1 - x0) / cell, (y1 - y0) / cell], at + 20);
  }
  const fake = { ...model, apply: (x: tf.Tensor4D) => tf.tensor4d(out.subarray(0, x.shape[0] * S * S * depth), [x.shape[0], S, S, depth]) } as DetModel;
  const p = predictDetections(fake, ds, 2, { loss: { lambdaCoord: 5, lambdaNoobj: 0.5, noobjOnUnresponsible: true, reduction: 'batchMean' }, confThreshold: 0, nmsIou: 0.5 });
  model.dispose();
  assert.equal(p.detections.length, 2);
  for (const [i, d] of p.detections.entries()) {
    assert.equal(d.imageId, ds.ids[i]);
    assert.equal(d.cls, 6);
    assert.ok(Math.abs(d.score - 0.9) < 1e-6);
    const want = ds.annotations[i]!.objects[0]!.box;
    for (let k = 0; k < 4; k++) assert.ok(Math.abs(d.box[k]! - want[k]!) < 1e-4, `image ${i} coordinate ${k}: ${d.box[k]} vs ${want[k]}`);
  }
  assert.ok(p.loss !== null && p.loss > 0);
  const r = vocEvaluate(groundTruthOf(ds), p.detections);
  assert.equal(r.perClass[6]!.ap07, 1);
  assert.equal(r.classesInMean, 1);
  assert.equal(r.map07, 1);
});

test('detection recipe: class count 20, refusals name the key; the constant schedule', () => {
  const r = buildDetRecipe('quick', 'yolo_convmixer_256_8');
  assert.equal((r.model as { numClasses: number }).numClasses, 20);
  assert.equal(r.lrSchedule, 'constant');
  assert.equal(r.weightDecay, 0);
  assert.throws(() => buildDetRecipe('quick', 'unet_camvid'), (e: unknown) => e instanceof UserError && /is a segmentation model, expected a detection model/.test(e.message));
  assert.throws(() => buildDetRecipe('quick', 'yolo_convmixer_256_8', { nmsIou: 0 }), (e: unknown) => e instanceof UserError && /'nmsIou'/.test(e.message));
  const s = constantSchedule(3e-4);
  assert.equal(s.forStep(0, 0, 10), 3e-4);
  assert.equal(s.forStep(7, 9, 10), 3e-4);
});

const TINY_MODEL = { dim: 8, depth: 1, kernelSize: 3, patchSize: 7, hiddenWidth: 16, inputSize: 28 };
function tinyConfig(epochs: number, runId: string): DetTrainConfig {
  const recipe = buildDetRecipe('smoke', 'yolo_convmixer_256_8', { model: TINY_MODEL, epochs, batchSize: 4, evalBatchSize: 4, trainSubset: 0, testSubset: 0, lrMax: 1e-3, trainEvalSubset: 0 });
  return { ...recipe, run: { runId, resume: false, backend: 'cpu', explicit: [], checkpoint: true } };
}

test('detection training: the record has test and train mAP, per-class AP; an interrupted run resumes bit for bit', async () => {
  const data = { train: images(12, 28, 11), test: images(4, 28, 12, 100) };
  const d1 = tmp(), d2 = tmp();
  const hooks = (root: string) => ({ resultsDir: join(root, 'results'), checkpointRoot: join(root, 'ckpt'), detData: data });
  const full = await trainRun(tinyConfig(2, 'det-full'), hooks(d1));
  const m = full.record.metrics;
  full.model.dispose();
  assert.equal(full.record.status, 'finished');
  for (const key of ['testMAP', 'testMAPAll', 'trainMAP', 'trainMAPAll', 'testLoss', 'bestTestMAP', 'testAP.car']) assert.equal(typeof m[key], 'number', key);
  assert.equal(m['testAP.dog'], null, 'a class without positives has no AP');
  assert.equal(full.record.epochs?.length, 2);
  assert.ok(full.record.epochs!.every((e) => typeof e['trainMAP'] === 'number' && typeof e['testMAP'] === 'number'));

  // Interrupted after epoch 1, then resumed: the same numbers as the uninterrupted run.
  const ctrl = new AbortController();
  await assert.rejects(trainRun(tinyConfig(2, 'det-full'), { ...hooks(d2), signal: ctrl.signal, onEpoch: () => ctrl.abort() }), /interrupted in epoch 2/);
  const resumed = await trainRun({ ...tinyConfig(2, 'det-full'), run: { ...tinyConfig(2, 'det-full').run, resume: true } }, hooks(d2));
  resumed.model.dispose();
  for (const key of ['testMAP', 'trainMAP', 'testLoss', 'trainLoss']) assert.equal(resumed.record.metrics[key], m[key], key);

  // eval detection on the same data: the same mAP, and its results files read back to it.
  const ev = await evalDetectionRun('det-full', { resultsDir: join(d1, 'results'), predictionsDir: join(d1, 'pred'), backend: 'cpu', data, keepImages: 2 });
  assert.equal(ev.metrics['testMAP'], m['testMAP']);
  assert.equal(ev.metrics['trainMAP'], m['trainMAP']);
  assert.ok((ev.metrics['inferImgPerSec'] as number) > 0);
  const read = readVocDetections(join(d1, 'pred', 'det-full-voc'), 'test', VOC_CLASSES);
  assert.equal(read.detections.length, ev.metrics['detections']);
  assert.ok(Math.abs(vocEvaluate(groundTruthOf(data.test), read.detections).map07 - (m['testMAP'] as number)) < 1e-9);
  const kept = JSON.parse(readFileSync(join(d1, 'pred', 'det-full.boxes.json'), 'utf8')) as { images: { id: string; truth: unknown[] }[] };
  assert.deepEqual(kept.images.map((k) => k.id), ['000100', '000101']);
  assert.equal(kept.images[0]!.truth.length, 1);
});

test('detection table: one row, its recipe per profile (the seed model at paper, from ImageNet weights)', () => {
  const row = DETECTION_EXPERIMENT.rows[0]!;
  const quick = tableRowRecipe(DETECTION_EXPERIMENT, row, 'quick', 0) as ReturnType<typeof buildDetRecipe>;
  assert.equal(quick.modelName, 'yolo_convmixer_256_8');
  assert.equal(quick.epochs, DETECTION_EXPERIMENT.protocols.quick.epochs);
  assert.equal(quick.backboneWeights, null);
  const paper = tableRowRecipe(DETECTION_EXPERIMENT, row, 'paper', 0) as ReturnType<typeof buildDetRecipe>;
  assert.equal(paper.modelName, 'yolo_convmixer_768_32');
  assert.equal((paper.model as { inputSize: number }).inputSize, 448);
  assert.equal(paper.dataset, 'voc2012');
  assert.match(String(paper.backboneWeights), /convmixer_768_32/);
  assert.deepEqual(planRuns(DETECTION_EXPERIMENT, 'quick', 2).map((r) => r.runId), ['detection-yolo-convmixer-quick-s0', 'detection-yolo-convmixer-quick-s1']);
});

test('drawBoxes: outlines of the given thickness inside the box edges, clipped to the image; the input is not changed', () => {
  const w = 8, h = 6;
  const img = new Uint8Array(w * h * 3);
  const out = drawBoxes(img, w, h, [{ box: [1, 1, 5, 4], color: [9, 8, 7] }, { box: [6, 4, 20, 20], color: [1, 2, 3] }], 1);
  const at = (x: number, y: number) => Array.from(out.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
  assert.deepEqual(at(1, 1), [9, 8, 7]);
  assert.deepEqual(at(4, 3), [9, 8, 7]);
  assert.deepEqual(at(4, 1), [9, 8, 7]);
  assert.deepEqual(at(2, 2), [0, 0, 0], 'inside stays');
  assert.deepEqual(at(5, 1), [0, 0, 0], 'x1 = 5 is the edge: pixel column 5 is outside');
  assert.deepEqual(at(7, 5), [1, 2, 3], 'clipped to the image: the last pixel is an edge');
  assert.deepEqual(at(6, 4), [1, 2, 3]);
  assert.ok(img.every((v) => v === 0));
});

test('convmixer predict with a detection model: boxes in the image\'s own pixels, --out draws them; refusals are one line', async () => {
  const dir = tmp();
  // A yolo_convmixer_256_8 whose output is a constant grid: every cell says 'dog' with one box covering the centre.
  const model = createDetectionModel('yolo_convmixer_256_8', {}, { init: 'zeros' });
  const bias = new Float32Array(7 * 7 * 30);
  for (let cell = 0; cell < 49; cell++) bias.set([...Array(11).fill(0), 1, ...Array(8).fill(0), 0.8, 0.5, 0.5, 3.5, 3.5], cell * 30);
  model.params['yolo_head.fc2.bias']!.assign(tf.tensor1d(bias));
  const weights = join(dir, 'yolo.safetensors');
  saveModelWeights(model as never, weights);
  model.dispose();
  const image = join(dir, 'img.png');
  await sharp({ create: { width: 140, height: 70, channels: 3, background: { r: 30, g: 30, b: 30 } } }).png().toFile(image);
  const out = join(dir, 'boxes.png');
  const r = convmixer(['predict', '--model', 'yolo_convmixer_256_8', '--weights', weights, '--out', out, '--json', image]);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { detections: { name: string; score: number; box: number[] }[] }[];
  // All 49 boxes score 0.8; NMS keeps equal scores in cell order, so the first kept box is cell (0, 0)'s.
  const first = res[0]!.detections[0]!;
  assert.equal(first.name, 'dog');
  assert.ok(Math.abs(first.score - 0.8) < 1e-5);
  // Cell (0, 0): centre (0.5 / 7) of the image, half size 3.5 / 7 / 2 = 1/4: [-1/6, ...] clipped to 1; in 140x70 pixels.
  const cx = 0.5 / 7, half = 0.25;
  const want = [Math.max(1, (cx - half) * 140 + 1), Math.max(1, (cx - half) * 70 + 1), (cx + half) * 140, (cx + half) * 70];
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(first.box[k]! - want[k]!) < 1e-3, `coordinate ${k}: ${first.box[k]} vs ${want[k]}`);
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [140, 70]);
  let green = 0;
  for (let i = 0; i < data.length; i += 3) if (data[i + 1] === 200 && data[i] === 20) green++;
  assert.ok(green > 100, `green box pixels drawn: ${green}`);

  for (const [args, pattern] of [
    [['--out', join(dir, 'x.png'), image, image], /^convmixer predict: --out draws one image; got 2 IMAGE files$/],
    [['--threshold', '2', image], /^convmixer predict: --threshold/],
  ] as const) {
    const bad = convmixer(['predict', '--model', 'yolo_convmixer_256_8', '--weights', weights, ...args]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr.trim(), pattern);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  }
});

test('detection view: the measured row, the overfitting verdict from train vs test mAP, curves and per-class AP from the records', () => {
  const dir = tmp();
  const save = (trainMAP: number, testMAP: number) => {
    const epochs = [1, 2].map((epoch) => ({ epoch, lr: 1e-4, trainLoss: 10 / epoch, testLoss: 12, trainMAP: trainMAP * epoch / 2, testMAP: testMAP * epoch / 2, gradNorm: 1, seconds: 60, imgPerSec: 12.75 }));
    let train = newRunRecord({ id: 'detection-yolo-convmixer-quick-s0', kind: 'train', experiment: 'detection', table: 'detection', row: 'yolo-convmixer', profile: 'quick', seed: 0, backend: 'test',
      // the table's current quick recipe (a record of another recipe would be stale and not shown)
      config: { ...tableRowRecipe(DETECTION_EXPERIMENT, DETECTION_EXPERIMENT.rows[0]!, 'quick', 0), trainImages: 765 } });
    train = finishRunRecord({ ...train, epochs }, { testMAP, trainMAP, testMAPAll: testMAP, bestTestMAP: testMAP, bestEpoch: 2, params: 12_345_678, 'testAP.car': 0.25, 'testAP.dog': null });
    saveRunRecord(train, dir);
    let ev = newRunRecord({ id: 'eval-detection-yolo-convmixer-quick-s0', kind: 'eval', experiment: 'detection-eval', profile: 'quick', seed: 0, backend: 'test', config: {} });
    ev = finishRunRecord(ev, { testMAP, trainMAP, testMAPAll: testMAP, inferImgPerSec: 40, 'testAP.car': 0.25, 'trainAP.car': 0.5 });
    saveRunRecord(ev, dir);
  };
  save(0.6, 0.05);
  const view = detectionView('quick', 1, dir);
  const [row] = detMeasuredRows(view);
  assert.deepEqual({ ...row, trainMinutesPerEpoch: Math.round(row!.trainMinutesPerEpoch! * 1000) / 1000 }, {
    label: 'YOLO-ConvMixer', model: 'yolo_convmixer_256_8', params: 12_345_678, epochs: 2, trainMAP: 0.6, testMAP: 0.05, testMAPAll: 0.05,
    bestTestMAP: 0.05, bestEpoch: 2, inferImgPerSec: 40, trainMinutesPerEpoch: 1, // 765 images at 12.75 img/s = 60 s
  });
  const [claim] = detClaims(view);
  assert.equal(claim!.verdict, 'held');
  assert.match(claim!.detail, /train mAP@0\.5 60% vs test 5% after 2 epochs/);
  const curves = detCurveFigures(view);
  assert.deepEqual(curves.map.data.map((t) => (t as { y: number[] }).y), [[30, 60], [2.5, 5]]);
  const perClass = detPerClassFigure(view)!;
  const car = VOC_CLASSES.indexOf('car');
  assert.deepEqual(perClass.data.map((t) => (t as { y: (number | null)[] }).y[car]), [25, 50]);
  // Close train and test mAP: no dramatic overfitting.
  save(0.12, 0.08);
  assert.equal(detClaims(detectionView('quick', 1, dir))[0]!.verdict, 'did not hold');
  assert.equal(detClaims(detectionView('paper', 1, dir))[0]!.verdict, 'not run');
});
