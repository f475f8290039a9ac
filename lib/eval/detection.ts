// `convmixer eval detection --run ID`: re-evaluates a finished detection training run from its final weights: mAP@0.5 on
// its evaluation split and on its training images (the seed's overfitting, measured), per-class AP, inference images/s
// (forward passes of the evaluation split, timed in this process), the detections written as official VOC results files
// (comp4_det_<split>_<class>.txt, so `convmixer eval voc` or the devkit can score them), and the first test images with
// their boxes kept for the notebook's picture. Writes a run record (kind 'eval', id eval-<run id>) naming the training run.
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { join } from 'node:path';
import { atomicWrite, REPO_ROOT, repoRelative } from '../io.ts';
import { finishRunRecord, newRunRecord, saveRunRecord, RESULTS_DIR, type RunRecord } from '../runRecord.ts';
import { createDetectionModel } from '../models/registry.ts';
import { loadYoloWeights } from '../models/yoloConvMixer.ts';
import { detEvalBatch } from '../data/detBatch.ts';
import type { DetDataset } from '../data/voc.ts';
import { vocEvaluate } from '../metrics/voc.ts';
import { detRecipeSchema, type DetRecipe } from '../train/detConfig.ts';
import { firstImages, groundTruthOf, loadDetSplit, predictDetections, type DetModel } from '../train/tasks/detection.ts';
import { writeVocDetections } from './voc.ts';
import { finalWeightsOf, readTrainRecord, recipeOfRecord } from './trainRecord.ts';

export interface DetEvalOptions {
  resultsDir?: string;
  dataRoot?: string;
  /** Images per forward pass (default: the run's evaluation batch). */
  batchSize?: number;
  /** Test images whose boxes are kept for the notebook's picture (the first ones of the split). */
  keepImages?: number;
  /** Predicted boxes of a kept image drawn when their score is at least this (default 0.2). */
  drawThreshold?: number;
  /** Folder for the pictures and the VOC results files (default reports/predictions). */
  predictionsDir?: string;
  backend: string;
  /** The splits, instead of loading the recipe's (tests). */
  data?: { train: DetDataset; test: DetDataset };
}

/** The recipe stored in a detection training record (its config holds the recipe keys plus bookkeeping). */
export function detRecipeOfRecord(record: RunRecord, where: string): DetRecipe {
  return recipeOfRecord(detRecipeSchema, record, where, 'detection') as DetRecipe;
}

/** Where eval detection writes a run's VOC results files. */
export const vocResultsDir = (predictionsDir: string, runId: string): string => join(predictionsDir, `${runId}-voc`);

