// Semantic segmentation (seed 000: Unet vs ConvMixer-Unet): CamVid or Cityscapes frames with their label maps, the
// seed's random horizontal flip applied to both, the soft multi-class Dice loss, and on the evaluation split a
// confusion matrix -> mean IoU (void ignored), pixel accuracy and Dice; per-class IoU in the final record.
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { repoRelative } from '../../io.ts';
import { existsSync } from 'node:fs';
import type { Rng } from '../../rng.ts';
import { dataRoot as defaultDataRoot } from '../../data/paths.ts';
import { loadCamVid, loadCityscapes, subsetSeg, type SegDataset, type SegSplit } from '../../data/segmentation.ts';
import { segEvalBatch, segTrainBatch } from '../../data/segBatch.ts';
import { createSegmentationModel, type RegistryModel } from '../../models/registry.ts';
import { saveModelWeights } from '../../models/timmWeights.ts';
import { confusionMatrix, segmentationScores } from '../../metrics/segmentation.ts';
import { softDiceLoss } from '../segLoss.ts';
import type { SegTrainConfig } from '../segConfig.ts';
import type { DataSource, TrainTask } from '../task.ts';

export type SegModel = RegistryModel<unknown, tf.Tensor4D>;

/** Where a dataset lives under a data root: <root>/CamVid (SegNet layout) or <root>/cityscapes (official layout). */
export function segDatasetDir(dataset: SegTrainConfig['dataset'], root?: string): string {
  const base = root ?? defaultDataRoot();
  return join(base, dataset === 'camvid' ? 'CamVid' : 'cityscapes');
}

/** A split of the recipe's dataset at its size; its first `subset` frames when subset > 0 (lists are in a fixed order,
 * so every seed and row sees the same frames). */
export async function loadSegSplit(config: SegTrainConfig, split: SegSplit, subset = 0): Promise<SegDataset> {
  const dir = segDatasetDir(config.dataset, config.run.dataRoot);
  const size = { height: config.height, width: config.width };
  const ds = config.dataset === 'camvid' ? await loadCamVid(dir, split, size) : await loadCityscapes(dir, split, size);
  return firstN(ds, subset);
}

const firstN = (ds: SegDataset, n: number): SegDataset => (n > 0 && n < ds.n ? subsetSeg(ds, Uint32Array.from({ length: n }, (_, i) => i)) : ds);

/** Confusion matrix of the model's argmax predictions over a whole split. */
export function segConfusion(model: SegModel, ds: SegDataset, batchSize: number): { cm: Float64Array; lossSum: number } {
  const k = ds.classes.length;
  const cm = new Float64Array(k * k);
  let lossSum = 0;
  for (let start = 0; start < ds.n; start += batchSize) {
    const b = segEvalBatch(ds, start, batchSize);
    const [pred, loss] = tf.tidy(() => {
      const x = tf.tensor4d(b.x, [b.n, ds.height, ds.width, 3]);
      const logits = model.apply(x, { training: false });
      const labels = tf.tensor3d(Int32Array.from(b.labels), [b.n, ds.height, ds.width], 'int32');
      return [tf.argMax(logits, 3), softDiceLoss(logits, labels, k, ds.ignoreIndex)];
    });
    confusionMatrix(pred.dataSync() as Int32Array, b.labels, k, ds.ignoreIndex, cm);
    // The Dice loss of a batch is not additive over pixels; the evaluation loss is its frame-weighted mean.
    lossSum += loss.dataSync()[0]! * b.n;
    pred.dispose();
    loss.dispose();
  }
  return { cm, lossSum };
}

export async function segmentationTask(config: SegTrainConfig, data?: { train: SegDataset; test: SegDataset }): Promise<TrainTask<SegModel>> {
  const dir = segDatasetDir(config.dataset, config.run.dataRoot);
  const train = data ? firstN(data.train, config.trainSubset) : await loadSegSplit(config, 'train', config.trainSubset);
  const test = data ? firstN(data.test, config.testSubset) : await loadSegSplit(config, config.evalSplit, config.testSubset);
  const source: DataSource = data
    ? { dataset: train.name, provided: 'in memory by the caller' }
    : { dataset: config.dataset, dir: existsSync(dir) ? repoRelative(dir) : null, trainSplit: 'train', evalSplit: config.evalSplit, height: config.height, width: config.width };
  const k = train.classes.length;
  const probe = createSegmentationModel(config.modelName, config.model, { init: 'zeros' });
  const paramCount = Object.values(probe.params).reduce((s, v) => s + v.size, 0);
  probe.dispose();

  // The last evaluation's scores: after the last epoch they are the final model's, so the per-class IoU of the
  // record costs no second pass over the split.
  let last: { model: SegModel; s: ReturnType<typeof segmentationScores> } | null = null;
  const scores = (model: SegModel, batchSize: number) => {
    const { cm, lossSum } = segConfusion(model, test, batchSize);
    const s = segmentationScores(cm, k, test.classes);
    last = { model, s };
    return { s, loss: lossSum / test.n };
  };
  return {
    trainSize: train.n, testSize: test.n, source, paramCount, primary: 'testMIoU',
    createModel: (seed) => createSegmentationModel(config.modelName, config.model, { seed }),
    trainBatch(indices: Uint32Array, rng: Rng) {
      const b = segTrainBatch(train, indices, config.augment, rng);
      return {
        x: tf.tensor4d(b.x, [b.n, train.height, train.width, 3]),
        target: tf.tensor3d(Int32Array.from(b.labels), [b.n, train.height, train.width], 'int32'),
        n: b.n,
      };
    },
    loss: (logits, labels) => softDiceLoss(logits as tf.Tensor4D, labels as tf.Tensor3D, k, train.ignoreIndex),
    evaluate(model, batchSize) {
      const { s, loss } = scores(model, batchSize);
      return { testLoss: loss, testMIoU: s.mIoU, testPixelAcc: s.pixelAccuracy, testDice: s.meanDice };
    },
    finalMetrics(model, batchSize) {
      const s = last?.model === model ? last.s : scores(model, batchSize).s;
      return Object.fromEntries(test.classes.map((name, c) => [`testIoU.${name}`, s.perClassIoU[c] ?? null]));
    },
    saveWeights: (model, file, metadata) => saveModelWeights(model as never, file, metadata),
  };
}
