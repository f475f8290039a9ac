// `convmixer eval segmentation --run ID`: re-evaluates a finished segmentation training run from its final weights on
// its evaluation split, timing the forward passes (inference images/s, the seed's third column, measured for every
// model in one process on a quiet machine so the ratio between models means something), and keeps the predicted label
// maps of the first frames as a small PNG for the notebook's picture grid. Writes a run record (kind 'eval',
// id eval-<run id>) that names the training run; re-running it replaces that record (a new measurement).
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { atomicWrite, REPO_ROOT, repoRelative } from '../io.ts';
import { finishRunRecord, newRunRecord, saveRunRecord, RESULTS_DIR, type RunRecord } from '../runRecord.ts';
import { createSegmentationModel } from '../models/registry.ts';
import { loadTimmWeights } from '../models/timmWeights.ts';
import { segEvalBatch } from '../data/segBatch.ts';
import { finalWeightsOf, readTrainRecord, recipeOfRecord } from './trainRecord.ts';
import { confusionMatrix, segmentationScores } from '../metrics/segmentation.ts';
import { segRecipeSchema, type SegRecipe } from '../train/segConfig.ts';
import { loadSegSplit } from '../train/tasks/segmentation.ts';
import type { SegDataset } from '../data/segmentation.ts';

export interface SegEvalOptions {
  resultsDir?: string;
  dataRoot?: string;
  /** Frames per forward pass (default: the run's evaluation batch). */
  batchSize?: number;
  /** Frames whose predictions are kept as a PNG (the first ones of the split). */
  keepFrames?: number;
  /** Folder for the prediction PNGs (default reports/predictions). */
  predictionsDir?: string;
  backend: string;
  /** The evaluation frames, instead of loading the recipe's split (tests). */
  data?: SegDataset;
}

/** The recipe stored in a segmentation training record (its config holds the recipe keys plus bookkeeping). */
export function segRecipeOfRecord(record: RunRecord, where: string): SegRecipe {
  return recipeOfRecord(segRecipeSchema, record, where, 'segmentation') as SegRecipe;
}

/** Label maps (class indices) of `n` frames stacked vertically as an 8-bit grey PNG. */
async function labelMapPng(labels: Uint8Array, n: number, h: number, w: number): Promise<Buffer> {
  return sharp(Buffer.from(labels.buffer, labels.byteOffset, n * h * w), { raw: { width: w, height: n * h, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 9 }).toBuffer();
}

/** Reads a PNG written by labelMapPng back into class indices ([frames * h * w]). */
export async function readLabelMapPng(file: string): Promise<{ labels: Uint8Array; width: number; height: number }> {
  const meta = await sharp(file).metadata();
  if ((meta.channels as number) !== 1) throw new UserError(`${file}: expected a one-channel label map, got ${meta.channels} channels`);
  // sharp decodes grey to sRGB unless asked for the one channel.
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { labels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

export async function evalSegmentationRun(runId: string, opts: SegEvalOptions, log: (line: string) => void = () => {}): Promise<RunRecord> {
  const resultsDir = opts.resultsDir ?? RESULTS_DIR;
  const { record: train, path } = readTrainRecord(runId, resultsDir);
  const recipe = segRecipeOfRecord(train, path);
  const weightsFile = finalWeightsOf(train, runId, 'segmentation');
  const ds: SegDataset = opts.data ?? await loadSegSplit({ ...recipe, run: { resume: false, backend: 'auto', explicit: [], checkpoint: false, dataRoot: opts.dataRoot } }, recipe.evalSplit, recipe.testSubset);
  const model = createSegmentationModel(recipe.modelName, recipe.model, { init: 'zeros' });
  try {
    loadTimmWeights(model, weightsFile, recipe.modelName);
    const batch = opts.batchSize ?? recipe.evalBatchSize;
    const keep = Math.min(opts.keepFrames ?? 6, ds.n);
    const k = ds.classes.length, h = ds.height, w = ds.width;
    const cm = new Float64Array(k * k);
    const kept = new Uint8Array(keep * h * w);
    // One warm-up batch (kernel set-up, buffer pools), then every batch of the split timed: forward + read-back only.
    tf.tidy(() => { const b = segEvalBatch(ds, 0, batch); model.apply(tf.tensor4d(b.x, [b.n, h, w, 3]), { training: false }).dataSync(); });
    let forwardMs = 0;
    for (let start = 0; start < ds.n; start += batch) {
      const b = segEvalBatch(ds, start, batch);
      const x = tf.tensor4d(b.x, [b.n, h, w, 3]);
      const t0 = performance.now();
      const logits = model.apply(x, { training: false });
      const pred = tf.argMax(logits, 3);
      const labels = pred.dataSync() as Int32Array;
      forwardMs += performance.now() - t0;
      tf.dispose([x, logits, pred]);
      confusionMatrix(labels, b.labels, k, ds.ignoreIndex, cm);
      for (let i = 0; i < b.n && start + i < keep; i++) kept.set(labels.subarray(i * h * w, (i + 1) * h * w), (start + i) * h * w);
      log(`  ${Math.min(start + batch, ds.n)}/${ds.n} frames`);
    }
    const s = segmentationScores(cm, k, ds.classes);
    // The kept frames' predictions, and the same frames with their ground truth (void = ignoreIndex), so the notebook
    // draws the grid without the dataset; --frames 0 keeps none.
    const predDir = opts.predictionsDir ?? join(REPO_ROOT, 'reports', 'predictions');
    const files = keep === 0 ? null : { pred: join(predDir, `${runId}.png`), frames: join(predDir, `${runId}.frames.png`), truth: join(predDir, `${runId}.truth.png`) };
    if (files) {
      atomicWrite(files.pred, await labelMapPng(kept, keep, h, w));
      atomicWrite(files.frames, await sharp(Buffer.from(ds.images.subarray(0, keep * h * w * 3)), { raw: { width: w, height: keep * h, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer());
      atomicWrite(files.truth, await labelMapPng(ds.labels.subarray(0, keep * h * w), keep, h, w));
    }
    let record = newRunRecord({
      id: `eval-${runId}`, kind: 'eval', experiment: 'segmentation-eval', profile: train.profile, seed: train.seed, backend: opts.backend,
      table: train.table, row: train.row,
      config: { run: runId, model: recipe.modelName, dataset: recipe.dataset, split: recipe.evalSplit, height: h, width: w, batch, frames: ds.n,
        weightsFile: repoRelative(weightsFile), trainRecordCommit: train.gitCommit },
    });
    record = finishRunRecord(record, {
      testMIoU: s.mIoU, testPixelAcc: s.pixelAccuracy, testDice: s.meanDice,
      ...Object.fromEntries(ds.classes.map((c, i) => [`testIoU.${c}`, s.perClassIoU[i] ?? null])),
      inferImgPerSec: ds.n / (forwardMs / 1000), inferMsPerImg: forwardMs / ds.n,
      predictionsFile: files && repoRelative(files.pred), framesFile: files && repoRelative(files.frames), truthFile: files && repoRelative(files.truth), predictionFrames: keep,
      frameIds: ds.ids.slice(0, keep).join(' '),
    });
    saveRunRecord(record, resultsDir);
    return record;
  } finally {
    model.dispose();
  }
}
