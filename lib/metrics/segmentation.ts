// Segmentation metrics from a confusion matrix (row = true class, column = predicted class), accumulated over a
// whole evaluation split so that the scores are dataset-level (as mmseg / the Cityscapes benchmark compute them),
// not means of per-image scores. Pixels whose true label is the ignore index (void) are left out entirely.
// Pure functions on plain arrays: no tfjs, so they can run on argmax'ed predictions from any backend.

/**
 * Adds one prediction/label map pair to a numClasses x numClasses confusion matrix (row-major, row = truth,
 * column = prediction) and returns it; `into` lets an evaluation loop accumulate batch after batch.
 * A true label that is neither a class nor `ignoreIndex`, or a prediction outside [0, numClasses), is a bug upstream:
 * RangeError naming the pixel.
 */
export function confusionMatrix(pred: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, ignoreIndex: number, into?: Float64Array): Float64Array {
  if (pred.length !== labels.length) throw new RangeError(`confusionMatrix: ${pred.length} predictions for ${labels.length} labels`);
  const cm = into ?? new Float64Array(numClasses * numClasses);
  if (cm.length !== numClasses * numClasses) throw new RangeError(`confusionMatrix: matrix has ${cm.length} cells, expected ${numClasses}x${numClasses}`);
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!;
    if (t === ignoreIndex) continue;
    const p = pred[i]!;
    if (!(t >= 0 && t < numClasses && Number.isInteger(t))) throw new RangeError(`confusionMatrix: label ${t} at pixel ${i} is not a class in [0, ${numClasses}) nor the ignore index ${ignoreIndex}`);
    if (!(p >= 0 && p < numClasses && Number.isInteger(p))) throw new RangeError(`confusionMatrix: prediction ${p} at pixel ${i} is not a class in [0, ${numClasses})`);
    cm[t * numClasses + p]! += 1;
  }
  return cm;
}

export interface SegmentationScores {
  /** Mean over the classes whose IoU is defined (present in truth or prediction). */
  mIoU: number;
  /** TP / (TP + FP + FN) per class; null for a class absent from both truth and prediction (0/0). */
  perClassIoU: (number | null)[];
  /** Correct pixels / non-ignored pixels. */
  pixelAccuracy: number;
  /** Mean of the defined per-class Dice scores (the hard Dice / F1, not the soft training loss). */
  meanDice: number;
  /** 2TP / (2TP + FP + FN) per class; null where IoU is null. */
  perClassDice: (number | null)[];
  /** Class names, for printing the per-class lists ('class <i>' when none were given). */
  classes: string[];
}

/**
 * IoU, Dice and pixel accuracy of a confusion matrix. Undefined per-class values (a class never seen nor predicted)
 * are null and do not enter the means (nanmean, as mmseg does); an empty matrix gives NaN means and accuracy.
 */
export function segmentationScores(cm: Float64Array, numClasses: number, classes?: string[]): SegmentationScores {
  if (cm.length !== numClasses * numClasses) throw new RangeError(`segmentationScores: matrix has ${cm.length} cells, expected ${numClasses}x${numClasses}`);
  if (classes && classes.length !== numClasses) throw new RangeError(`segmentationScores: ${classes.length} class names for ${numClasses} classes`);
  const perClassIoU: (number | null)[] = [], perClassDice: (number | null)[] = [];
  let correct = 0, total = 0;
  for (let c = 0; c < numClasses; c++) {
    let truth = 0, predicted = 0; // row and column sums
    for (let k = 0; k < numClasses; k++) { truth += cm[c * numClasses + k]!; predicted += cm[k * numClasses + c]!; }
    const tp = cm[c * numClasses + c]!;
    const fp = predicted - tp, fn = truth - tp;
    correct += tp;
    total += truth;
    const union = tp + fp + fn;
    perClassIoU.push(union > 0 ? tp / union : null);
    perClassDice.push(union > 0 ? (2 * tp) / (2 * tp + fp + fn) : null);
  }
  return {
    mIoU: meanDefined(perClassIoU), perClassIoU, pixelAccuracy: total > 0 ? correct / total : NaN,
    meanDice: meanDefined(perClassDice), perClassDice, classes: classes ?? perClassIoU.map((_, c) => `class ${c}`),
  };
}

function meanDefined(values: (number | null)[]): number {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length ? defined.reduce((s, v) => s + v, 0) / defined.length : NaN;
}
