// Geometric augmentation applied to an image together with what annotates it: one sampled crop/flip (the
// `SegGeometry`) applied to the RGB image with Pillow-exact bilinear resampling (lib/data/augment.ts), to its label
// map with nearest-neighbour sampling (class indices are never blended), and to boxes [x0, y0, x1, y1].
// Coordinates are continuous pixel-edge coordinates: pixel (x, y) covers [x, x+1) x [y, y+1), its center is
// (x + 0.5, y + 0.5); every mapping below sends an output pixel center to the same input point for images,
// labels and boxes, so that they stay aligned.
import { z } from 'zod';
import type { Rng } from '../rng.ts';
import { hflip, resizedCrop, sampleFlip, sampleResizedCrop, type CropParams } from './augment.ts';

/** The geometric augmentation an annotated image takes (segmentation and detection recipes alike). */
export const geometryAugmentSchema = z.object({
  hflip: z.boolean(),
  /** Random-resized crop area fraction U(scaleMin, 1), aspect ratio kept; 1 = no crop (boxes are clipped to the crop). */
  scaleMin: z.number().gt(0).lte(1),
}).strict();
export type GeometryAugment = z.infer<typeof geometryAugmentSchema>;

/** One image's sampled geometry: an optional random-resized crop (back to full size), then an optional flip. */
export interface SegGeometry { crop: CropParams | null; flip: boolean }

/** A box in pixel-edge coordinates of an h x w image: [x0, y0, x1, y1], x0 < x1, y0 < y1. */
export type PixelBox = [number, number, number, number];

/**
 * Draws the crop (when scaleMin < 1: area fraction U(scaleMin, 1), the image's aspect ratio kept, bilinear) and then
 * the flip (when hflip), in that order, from `rng`.
 */
export function sampleSegGeometry(h: number, w: number, aug: { scaleMin: number; hflip: boolean }, rng: Rng): SegGeometry {
  const crop = aug.scaleMin < 1 ? sampleResizedCrop(h, w, aug.scaleMin, rng, { shape: 'image', interpolation: 'bilinear' }) : null;
  const flip = aug.hflip ? sampleFlip(rng) : false;
  return { crop, flip };
}

/**
 * Nearest-neighbour resize of the window rows top..top+ch, columns left..left+cw of `src` (row stride srcW pixels)
 * to an h x w `dst`: output pixel (x, y) copies input (left + floor((x + .5) * cw / w), top + floor((y + .5) * ch / h)),
 * the input pixel under the output pixel's center (Pillow's NEAREST). Integer arithmetic, so no rounding surprises.
 */
export function resizeNearest(src: Uint8Array, srcW: number, top: number, left: number, ch: number, cw: number, dst: Uint8Array, h: number, w: number, channels = 1): void {
  const cols = new Int32Array(w);
  for (let x = 0; x < w; x++) cols[x] = (left + Math.floor(((2 * x + 1) * cw) / (2 * w))) * channels;
  for (let y = 0; y < h; y++) {
    const row = (top + Math.floor(((2 * y + 1) * ch) / (2 * h))) * srcW * channels;
    const out = y * w * channels;
    for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) dst[out + x * channels + c] = src[row + cols[x]! + c]!;
  }
}

/**
 * PIL Image.transform(AFFINE, m, NEAREST) on an h x w map: output (x, y) takes the input pixel containing
 * (a(x+.5) + b(y+.5) + c, d(x+.5) + e(y+.5) + f); points outside the image get `fill` (for a label map: the
 * dataset's ignore index, so uncovered areas do not count as any class). The label-map twin of augment.ts `affine`.
 */
export function affineNearest(src: Uint8Array, dst: Uint8Array, h: number, w: number, m: readonly number[], fill: number | readonly number[], channels = 1): void {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  const fillOf = (k: number): number => (typeof fill === 'number' ? fill : fill[k]!);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * channels;
      const xin = a * (x + 0.5) + b * (y + 0.5) + c, yin = d * (x + 0.5) + e * (y + 0.5) + f;
      if (xin < 0 || xin >= w || yin < 0 || yin >= h) { for (let k = 0; k < channels; k++) dst[o + k] = fillOf(k); continue; }
      const i = (Math.floor(yin) * w + Math.floor(xin)) * channels;
      for (let k = 0; k < channels; k++) dst[o + k] = src[i + k]!;
    }
  }
}

/** Applies a sampled geometry in place to an RGB image (h*w*3): crop resized with the crop's filter, then flip. */
export function applyGeometryToImage(img: Uint8Array, tmp: Uint8Array, h: number, w: number, g: SegGeometry): void {
  if (g.crop) {
    tmp.set(img);
    resizedCrop(tmp, img, h, w, g.crop.top, g.crop.left, g.crop.ch, g.crop.cw, g.crop.interpolation);
  }
  if (g.flip) { tmp.set(img); hflip(tmp, img, h, w); }
}

/** Applies the same geometry in place to a label map (h*w class indices): nearest-neighbour crop, then flip. */
export function applyGeometryToLabels(labels: Uint8Array, tmp: Uint8Array, h: number, w: number, g: SegGeometry): void {
  if (g.crop) {
    tmp.set(labels);
    resizeNearest(tmp, w, g.crop.top, g.crop.left, g.crop.ch, g.crop.cw, labels, h, w);
  }
  if (g.flip) { tmp.set(labels); hflip(tmp, labels, h, w, 1); }
}

/**
 * Maps a box through the same geometry: the crop window scaled back to h x w (clipped to the image), then the flip.
 * Returns null when nothing of the box is left inside the crop.
 */
export function mapBox(box: PixelBox, g: SegGeometry, h: number, w: number): PixelBox | null {
  let [x0, y0, x1, y1] = box;
  if (g.crop) {
    const { top, left, ch, cw } = g.crop;
    const sx = w / cw, sy = h / ch;
    const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
    x0 = clip((x0 - left) * sx, w); x1 = clip((x1 - left) * sx, w);
    y0 = clip((y0 - top) * sy, h); y1 = clip((y1 - top) * sy, h);
    if (x1 <= x0 || y1 <= y0) return null;
  }
  if (g.flip) [x0, x1] = [w - x1, w - x0];
  return [x0, y0, x1, y1];
}