export async function evalDetectionRun(runId: string, opts: DetEvalOptions, log: (line: string) => void = () => {}): Promise<RunRecord> {
  const resultsDir = opts.resultsDir ?? RESULTS_DIR;
  const { record: train, path } = readTrainRecord(runId, resultsDir);
  const recipe = detRecipeOfRecord(train, path);
  const weightsFile = finalWeightsOf(train, runId, 'detection');
  const config = { ...recipe, run: { resume: false, backend: 'auto' as const, explicit: [], checkpoint: false, dataRoot: opts.dataRoot } };
  const test = opts.data ? firstImages(opts.data.test, recipe.testSubset) : await loadDetSplit(config, recipe.evalSplit, recipe.testSubset, true);
  // Only the training images that are scored are decoded: the first trainEvalSubset of the run's first trainSubset.
  const scored = [recipe.trainSubset, recipe.trainEvalSubset].filter((n) => n > 0);
  const trainCount = scored.length ? Math.min(...scored) : 0;
  const trainEval = opts.data ? firstImages(opts.data.train, trainCount) : await loadDetSplit(config, recipe.trainSplit, trainCount, true);
  const model = createDetectionModel(recipe.modelName, recipe.model, { init: 'zeros' }) as DetModel;
  try {
    loadYoloWeights(model, weightsFile);
    const batch = opts.batchSize ?? recipe.evalBatchSize;
    // One warm-up batch (kernel set-up, buffer pools) before the timed passes.
    tf.tidy(() => { const b = detEvalBatch(test, 0, batch, model.defaultCfg.mean, model.defaultCfg.std); model.apply(tf.tensor4d(b.x, [b.n, test.size, test.size, 3]), { training: false }).dataSync(); });
    log(`  ${test.n} ${recipe.evalSplit} images`);
    const t = predictDetections(model, test, batch, recipe);
    const testEval = vocEvaluate(groundTruthOf(test), t.detections);
    log(`  ${trainEval.n} ${recipe.trainSplit} images`);
    const tr = predictDetections(model, trainEval, batch, recipe, { withLoss: false });
    const trainEvalResult = vocEvaluate(groundTruthOf(trainEval), tr.detections);

    const predDir = opts.predictionsDir ?? join(REPO_ROOT, 'reports', 'predictions');
    const vocDir = vocResultsDir(predDir, runId);
    writeVocDetections(vocDir, recipe.evalSplit, test.classes, t.detections);
    // The first test images at the network's input size, and their boxes there (ground truth; predictions above the
    // drawing threshold), so the notebook draws the picture without the dataset.
    const keep = Math.min(opts.keepImages ?? 6, test.n);
    const s = test.size;
    const framesFile = join(predDir, `${runId}.frames.png`), boxesFile = join(predDir, `${runId}.boxes.json`);
    atomicWrite(framesFile, await sharp(Buffer.from(test.images.subarray(0, keep * s * s * 3)), { raw: { width: s, height: keep * s, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer());
    const drawThreshold = opts.drawThreshold ?? 0.2;
    const round = (b: readonly number[]) => b.map((v) => Math.round(v * 10) / 10);
    const kept = Array.from({ length: keep }, (_, i) => ({
      id: test.ids[i]!,
      truth: test.boxes[i]!.map((o) => ({ cls: test.classes[o.cls]!, box: round(o.box), difficult: o.difficult })),
      predicted: t.inputBoxes[i]!.filter((d) => d.score >= drawThreshold).map((d) => ({ cls: test.classes[d.cls]!, score: Math.round(d.score * 1000) / 1000, box: round(d.box) })),
    }));
    atomicWrite(boxesFile, `${JSON.stringify({ size: s, drawThreshold, images: kept }, null, 1)}\n`);

    let record = newRunRecord({
      id: `eval-${runId}`, kind: 'eval', experiment: 'detection-eval', profile: train.profile, seed: train.seed, backend: opts.backend,
      table: train.table, row: train.row,
      config: { run: runId, model: recipe.modelName, dataset: recipe.dataset, split: recipe.evalSplit, trainSplit: recipe.trainSplit, imageSize: s, batch,
        images: test.n, trainImages: trainEval.n, confThreshold: recipe.confThreshold, nmsIou: recipe.nmsIou,
        weightsFile: repoRelative(weightsFile), trainRecordCommit: train.gitCommit },
    });
    record = finishRunRecord(record, {
      testMAP: testEval.map07, testMAPAll: testEval.mapAll, trainMAP: trainEvalResult.map07, trainMAPAll: trainEvalResult.mapAll,
      testLoss: t.loss, classesInMean: testEval.classesInMean,
      ...Object.fromEntries(testEval.perClass.map((p) => [`testAP.${p.cls}`, Number.isNaN(p.ap07) ? null : p.ap07])),
      ...Object.fromEntries(trainEvalResult.perClass.map((p) => [`trainAP.${p.cls}`, Number.isNaN(p.ap07) ? null : p.ap07])),
      detections: t.detections.length,
      inferImgPerSec: test.n / (t.forwardMs / 1000), inferMsPerImg: t.forwardMs / test.n,
      vocResultsDir: repoRelative(vocDir), framesFile: repoRelative(framesFile), boxesFile: repoRelative(boxesFile), predictionImages: keep,
    });
    saveRunRecord(record, resultsDir);
    return record;
  } finally {
    model.dispose();
  }
}
