// What the one training loop (loop.ts) needs from a task: its data, how a training batch and its loss are made, and
// how the model is evaluated. The loop owns the rest (AdamW, schedule, clipping, checkpoints, resume, NaN guard,
// run record), so classification (tasks/classification.ts), segmentation (tasks/segmentation.ts) and detection all
// train the same way; a task is to the loop what timm's forward_head is to a model.
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

/** The parts of a built model the loop uses (ConvMixerModel and every registry model have them). */
export interface TrainableModel {
  params: Record<string, tf.Variable>;
  buffers: Record<string, tf.Variable>;
  /** x: NHWC float32, normalized; the task's loss reads the output. */
  apply(x: tf.Tensor4D, opts?: { training?: boolean }): tf.Tensor;
  dispose(): void;
}

/** Which data a run trained on, for its record: the source (official release or a mirror) and checksums. */
export type DataSource = Record<string, string | number | null>;

/** Evaluation metrics of one epoch, by the key the run record stores them under (testLoss, testAcc, testMIoU, ...). */
export type EvalMetrics = Record<string, number>;

export interface TrainTask<M extends TrainableModel = TrainableModel> {
  /** Examples per epoch and in the evaluation split. */
  trainSize: number;
  testSize: number;
  source: DataSource;
  /** Trainable parameters of the model this task trains, by formula. */
  paramCount: number;
  /** The model, initialized from the run's seed. */
  createModel(seed: number): M;
  /** The batch of these training examples; augmentation draws from rng in a fixed order (a resume reproduces it). */
  trainBatch(indices: Uint32Array, rng: Rng): { x: tf.Tensor4D; target: tf.Tensor; n: number };
  /** The training loss of a batch (called inside tf.variableGrads). */
  loss(output: tf.Tensor, target: tf.Tensor): tf.Scalar;
  /** Metrics on the evaluation split, in the order the record lists them; testLoss first. */
  evaluate(model: M, batchSize: number): EvalMetrics;
  /** The metric (a key of evaluate's result, higher is better) that picks the best epoch: testAcc, testMIoU, ... */
  primary: string;
  /** Extra final metrics of the last model (e.g. per-class IoU), computed once after training; optional. */
  finalMetrics?(model: M, batchSize: number): Record<string, number | null>;
  /** Writes the trained weights (safetensors, in the model's published key layout). */
  saveWeights(model: M, file: string, metadata: Record<string, string>): void;
}
