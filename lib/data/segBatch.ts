// Segmentation batches: NHWC float frames normalized with the dataset's mean/std, and their label maps (n*h*w),
// with the same sampled geometry applied to both (bilinear for frames, nearest for labels; lib/data/geometry.ts).
// Seed 000 (ConvMixer-Unet on Cityscapes): "Every image is reshaped into a 256x512 pixels image and normalized.
// I apply just random horizontal flipping" -> SEED_SEG_AUGMENT. A random-resized crop (scaleMin < 1) is optional.
import type { Rng } from '../rng.ts';
import { normalizeInto } from './augment.ts';
import { applyGeometryToImage, applyGeometryToLabels, geometryAugmentSchema, sampleSegGeometry, type GeometryAugment } from './geometry.ts';
import type { SegDataset } from './segmentation.ts';

export const segAugmentSchema = geometryAugmentSchema;
export type SegAugment = GeometryAugment;

/** The seed's training augmentation: random horizontal flip only. */
export const SEED_SEG_AUGMENT: SegAugment = { hflip: true, scaleMin: 1 };
export const NO_SEG_AUGMENT: SegAugment = { hflip: false, scaleMin: 1 };

/**
 * Fill values for areas a geometric op uncovers (none of SegAugment's ops do: a crop stays inside the frame; for
 * affine ops, geometry.ts affineNearest): frames get the mean colour (timm's round(255 * mean)), labels the ignore index.
 */
export function segFill(ds: Pick<SegDataset, 'mean' | 'ignoreIndex'>): { image: [number, number, number]; label: number } {
  return { image: ds.mean.map((m) => Math.round(255 * m)) as [number, number, number], label: ds.ignoreIndex };
}

let scratch = { img: new Uint8Array(0), lab: new Uint8Array(0), tmp: new Uint8Array(0) };
function buffers(px: number): typeof scratch {
  if (scratch.lab.length !== px) scratch = { img: new Uint8Array(px * 3), lab: new Uint8Array(px), tmp: new Uint8Array(px * 3) };
  return scratch;
}

/** Frames `idx` augmented: per frame, one geometry draw (crop, then flip) from `rng`, applied to frame and labels. */
export function segTrainBatch(ds: SegDataset, idx: Uint32Array, aug: SegAugment, rng: Rng): { x: Float32Array; labels: Uint8Array; n: number } {
  const n = idx.length, h = ds.height, w = ds.width, px = h * w;
  const x = new Float32Array(n * px * 3), labels = new Uint8Array(n * px);
  const { img, lab, tmp } = buffers(px);
  for (let i = 0; i < n; i++) {
    const k = idx[i]!;
    if (k >= ds.n) throw new RangeError(`segTrainBatch: index ${k} outside [0, ${ds.n})`);
    img.set(ds.images.subarray(k * px * 3, (k + 1) * px * 3));
    lab.set(ds.labels.subarray(k * px, (k + 1) * px));
    const g = sampleSegGeometry(h, w, aug, rng);
    applyGeometryToImage(img, tmp, h, w, g);
    applyGeometryToLabels(lab, tmp.subarray(0, px), h, w, g);
    normalizeInto(img, x, i * px * 3, ds.mean, ds.std);
    labels.set(lab, i * px);
  }
  return { x, labels, n };
}

/** Frames [start, start+count) (clipped to the dataset), normalized, with their label maps; no augmentation. */
export function segEvalBatch(ds: SegDataset, start: number, count: number): { x: Float32Array; labels: Uint8Array; n: number } {
  const n = Math.max(0, Math.min(count, ds.n - start));
  const px = ds.height * ds.width;
  const x = new Float32Array(n * px * 3);
  normalizeInto(ds.images.subarray(start * px * 3, (start + n) * px * 3), x, 0, ds.mean, ds.std);
  return { x, labels: ds.labels.slice(start * px, (start + n) * px), n };
}
