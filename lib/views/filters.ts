// Appendix C of the paper: pictures of a trained ConvMixer's weights. The patch-embedding filters (one colour tile per
// filter; at patch 1 a filter is a single RGB colour mix) and the depthwise kernels of every layer (one grey-scale
// k x k tile per channel, each normalised to its own range, as the paper's figures are), as PNG images.
import sharp from 'sharp';
import { readSafetensors, type StoredTensor } from '../models/safetensors.ts';
import { UserError } from '../errors.ts';

export interface FilterImage {
  title: string;
  png: Uint8Array;
}

/** Tiles as an RGB raster: `tiles[i]` is h*w*3 floats in [0, 1], laid out in rows of `cols`, 1-pixel gaps, scaled up. */
async function mosaic(tiles: Float32Array[], h: number, w: number, cols: number, scale: number): Promise<Uint8Array> {
  const rows = Math.ceil(tiles.length / cols);
  const W = (cols * (w + 1) + 1) * scale, H = (rows * (h + 1) + 1) * scale;
  const px = new Uint8Array(W * H * 3).fill(255);
  tiles.forEach((t, i) => {
    const ox = ((i % cols) * (w + 1) + 1) * scale, oy = (Math.floor(i / cols) * (h + 1) + 1) * scale;
    for (let y = 0; y < h * scale; y++) for (let x = 0; x < w * scale; x++) {
      const src = (Math.floor(y / scale) * w + Math.floor(x / scale)) * 3, dst = ((oy + y) * W + ox + x) * 3;
      for (let c = 0; c < 3; c++) px[dst + c] = Math.round(255 * t[src + c]!);
    }
  });
  return new Uint8Array(await sharp(Buffer.from(px), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer());
}

/** Values scaled to [0, 1] by their own min and max (a constant tile is mid-grey). */
function normalise(v: Float32Array): Float32Array {
  let lo = Infinity, hi = -Infinity;
  for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  return v.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0.5));
}

function tensor(tensors: Record<string, StoredTensor>, key: string, file: string): StoredTensor {
  const t = tensors[key];
  if (!t) throw new UserError(`${file}: no tensor '${key}' (expected ConvMixer weights in timm's key layout)`);
  return t;
}

/**
 * The patch-embedding filters and the depthwise kernels of layers `layers` (default: all) of ConvMixer weights in
 * timm's layout (`stem.0.weight` [dim, 3, p, p], `blocks.i.0.fn.0.weight` [dim, 1, k, k]); `channels` tiles per picture.
 */
export async function filterImages(weightsFile: string, opts: { channels?: number; layers?: number[] } = {}): Promise<FilterImage[]> {
  const tensors = readSafetensors(weightsFile);
  const stem = tensor(tensors, 'stem.0.weight', weightsFile);
  const [dim, cin, p] = stem.shape as [number, number, number, number];
  const n = Math.min(opts.channels ?? 64, dim);
  const out: FilterImage[] = [];
  // Patch embedding: each filter's RGB weights (OIHW -> HWC), normalised per filter.
  const stemTiles = Array.from({ length: n }, (_, o) => {
    const tile = new Float32Array(p * p * 3);
    for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) for (let c = 0; c < 3; c++) tile[(y * p + x) * 3 + c] = stem.data[((o * cin + c) * p + y) * p + x]!;
    return normalise(tile);
  });
  out.push({ title: `Patch-embedding filters (first ${n} of ${dim}, ${p}x${p}x3, each normalised)`, png: await mosaic(stemTiles, p, p, 16, p === 1 ? 12 : Math.max(2, Math.round(24 / p))) });
  const depth = Object.keys(tensors).filter((k) => /^blocks\.\d+\.0\.fn\.0\.weight$/.test(k)).length;
  for (const layer of opts.layers ?? Array.from({ length: depth }, (_, i) => i)) {
    const dw = tensor(tensors, `blocks.${layer}.0.fn.0.weight`, weightsFile);
    const k = dw.shape[2]!;
    const tiles = Array.from({ length: n }, (_, ch) => {
      const g = normalise(dw.data.subarray(ch * k * k, (ch + 1) * k * k));
      const tile = new Float32Array(k * k * 3);
      g.forEach((v, i) => tile.fill(v, i * 3, i * 3 + 3));
      return tile;
    });
    out.push({ title: `Depthwise kernels of layer ${layer + 1} of ${depth} (first ${n} of ${dim} channels, ${k}x${k}, each normalised)`, png: await mosaic(tiles, k, k, 16, 4) });
  }
  return out;
}
