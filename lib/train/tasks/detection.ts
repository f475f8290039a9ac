// Object detection (seed 000: YOLO-ConvMixer on Pascal VOC): VOC images stretched to the model's square input with their
// boxes, the YOLOv1 loss on S x S grid targets, and on the evaluation split the VOC protocol's mAP@0.5 (the suite's own
// evaluator, lib/metrics/voc.ts, on boxes mapped back to the original images' 1-based coordinates, as the devkit scores
// a results file). Training images are scored the same way, so a record shows train vs test mAP (the seed's overfitting).
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { repoRelative } from '../../io.ts';
import type { Rng } from '../../rng.ts';
import { dataRoot as defaultDataRoot } from '../../data/paths.ts';
import { loadVocDetection, resizedBoxToImage, vocYearDir, type DetDataset } from '../../data/voc.ts';
import { detEvalBatch, detTrainBatch } from '../../data/detBatch.ts';
import { createDetectionModel, modelInfo, type RegistryModel } from '../../models/registry.ts';
import { loadBackboneWeights, type YoloConvMixerConfig, type YoloConvMixerModel } from '../../models/yoloConvMixer.ts';
import { saveModelWeights } from '../../models/timmWeights.ts';
import { vocEvaluate, type Detection, type GtImage, type VocEvalResult } from '../../metrics/voc.ts';
import { detectYolo, yoloTargets, yoloV1Loss, type YoloDetection, type YoloLossOptions } from '../yoloLoss.ts';
import { vocYearOf, type DetRecipe, type DetTrainConfig } from '../detConfig.ts';
import type { DataSource, TrainTask } from '../task.ts';

export type DetModel = RegistryModel<YoloConvMixerConfig, tf.Tensor4D> & YoloConvMixerModel;

/** The devkit a recipe reads: the data root (holding VOCdevkit/) unless the run names another. */
export const detDevkitDir = (config: Pick<DetTrainConfig, 'run'>): string => config.run.dataRoot ?? defaultDataRoot();

/** The loss options of a recipe for its model's grid. */
export function yoloLossOptions(recipe: Pick<DetRecipe, 'loss'>, c: YoloConvMixerConfig): YoloLossOptions {
  return { S: c.gridSize, B: c.boxesPerCell, C: c.numClasses, ...recipe.loss };
}

/** A split of the recipe's dataset at the model's input size; its first `subset` images when subset > 0. */
export async function loadDetSplit(config: DetTrainConfig, split: string, subset = 0, quiet = false): Promise<DetDataset> {
  const size = (config.model as unknown as YoloConvMixerConfig).inputSize;
  return loadVocDetection(detDevkitDir(config), vocYearOf(config.dataset), split, size, { limit: subset > 0 ? subset : undefined, quiet });
}

/** The first n images of a dataset (n = 0 or >= its size: all of it). */
export function firstImages(ds: DetDataset, n: number): DetDataset {
  if (n <= 0 || n >= ds.n) return ds;
  const bytes = ds.size * ds.size * 3;
  return { ...ds, n, images: ds.images.subarray(0, n * bytes), boxes: ds.boxes.slice(0, n), ids: ds.ids.slice(0, n),
    origSizes: ds.origSizes.slice(0, n), annotations: ds.annotations.slice(0, n) };
}

/** The ground truth of a dataset for vocEvaluate: its annotations in the original images' 1-based coordinates. */
export const groundTruthOf = (ds: DetDataset): GtImage[] =>
  ds.annotations.map((a) => ({ id: a.id, objects: a.objects.map((o) => ({ cls: o.cls, box: o.box, difficult: o.difficult })) }));

export interface DetPredictions {
  /** Detections after decoding and class-wise NMS, boxes in the original images' 1-based VOC coordinates. */
  detections: Detection[];
  /** Per image, the same detections in pixels of the network input (for drawing), highest score first. */
  inputBoxes: YoloDetection[][];
  /** The frame-weighted mean YOLO loss over the split (null with withLoss false). */
  loss: number | null;
  /** Milliseconds spent in forward passes and reading their output back (the inference time). */
  forwardMs: number;
}

