// Image classification on CIFAR-10 (the paper's Tables 3-4): class-balanced subsets, the paper's augmentation with
// mixup/CutMix soft targets, soft-target cross-entropy, top-1 accuracy. A ConvMixer built from the recipe's config.
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../errors.ts';
import type { Rng } from '../../rng.ts';
import { createModel, paramCount, type ConvMixerModel } from '../../models/convmixer.ts';
import { saveWeights } from '../../models/weights.ts';
import { cifar10Manifest, loadCifar10, type ImageDataset } from '../../data/cifar10.ts';
import { balancedSubset } from '../../data/subset.ts';
import { trainBatch, evalBatch } from '../../data/batch.ts';
import { softTargetCrossEntropy, evalBatchStats } from '../loss.ts';
import type { TrainConfig } from '../config.ts';
import type { DataSource, TrainTask } from '../task.ts';

/** Seeds of the class-balanced subsets (the values seed-0 runs always used, so their records stay reproducible). */
export const TRAIN_SUBSET_SEED = 0;
export const TEST_SUBSET_SEED = 1;

async function loadData(config: TrainConfig, provided?: { train: ImageDataset; test: ImageDataset }): Promise<{ train: ImageDataset; test: ImageDataset; source: DataSource }> {
  let train: ImageDataset, test: ImageDataset, source: DataSource;
  if (provided) {
    ({ train, test } = provided);
    source = { dataset: train.name, provided: 'in memory by the caller (not the CIFAR-10 cache)' };
  } else {
    const m = cifar10Manifest({ root: config.run.dataRoot });
    train = await loadCifar10('train', { root: config.run.dataRoot });
    test = await loadCifar10('test', { root: config.run.dataRoot });
    source = {
      dataset: m.dataset, kind: m.source.kind, description: m.source.description, knownAs: m.source.knownAs, jpegQuality: m.source.jpegQuality,
      md5: m.source.md5, sha256: m.source.sha256, trainCacheSha256: m.splits.train.sha256, testCacheSha256: m.splits.test.sha256,
    };
  }
  // Subsets do not depend on the run's seed: every seed and every row of a table trains on the same images and is
  // evaluated on the same test images, so differences between runs are the model's and the optimizer's, not the data's.
  if (config.trainSubset > 0 && config.trainSubset < train.n) train = balancedSubset(train, config.trainSubset, TRAIN_SUBSET_SEED);
  if (config.testSubset > 0 && config.testSubset < test.n) test = balancedSubset(test, config.testSubset, TEST_SUBSET_SEED);
  return { train, test, source };
}

/** A model the data cannot feed is refused here, naming the flag, before a run record exists (it would crash mid-step). */
function checkModelFitsData(config: TrainConfig, train: ImageDataset, test: ImageDataset): void {
  const { patchSize, numClasses } = config.model;
  const smallest = Math.min(train.height, train.width, test.height, test.width);
  if (patchSize > smallest) throw new UserError(`--patch: ${patchSize} is larger than the ${train.width}x${train.height} images`);
  if (numClasses !== train.classes.length) {
    throw new UserError(`--classes: the model has ${numClasses} classes, the data (${config.run.dataRoot ?? train.name}) has ${train.classes.length} (${train.classes.join(', ')})`);
  }
}

function evaluate(model: ConvMixerModel, test: ImageDataset, batchSize: number): { testLoss: number; testAcc: number } {
  let lossSum = 0, correct = 0;
  for (let start = 0; start < test.n; start += batchSize) {
    const b = evalBatch(test, start, Math.min(batchSize, test.n - start));
    const x = tf.tensor4d(b.x, [b.n, test.height, test.width, 3]);
    let logits: tf.Tensor2D | null = null;
    try {
      logits = model.apply(x, { training: false });
      const s = evalBatchStats(logits, b.labels);
      lossSum += s.lossSum;
      correct += s.correct;
    } finally {
      x.dispose();
      logits?.dispose();
    }
  }
  return { testLoss: lossSum / test.n, testAcc: correct / test.n };
}

/** The CIFAR-10 classification task of a recipe; `data` replaces the CIFAR-10 cache (tests). */
export async function classificationTask(config: TrainConfig, data?: { train: ImageDataset; test: ImageDataset }): Promise<TrainTask<ConvMixerModel>> {
  const { train, test, source } = await loadData(config, data);
  checkModelFitsData(config, train, test);
  const k = train.classes.length;
  return {
    trainSize: train.n, testSize: test.n, source, paramCount: paramCount(config.model), primary: 'testAcc',
    createModel: (seed) => createModel(config.model, undefined, { seed }),
    trainBatch(indices: Uint32Array, rng: Rng) {
      const batch = trainBatch(train, indices, config.augment, rng);
      return {
        x: tf.tensor4d(batch.x, [batch.n, train.height, train.width, 3]),
        target: tf.tensor2d(batch.y, [batch.n, k]),
        n: batch.n,
      };
    },
    loss: (logits, target) => softTargetCrossEntropy(logits as tf.Tensor2D, target as tf.Tensor2D),
    evaluate: (model, batchSize) => evaluate(model, test, batchSize),
    saveWeights: (model, file, metadata) => saveWeights(model, file, metadata),
  };
}
