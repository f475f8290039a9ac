// Training and evaluation batches as flat NHWC float arrays, ready for tf.tensor4d. trainBatch draws every
// random number from `rng` in a fixed order (per image: crop, flip, RandAugment, jitter, erasing; then the
// batch's mixup/CutMix), so a resumed run with the same rng state reproduces the same batches.
import type { Rng } from '../rng.ts';
import type { ImageDataset } from './cifar10.ts';
import { augmentImage, mixBatch, normalizeInto, randomErase, type AugmentConfig } from './augment.ts';

// Two reusable image buffers: augmentation runs for every training image, so it allocates nothing per image.
let scratch: { img: Uint8Array; tmp: Uint8Array } = { img: new Uint8Array(0), tmp: new Uint8Array(0) };
function buffers(px: number): { img: Uint8Array; tmp: Uint8Array } {
  if (scratch.img.length !== px) scratch = { img: new Uint8Array(px), tmp: new Uint8Array(px) };
  return scratch;
}

export function trainBatch(ds: ImageDataset, indices: ArrayLike<number>, aug: AugmentConfig, rng: Rng): { x: Float32Array; y: Float32Array; n: number } {
  const n = indices.length, h = ds.height, w = ds.width, px = h * w * 3, k = ds.classes.length;
  const x = new Float32Array(n * px);
  const y = new Float32Array(n * k);
  const labels = new Uint8Array(n);
  const { img, tmp } = buffers(px);
  for (let i = 0; i < n; i++) {
    const src = indices[i]!;
    img.set(ds.images.subarray(src * px, (src + 1) * px));
    labels[i] = ds.labels[src]!;
    augmentImage(img, tmp, h, w, aug, rng);
    normalizeInto(img, x, i * px);
    randomErase(x, i * px, h, w, aug.reprob, aug.remode, rng);
  }
  mixBatch(x, labels, n, h, w, k, aug, rng, y);
  return { x, y, n };
}

/** Images [start, start+count) (clipped to the dataset), normalized, with their integer labels. */
export function evalBatch(ds: ImageDataset, start: number, count: number): { x: Float32Array; labels: Uint8Array; n: number } {
  const n = Math.max(0, Math.min(count, ds.n - start));
  const px = ds.height * ds.width * 3;
  const x = new Float32Array(n * px);
  normalizeInto(ds.images.subarray(start * px, (start + n) * px), x, 0);
  return { x, labels: ds.labels.slice(start, start + n), n };
}
