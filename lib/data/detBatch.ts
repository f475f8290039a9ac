// Detection batches: NHWC float images normalized with the model's mean/std, and their boxes, with the same sampled
// geometry applied to both (bilinear for the image, geometry.ts mapBox for the boxes).
// Seed 000 (YOLO-ConvMixer on VOC): "Every image is reshaped into a 448x448 pixel image and normalized. I didn't apply
// any augmentation technique" -> SEED_DET_AUGMENT. Flip and a random-resized crop (scale jitter) are options.
import type { Rng } from '../rng.ts';
import { normalizeInto } from './augment.ts';
import { applyGeometryToImage, geometryAugmentSchema, mapBox, sampleSegGeometry, type GeometryAugment } from './geometry.ts';
import type { Box, DetDataset } from './voc.ts';

export const detAugmentSchema = geometryAugmentSchema;
export type DetAugment = GeometryAugment;

/** The seed's training augmentation: none. */
export const SEED_DET_AUGMENT: DetAugment = { hflip: false, scaleMin: 1 };

/** A training box: class and [x0, y0, x1, y1] in pixels of the size x size input (difficult objects included, as YOLOv1 trains on them). */
export interface TrainBox { cls: number; box: Box }

let scratch = { img: new Uint8Array(0), tmp: new Uint8Array(0) };
function buffers(bytes: number): typeof scratch {
  if (scratch.img.length !== bytes) scratch = { img: new Uint8Array(bytes), tmp: new Uint8Array(bytes) };
  return scratch;
}

/**
 * Images `idx` augmented: per image one geometry draw (crop, then flip) from `rng`, applied to the image and its boxes.
 * A box with nothing left inside a crop is dropped.
 */
export function detTrainBatch(ds: DetDataset, idx: Uint32Array, aug: DetAugment, rng: Rng, mean: readonly number[], std: readonly number[]):
{ x: Float32Array; boxes: TrainBox[][]; n: number } {
  const n = idx.length, s = ds.size, bytes = s * s * 3;
  const x = new Float32Array(n * bytes);
  const boxes: TrainBox[][] = [];
  const { img, tmp } = buffers(bytes);
  for (let i = 0; i < n; i++) {
    const k = idx[i]!;
    if (k >= ds.n) throw new RangeError(`detTrainBatch: index ${k} outside [0, ${ds.n})`);
    img.set(ds.images.subarray(k * bytes, (k + 1) * bytes));
    const g = sampleSegGeometry(s, s, aug, rng);
    applyGeometryToImage(img, tmp, s, s, g);
    normalizeInto(img, x, i * bytes, mean, std);
    const mapped: TrainBox[] = [];
    for (const o of ds.boxes[k]!) {
      const b = mapBox(o.box, g, s, s);
      if (b) mapped.push({ cls: o.cls, box: b });
    }
    boxes.push(mapped);
  }
  return { x, boxes, n };
}

/** Images [start, start+count) (clipped to the dataset), normalized; no augmentation. */
export function detEvalBatch(ds: DetDataset, start: number, count: number, mean: readonly number[], std: readonly number[]): { x: Float32Array; n: number } {
  const n = Math.max(0, Math.min(count, ds.n - start));
  const bytes = ds.size * ds.size * 3;
  const x = new Float32Array(n * bytes);
  normalizeInto(ds.images.subarray(start * bytes, (start + n) * bytes), x, 0, mean, std);
  return { x, n };
}
