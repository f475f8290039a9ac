// The one-cycle "triangular" learning-rate schedule of the ConvMixer paper, as in the official CIFAR-10 script
// (locuslab/convmixer-cifar10 train.py) and the authors' timm scheduler (timm/scheduler/onecycle_lr.py):
//   lr(t) = numpy.interp(t, [0, E*2//5, E*4//5, E], [0, lrMax, lrMax/20, 0])
// with E the number of epochs (integer division, as in the original) and t = epoch + (i+1)/stepsPerEpoch,
// i.e. the lr of a step is the schedule at the END of that step, so the first step already has lr > 0.

/** numpy.interp for increasing (possibly repeated) knots: clamps outside, uses the last knot <= t inside. */
export function interp(t: number, xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (t < xs[0]!) return ys[0]!;
  if (t >= xs[n - 1]!) return ys[n - 1]!;
  let j = 0;
  while (j + 1 < n - 1 && xs[j + 1]! <= t) j++;
  const x0 = xs[j]!, x1 = xs[j + 1]!;
  return x1 === x0 ? ys[j + 1]! : ys[j]! + ((ys[j + 1]! - ys[j]!) * (t - x0)) / (x1 - x0);
}

/** A per-step learning rate. */
export interface LrSchedule {
  /** lr of step i (0-based) of epoch e (0-based). */
  forStep(epoch: number, i: number, stepsPerEpoch: number): number;
}

export interface OneCycle extends LrSchedule {
  /** Knots of the schedule in epochs. */
  knots: [number, number, number, number];
  /** lr at fractional epoch t. */
  at(t: number): number;
  /** lr of step i (0-based) of epoch e (0-based). */
  forStep(epoch: number, i: number, stepsPerEpoch: number): number;
}

export function oneCycleSchedule(lrMax: number, epochs: number): OneCycle {
  const knots: [number, number, number, number] = [0, Math.floor((epochs * 2) / 5), Math.floor((epochs * 4) / 5), epochs];
  const values = [0, lrMax, lrMax / 20, 0];
  const at = (t: number): number => interp(t, knots, values);
  return { knots, at, forStep: (epoch, i, stepsPerEpoch) => at(epoch + (i + 1) / stepsPerEpoch) };
}

/**
 * Seed 000's schedule for ConvMixer-Unet: lr for the first half of the epochs, lr * factor for the rest (it trained 10
 * epochs at 1e-3 then 2e-4; with an odd number of epochs the first part is the longer one: ceil(E / 2), so 1 epoch runs at lr).
 */
export function stepSchedule(lr: number, epochs: number, factor: number): LrSchedule {
  const boundary = Math.ceil(epochs / 2);
  return { forStep: (epoch) => (epoch < boundary ? lr : lr * factor) };
}

/** Seed 000's YOLO-ConvMixer training: Adam at one learning rate throughout ("I decided to not use any learning rate scheduler"). */
export function constantSchedule(lr: number): LrSchedule {
  return { forStep: () => lr };
}
