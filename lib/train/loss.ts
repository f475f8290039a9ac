// Losses: timm's SoftTargetCrossEntropy (mean over the batch of -sum_c y_c * log_softmax(x)_c), used with the soft
// targets that mixup/CutMix/label smoothing produce, and plain top-1 accuracy for evaluation.
import * as tf from '@tensorflow/tfjs';

export function softTargetCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits, -1)), -1))) as tf.Scalar);
}

/** Summed (not mean) hard-label cross-entropy and number of correct top-1 predictions of one batch. */
export function evalBatchStats(logits: tf.Tensor2D, labels: Uint8Array | Int32Array): { lossSum: number; correct: number } {
  const [lossSum, correct] = tf.tidy(() => {
    const y = tf.tensor1d(Int32Array.from(labels), 'int32');
    const logp = tf.logSoftmax(logits, -1);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(y, logits.shape[1])), -1);
    const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), y), 'float32'));
    return [tf.neg(tf.sum(picked)), hits];
  });
  const out = { lossSum: lossSum.dataSync()[0]!, correct: Math.round(correct.dataSync()[0]!) };
  lossSum.dispose();
  correct.dispose();
  return out;
}
