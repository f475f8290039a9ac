// Seed 000's comparison of ConvMixer-Unet with Unet (section VI, its table), as printed: reference data, never a result
// of this suite. Its setting: Cityscapes at 256x512, 20 epochs, batch 24, AdamW, Dice loss, random horizontal flip, no
// pretraining; hardware not named for this table (its other experiments ran on AMD R9 nano GPUs with 4 GB each).
// Inference: "using a batch of 500 pictures, ConvMixer-Unet uses 114,5 seconds ..., while Unet uses just 27,7 seconds".

export const SEED000_SOURCE = 'seed 000 (ConvMixer-Unet / YOLO-ConvMixer report), section VI, comparison table; values as printed';

export interface SeedSegRow {
  /** The registry model this suite builds for the row. */
  model: 'convmixer_unet' | 'unet';
  label: string;
  /** Printed parameter count, millions. */
  paramsM: number;
  minutesPerEpoch: number;
  /** Printed inference speed, images per second (from 500 images in 114.5 s / 27.7 s). */
  inferImgPerSec: number;
  inferSecondsFor500: number;
  /** Dice loss on the evaluation set (lower is better). */
  diceLoss: number;
  /** IoU on the evaluation set (the seed does not say whether mean over classes, nor how void is treated). */
  iou: number;
}

export const SEED000_SEGMENTATION: readonly SeedSegRow[] = [
  { model: 'convmixer_unet', label: 'ConvMixer-Unet', paramsM: 23.4, minutesPerEpoch: 58, inferImgPerSec: 4.3, inferSecondsFor500: 114.5, diceLoss: 0.2628, iou: 0.3288 },
  { model: 'unet', label: 'Unet', paramsM: 31, minutesPerEpoch: 23, inferImgPerSec: 18, inferSecondsFor500: 27.7, diceLoss: 0.5976, iou: 0.3035 },
];
