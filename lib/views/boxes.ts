// Boxes drawn into an RGB image (pure: pixels in, pixels out), for the detection pictures: the notebook's test images
// with ground truth in red and predictions in green (seed 000's figure), and `convmixer predict --out`.
import type { Box } from '../data/voc.ts';

export type Rgb = readonly [number, number, number];
export const GROUND_TRUTH_RED: Rgb = [220, 20, 20];
export const PREDICTION_GREEN: Rgb = [20, 200, 40];

/**
 * Draws the outline of each box (continuous pixel coordinates [x0, y0, x1, y1] of this w x h image, clipped to it) with
 * lines `thickness` pixels wide inside the box edges, into a copy of `rgb` (h * w * 3).
 */
export function drawBoxes(rgb: Uint8Array, w: number, h: number, boxes: readonly { box: Box; color: Rgb }[], thickness = 2): Uint8Array {
  const out = Uint8Array.from(rgb);
  const put = (x: number, y: number, c: Rgb): void => {
    const o = (y * w + x) * 3;
    out[o] = c[0]; out[o + 1] = c[1]; out[o + 2] = c[2];
  };
  for (const { box, color } of boxes) {
    const x0 = Math.max(0, Math.floor(box[0])), y0 = Math.max(0, Math.floor(box[1]));
    const x1 = Math.min(w - 1, Math.ceil(box[2]) - 1), y1 = Math.min(h - 1, Math.ceil(box[3]) - 1);
    if (x1 < x0 || y1 < y0) continue;
    for (let t = 0; t < thickness; t++) {
      for (let x = x0; x <= x1; x++) { if (y0 + t <= y1) put(x, y0 + t, color); if (y1 - t >= y0) put(x, y1 - t, color); }
      for (let y = y0; y <= y1; y++) { if (x0 + t <= x1) put(x0 + t, y, color); if (x1 - t >= x0) put(x1 - t, y, color); }
    }
  }
  return out;
}
