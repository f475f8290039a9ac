// Soft multi-class Dice loss for segmentation training (seed 000 trained ConvMixer-Unet "using dice loss (original
// Unet loss)" without giving the formula or code). Variant used here, per class c over the whole batch:
//   dice_c = (2 * sum(p_c * g_c) + smooth) / (sum(p_c) + sum(g_c) + smooth),   loss = 1 - mean_c dice_c
// with p = softmax(logits) over the class axis, g = one-hot labels, and pixels labelled `ignoreIndex` removed from
// p and g both. Sums run over batch and pixels together, as segmentation_models_pytorch's DiceLoss(mode='multiclass')
// does (dims (0, 2)). Two deliberate differences from smp's defaults (smooth 0, eps 1e-7, a class with no true pixel
// in the batch contributes loss 0): here smooth = 1 in numerator and denominator, so such a class scores
// 1 / (1 + sum(p_c)), i.e. near 1 when the model also predicts none of it and lower the more it predicts it (false
// positives of absent classes are penalized instead of ignored); for a class present in the batch, smooth 1 moves
// its dice by less than 1 / (sum(p_c) + sum(g_c)), negligible unless the class covers only a few pixels.
import * as tf from '@tensorflow/tfjs';

/** The Laplace smoothing term of the Dice ratio (see the header). */
export const DICE_SMOOTH = 1;

/**
 * `logits` N x H x W x C (NHWC, raw scores), `labels` N x H x W int32 class indices or `ignoreIndex`.
 * Returns the scalar loss 1 - mean over the C classes of the soft Dice; differentiable in `logits`.
 */
export function softDiceLoss(logits: tf.Tensor4D, labels: tf.Tensor3D, numClasses: number, ignoreIndex: number, smooth: number = DICE_SMOOTH): tf.Scalar {
  const [n, h, w, c] = logits.shape;
  if (c !== numClasses) throw new RangeError(`softDiceLoss: logits have ${c} channels, expected ${numClasses} classes`);
  if (labels.shape[0] !== n || labels.shape[1] !== h || labels.shape[2] !== w) {
    throw new RangeError(`softDiceLoss: labels ${labels.shape.join('x')} do not match logits ${n}x${h}x${w}`);
  }
  return tf.tidy(() => {
    const flatLabels = tf.reshape(tf.cast(labels, 'int32'), [-1]);
    const keep = tf.notEqual(flatLabels, ignoreIndex);
    const valid = tf.reshape(tf.cast(keep, 'float32'), [-1, 1]); // P x 1
    // Ignored pixels get class 0 before one-hot, then the mask zeroes their row in g (and in p).
    const g = tf.mul(tf.oneHot(tf.where(keep, flatLabels, tf.zerosLike(flatLabels)), numClasses), valid);
    const p = tf.mul(tf.reshape(tf.softmax(logits, -1), [-1, numClasses]), valid);
    const intersection = tf.sum(tf.mul(p, g), 0);
    const cardinality = tf.add(tf.sum(p, 0), tf.sum(g, 0));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), smooth), tf.add(cardinality, smooth));
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}
