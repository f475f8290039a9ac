// The whole training step against PyTorch (test/fixtures/train-tiny, written by scripts/train_reference.py with torch
// 1.13): the one training loop (loop.ts) trains a tiny ConvMixer from the reference's initial weights on its one fixed
// batch of soft targets for 6 one-step epochs (one-cycle lr, global-norm clipping, AdamW with weight decay), and
// every step's loss, lr and pre-clipping gradient norm, and the final weights and BatchNorm running statistics, must
// be torch's. Both norms: the paper's BatchNorm and Table 3's LayerNorm ablation (which trains far worse than the
// baseline in the quick protocol: this shows that is the recipe's doing, not a wrong LayerNorm gradient). On tfjs's JS
// kernels and, where it is built, on the native engine (its fused norm tails are what the table runs trained with).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from '../lib/backend/native.ts';
import { createModel, resolveConfig, type ConvMixerModel } from '../lib/models/convmixer.ts';
import { readSafetensors, type StoredTensor } from '../lib/models/safetensors.ts';
import { loadWeights, stateDict } from '../lib/models/weights.ts';
import { softTargetCrossEntropy } from '../lib/train/loss.ts';
import { buildRecipe, type TrainConfig } from '../lib/train/config.ts';
import { trainRun } from '../lib/train/loop.ts';
import type { TrainTask } from '../lib/train/task.ts';
import { maxAbsDiff } from './helpers/compare.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/train-tiny/', import.meta.url));
const addon = loadAddon().addon as unknown as Record<string, unknown> | null;
const noNative = addon && typeof addon['fusedActLayerNormForward'] === 'function' ? false : 'native addon with fused ops not built (npm run build:native)';

const root = mkdtempSync(join(tmpdir(), 'convmixer-train-torch-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The fixture's tensors under one prefix ('init.', 'final.'), prefix removed. */
function withPrefix(all: Record<string, StoredTensor>, prefix: string): Record<string, StoredTensor> {
  return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** A task over the fixture's one batch: every step sees all 16 examples (in the loop's shuffled order, which a mean loss and batch statistics do not see). */
function fixtureTask(ref: Record<string, StoredTensor>, norm: 'batchnorm' | 'layernorm'): TrainTask<ConvMixerModel> {
  const input = ref['input_nhwc']!, targets = ref['targets']!;
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const k = targets.shape[1]!;
  const pixels = h * w * c;
  return {
    trainSize: n, testSize: 0, source: { dataset: 'train-tiny fixture' }, paramCount: 0, primary: 'testAcc',
    createModel: () => {
      const model = createModel({ dim: 16, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 10, norm });
      loadWeights(model, withPrefix(ref, 'init.'));
      return model;
    },
    trainBatch(indices) {
      const x = new Float32Array(indices.length * pixels), y = new Float32Array(indices.length * k);
      indices.forEach((idx, j) => {
        x.set(input.data.subarray(idx * pixels, (idx + 1) * pixels), j * pixels);
        y.set(targets.data.subarray(idx * k, (idx + 1) * k), j * k);
      });
      return { x: tf.tensor4d(x, [indices.length, h, w, c]), target: tf.tensor2d(y, [indices.length, k]), n: indices.length };
    },
    loss: (logits, target) => softTargetCrossEntropy(logits as tf.Tensor2D, target as tf.Tensor2D),
    evaluate: () => ({ testLoss: 0 }),
    saveWeights: () => {},
  };
}

for (const backend of ['cpu', 'native'] as const) {
  for (const norm of ['batchnorm', 'layernorm'] as const) {
    test(`training vs PyTorch (${norm}, ${backend === 'cpu' ? 'tfjs JS kernels' : 'native engine'}): 6 AdamW steps give torch's losses, lrs, grad norms, weights and running stats`, { skip: backend === 'native' && noNative }, async () => {
      const ref = readSafetensors(join(FIXTURES, `${norm}.safetensors`));
      const recipe = buildRecipe('smoke', {
        model: resolveConfig({ dim: 16, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 10, norm }), modelName: null,
        epochs: 6, batchSize: 16, trainSubset: 0, testSubset: 0, lrMax: 0.01, weightDecay: 0.01, decayBiasAndNorm: true,
        beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 1, evaluate: false, experiment: 'train-vs-torch',
      });
      const config: TrainConfig = { ...recipe, run: { runId: `torch-${norm}-${backend}`, resume: false, backend, explicit: [], checkpoint: false } };
      const losses: number[] = [];
      const run = await trainRun(config, {
        task: fixtureTask(ref, norm) as TrainTask, resultsDir: join(root, 'results'), checkpointRoot: join(root, 'ckpt'),
        onProgress: (p) => { losses.push(p.loss); }, // one step per epoch: the epoch's running mean is that step's loss
      });
      const model = run.model as ConvMixerModel;
      try {
        const close = (got: number[], want: Float32Array, tol: number, what: string): void =>
          got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= tol, `${what} of step ${i + 1}: ${v} vs torch ${want[i]}`));
        assert.equal(losses.length, 6);
        close(run.epochs.map((e) => e.lr), ref['lrs']!.data, 1e-9, 'lr');
        close(losses, ref['losses']!.data, 2e-5, 'loss');
        close(run.epochs.map((e) => e.gradNorm), ref['grad_norms']!.data, 2e-5, 'pre-clipping gradient norm');
        // The run really trained (the comparison is not between two untouched models).
        assert.ok(losses[5]! < losses[0]! - 0.1, `loss falls: ${losses.join(', ')}`);
        const want = withPrefix(ref, 'final.'), got = stateDict(model), init = withPrefix(ref, 'init.');
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
        for (const [key, t] of Object.entries(want)) {
          const moved = maxAbsDiff(t.data, init[key]!.data);
          const diff = maxAbsDiff(got[key]!.data, t.data);
          // Parameters move by up to ~6 * lr_max here; agreement is ~1e-6, the bound leaves room for Adam's 1/sqrt(v).
          assert.ok(diff <= 2e-5, `${key}: max |engine - torch| ${diff.toExponential(2)} after training (it moved by up to ${moved.toExponential(2)})`);
        }
      } finally {
        model.dispose();
      }
    });
  }
}