/** Runs the model over a whole split (inference mode) and decodes its detections as a VOC results file holds them. */
export function predictDetections(model: DetModel, ds: DetDataset, batchSize: number, recipe: Pick<DetRecipe, 'loss' | 'confThreshold' | 'nmsIou'>,
  opts: { withLoss?: boolean } = {}): DetPredictions {
  const c = model.config;
  const cfg = model.defaultCfg;
  const lossOpts = yoloLossOptions(recipe, c);
  const withLoss = opts.withLoss ?? true;
  const detections: Detection[] = [];
  const inputBoxes: YoloDetection[][] = [];
  let lossSum = 0, forwardMs = 0;
  for (let start = 0; start < ds.n; start += batchSize) {
    const b = detEvalBatch(ds, start, batchSize, cfg.mean, cfg.std);
    const x = tf.tensor4d(b.x, [b.n, ds.size, ds.size, 3]);
    const t0 = performance.now();
    const pred = model.apply(x, { training: false });
    pred.dataSync();
    forwardMs += performance.now() - t0;
    if (withLoss) {
      const loss = tf.tidy(() => {
        const target = yoloTargets(ds.boxes.slice(start, start + b.n), ds.size, c.gridSize, c.numClasses);
        // The loss is per image under 'batchMean' and summed under 'sum': either way the split's mean is per image.
        const l = yoloV1Loss(pred, target, lossOpts);
        return recipe.loss.reduction === 'sum' ? tf.div(l, b.n) : l;
      });
      lossSum += loss.dataSync()[0]! * b.n;
      loss.dispose();
    }
    const perImage = detectYolo(pred, { S: c.gridSize, B: c.boxesPerCell, C: c.numClasses, imageSize: ds.size, confThreshold: recipe.confThreshold, iouThreshold: recipe.nmsIou });
    tf.dispose([x, pred]);
    perImage.forEach((found, k) => {
      const i = start + k;
      inputBoxes.push(found);
      const [w, h] = ds.origSizes[i]!;
      for (const d of found) {
        const box = resizedBoxToImage(d.box, w, h, ds.size);
        if (box[2] < box[0] || box[3] < box[1]) continue;
        detections.push({ imageId: ds.ids[i]!, cls: d.cls, score: d.score, box });
      }
    });
  }
  return { detections, inputBoxes, loss: withLoss && ds.n ? lossSum / ds.n : null, forwardMs };
}

export async function detectionTask(config: DetTrainConfig, data?: { train: DetDataset; test: DetDataset }): Promise<TrainTask<DetModel>> {
  const train = data ? firstImages(data.train, config.trainSubset) : await loadDetSplit(config, config.trainSplit, config.trainSubset);
  const test = data ? firstImages(data.test, config.testSubset) : await loadDetSplit(config, config.evalSplit, config.testSubset);
  const trainEval = firstImages(train, config.trainEvalSubset);
  const devkit = detDevkitDir(config);
  const source: DataSource = data
    ? { dataset: train.name, provided: 'in memory by the caller' }
    : { dataset: config.dataset, dir: existsSync(devkit) ? repoRelative(vocYearDir(devkit, vocYearOf(config.dataset))) : null,
      trainSplit: config.trainSplit, evalSplit: config.evalSplit, imageSize: train.size };
  const info = modelInfo(config.modelName, config.model);
  const c = info.config as YoloConvMixerConfig;
  const { mean, std } = info.defaultCfg;
  const lossOpts = yoloLossOptions(config, c);
  const testGt = groundTruthOf(test), trainGt = groundTruthOf(trainEval);

  // The last evaluation's result: after the last epoch it is the final model's, so the per-class AP of the record
  // costs no second pass over the split.
  let last: { model: DetModel; test: VocEvalResult; train: VocEvalResult | null } | null = null;
  const scores = (model: DetModel, batchSize: number) => {
    const t = predictDetections(model, test, batchSize, config);
    const testEval = vocEvaluate(testGt, t.detections);
    const trainScores = config.evalTrain && trainEval.n > 0 ? vocEvaluate(trainGt, predictDetections(model, trainEval, batchSize, config, { withLoss: false }).detections) : null;
    last = { model, test: testEval, train: trainScores };
    return { loss: t.loss, ...last };
  };
  return {
    trainSize: train.n, testSize: test.n, source, paramCount: info.paramCount, primary: 'testMAP',
    createModel(seed) {
      const model = createDetectionModel(config.modelName, config.model, { seed }) as DetModel;
      if (config.backboneWeights) loadBackboneWeights(model, config.backboneWeights);
      return model;
    },
    trainBatch(indices: Uint32Array, rng: Rng) {
      const b = detTrainBatch(train, indices, config.augment, rng, mean, std);
      return { x: tf.tensor4d(b.x, [b.n, train.size, train.size, 3]), target: yoloTargets(b.boxes, train.size, c.gridSize, c.numClasses), n: b.n };
    },
    loss: (pred, target) => yoloV1Loss(pred as tf.Tensor4D, target as tf.Tensor4D, lossOpts),
    evaluate(model, batchSize) {
      const s = scores(model, batchSize);
      return {
        testLoss: s.loss ?? NaN, testMAP: s.test.map07, testMAPAll: s.test.mapAll,
        ...(s.train ? { trainMAP: s.train.map07, trainMAPAll: s.train.mapAll } : {}),
      };
    },
    finalMetrics(model, batchSize) {
      const l = last?.model === model ? last : scores(model, batchSize);
      return {
        ...(l.train ? { trainMAP: l.train.map07, trainMAPAll: l.train.mapAll } : {}),
        ...Object.fromEntries(l.test.perClass.map((p) => [`testAP.${p.cls}`, Number.isNaN(p.ap07) ? null : p.ap07])),
      };
    },
    saveWeights: (model, file, metadata) => saveModelWeights(model as never, file, metadata),
  };
}
