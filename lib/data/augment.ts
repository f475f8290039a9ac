// Training augmentation with timm's semantics (the framework the paper trained with), written for uint8 HWC
// RGB images in plain JS: per image random-resized-crop, flip, RandAugment, color jitter, then
// normalization and random erasing on floats; per batch mixup / CutMix with smoothed soft targets.
// Ops follow the PIL functions timm calls (ImageOps / ImageEnhance / Image.transform) so known inputs give
// the same pixels. Every random draw comes from the given Rng, in a fixed order.
import type { Rng } from '../rng.ts';

export interface AugmentConfig {
  /** Random-resized-crop scale range is (scaleMin, 1), aspect ratio fixed at 1; 1 disables the crop. */
  scaleMin: number;
  hflip: boolean;
  /** timm 'rand-m{m}-n{n}-mstd{mstd}-inc1' (increasing-severity op set); null disables. */
  randAugment: { n: number; m: number; mstd: number } | null;
  /** torchvision ColorJitter(b, c, s) strength; 0 disables. */
  colorJitter: number;
  mixupAlpha: number;
  cutmixAlpha: number;
  /** Probability that a batch is mixed at all. */
  mixupProb: number;
  /** Probability of CutMix instead of mixup when both alphas are > 0. */
  mixupSwitchProb: number;
  labelSmoothing: number;
  /** Random-erasing probability (after normalization); 0 disables. */
  reprob: number;
  remode: 'pixel' | 'rand' | 'const';
}

/**
 * The paper's CIFAR-10 recipe. The paper (Sec. 3, App. B) trained CIFAR-10 with timm using "RandAug, mixup,
 * cutmix, random erasing, gradient norm clipping, and the standard augmentations in timm", without listing
 * values; so each value comes from the closest published source:
 * - scaleMin 0.75: the paper's "random scaling" for CIFAR (App. B) and `--scale 0.75` in locuslab/convmixer-cifar10 train.py.
 * - hflip: timm default (--hflip 0.5).
 * - RandAugment n=2 m=9 mstd=0.5 (inc1): `--aa rand-m9-mstd0.5-inc1` in the locuslab/convmixer README ("exactly the
 *   settings we used"). (The convmixer-cifar10 script's `--ra-n 2 --ra-m 12` is torchvision's RandAugment, 31 magnitude
 *   bins, i.e. a different scale; its README says it does not replicate the paper and has no mixup/CutMix.)
 * - colorJitter 0: timm turns color jitter off whenever RandAugment is on.
 * - mixup 0.5, CutMix 0.5: `--mixup 0.5 --cutmix 0.5` (locuslab/convmixer README); mixupProb 1 and switch 0.5 are timm defaults.
 * - labelSmoothing 0.1: timm default (--smoothing 0.1).
 * - reprob 0.25, remode pixel: `--reprob 0.25 --remode pixel` (locuslab/convmixer README).
 */
export const PAPER_CIFAR_AUGMENT: AugmentConfig = {
  scaleMin: 0.75, hflip: true, randAugment: { n: 2, m: 9, mstd: 0.5 }, colorJitter: 0,
  mixupAlpha: 0.5, cutmixAlpha: 0.5, mixupProb: 1, mixupSwitchProb: 0.5, labelSmoothing: 0.1, reprob: 0.25, remode: 'pixel',
};

/** No augmentation at all (one-hot targets): for evaluation-like training batches and tests. */
export const NO_AUGMENT: AugmentConfig = {
  scaleMin: 1, hflip: false, randAugment: null, colorJitter: 0,
  mixupAlpha: 0, cutmixAlpha: 0, mixupProb: 1, mixupSwitchProb: 0.5, labelSmoothing: 0, reprob: 0, remode: 'pixel',
};

/** CIFAR-10 channel statistics, as in locuslab/convmixer-cifar10. */
export const CIFAR10_MEAN: [number, number, number] = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD: [number, number, number] = [0.2471, 0.2435, 0.2616];
/** Fill color for pixels that geometric ops uncover: timm uses round(255 * mean). */
const FILL = CIFAR10_MEAN.map((m) => Math.round(255 * m)) as [number, number, number];

const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : v);

// ---- geometry ----------------------------------------------------------------------------------------

/** Mirrors an h x w image left-right; `channels` 1 flips a label map (no blending either way). */
export function hflip(src: Uint8Array, dst: Uint8Array, h: number, w: number, channels = 3): void {
  if (channels !== 3) {
    for (let y = 0; y < h; y++) {
      const row = y * w * channels;
      for (let x = 0; x < w; x++) {
        const s = row + x * channels, d = row + (w - 1 - x) * channels;
        for (let c = 0; c < channels; c++) dst[d + c] = src[s + c]!;
      }
    }
    return;
  }
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3, d = row + (w - 1 - x) * 3;
      dst[d] = src[s]!; dst[d + 1] = src[s + 1]!; dst[d + 2] = src[s + 2]!;
    }
  }
}

export type Interpolation = 'bilinear' | 'bicubic';

/** Pillow's resampling filters (Resample.c): triangle (support 1) and cubic with a = -0.5 (support 2). */
const RESAMPLE_FILTERS: Record<Interpolation, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  bicubic: {
    support: 2,
    f: (x) => { const a = -0.5; x = Math.abs(x); return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0; },
  },
};
const PRECISION_BITS = 32 - 8 - 2; // Pillow's fixed-point coefficients for 8-bit images

interface Coeffs {
  /** First input index per output sample. */
  first: Int32Array;
  /** Taps per output sample (up to `stride`), weights flattened with that stride; unused taps are 0. */
  count: Int32Array;
  weights: Float64Array;
  stride: number;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis (in -> out samples): per output sample the first
 * input index and integer weights that sum to about 2^22 (rounded half away from zero, as Pillow does).
 */
function resampleCoeffs(inSize: number, outSize: number, interpolation: Interpolation): Coeffs {
  // Few distinct (size, filter) pairs occur in training (crop sides up to the image size): compute each once.
  const key = `${inSize}/${outSize}/${interpolation}`;
  const cached = coeffCache.get(key);
  if (cached) return cached;
  const { support: base, f } = RESAMPLE_FILTERS[interpolation];
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = base * filterscale, ss = 1 / filterscale;
  const stride = Math.ceil(support) * 2 + 1;
  const c: Coeffs = { first: new Int32Array(outSize), count: new Int32Array(outSize), weights: new Float64Array(outSize * stride), stride };
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k: number[] = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) { const v = f((x + xmin - center + 0.5) * ss); k.push(v); ww += v; }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
    k.forEach((v, i) => {
      const n = ww === 0 ? v : v / ww;
      c.weights[xx * stride + i] = Math.trunc(n < 0 ? -0.5 + n * 2 ** PRECISION_BITS : 0.5 + n * 2 ** PRECISION_BITS);
    });
  }
  coeffCache.set(key, c);
  return c;
}
const coeffCache = new Map<string, Coeffs>();

// Pillow's clip8: the accumulator's integer part (arithmetic shift), clamped to a byte.
const clipFixed = (acc: number): number => clip8(acc >> PRECISION_BITS); // acc is an integer within int32
const HALF = 2 ** (PRECISION_BITS - 1);
let resizeScratch = new Uint8Array(0);

/**
 * torchvision's resized_crop on a PIL image, as timm's RandomResizedCropAndInterpolation runs it: crop rows top..top+ch,
 * columns left..left+cw of `src` (h x w, RGB), then PIL resize back to h x w with the bilinear or bicubic filter
 * (see `resampleWindow`).
 */
export function resizedCrop(src: Uint8Array, dst: Uint8Array, h: number, w: number, top: number, left: number, ch: number, cw: number, interpolation: Interpolation = 'bilinear'): void {
  resampleWindow(src, w, top, left, ch, cw, dst, h, w, interpolation);
}

/**
 * PIL Image.resize of an RGB image (srcH x srcW) to dstH x dstW, as torchvision's Resize does on PIL images:
 * antialiased when shrinking (the filter widens with the scale), Pillow's fixed-point arithmetic.
 */
export function resizeImage(src: Uint8Array, srcH: number, srcW: number, dst: Uint8Array, dstH: number, dstW: number, interpolation: Interpolation = 'bilinear'): void {
  resampleWindow(src, srcW, 0, 0, srcH, srcW, dst, dstH, dstW, interpolation);
}

/**
 * The window rows top..top+ch, columns left..left+cw of an RGB `src` whose rows are srcW pixels long, resampled to
 * h x w with Pillow's filter: a horizontal pass, then a vertical one, each in Pillow's fixed point with 8-bit results
 * in between; a pass whose size does not change is skipped, as in Pillow.
 */
function resampleWindow(src: Uint8Array, srcW: number, top: number, left: number, ch: number, cw: number, dst: Uint8Array, h: number, w: number, interpolation: Interpolation): void {
  if (resizeScratch.length < ch * w * 3) resizeScratch = new Uint8Array(Math.max(h, ch) * w * 3);
  const mid = resizeScratch;
  // stage 1: the window's rows, resized horizontally to w (or copied when cw === w)
  if (cw === w) {
    for (let y = 0; y < ch; y++) mid.set(src.subarray(((top + y) * srcW + left) * 3, ((top + y) * srcW + left + w) * 3), y * w * 3);
  } else {
    const { first, count, weights, stride } = resampleCoeffs(cw, w, interpolation);
    for (let y = 0; y < ch; y++) {
      const row = ((top + y) * srcW + left) * 3;
      for (let x = 0; x < w; x++) {
        const base = row + first[x]! * 3, n = count[x]!, k0 = x * stride;
        // three channel sums in one pass over the taps (integer-valued doubles: the order does not change them)
        let r = HALF, g = HALF, b = HALF;
        for (let i = 0, j = base; i < n; i++, j += 3) {
          const k = weights[k0 + i]!;
          r += src[j]! * k; g += src[j + 1]! * k; b += src[j + 2]! * k;
        }
        const o = (y * w + x) * 3;
        mid[o] = clipFixed(r); mid[o + 1] = clipFixed(g); mid[o + 2] = clipFixed(b);
      }
    }
  }
  // stage 2: vertically to h (or copied when ch === h)
  if (ch === h) { dst.set(mid.subarray(0, h * w * 3)); return; }
  const { first, count, weights, stride } = resampleCoeffs(ch, h, interpolation);
  const rowLen = w * 3;
  for (let y = 0; y < h; y++) {
    const base = first[y]! * rowLen, n = count[y]!, k0 = y * stride;
    for (let i = 0; i < rowLen; i++) {
      let acc = HALF;
      for (let t = 0; t < n; t++) acc += mid[base + t * rowLen + i]! * weights[k0 + t]!;
      dst[y * rowLen + i] = clipFixed(acc);
    }
  }
}

/** timm's default interpolation for its PIL ops ('random'): bilinear or bicubic, one draw. */
const randomInterpolation = (rng: Rng): Interpolation => (rng.next() < 0.5 ? 'bilinear' : 'bicubic');

/** Pillow's cubic convolution through 4 samples at offsets -1..2, evaluated at d in [0, 1) (Geometry.c, a = -1). */
function cubic(v1: number, v2: number, v3: number, v4: number, d: number): number {
  const p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
  return v2 + d * (p2 + d * (p3 + d * p4));
}

/**
 * PIL's Image.transform(AFFINE, (a,b,c,d,e,f)) with bilinear or bicubic sampling: output pixel (x, y) samples the
 * input at (a*(x+.5) + b*(y+.5) + c, d*(x+.5) + e*(y+.5) + f); samples outside the image get the fill color,
 * neighbours past the border are clamped (bicubic: columns clamped, rows below the image repeat the last row read,
 * as Pillow's Geometry.c does), and the result is clipped to [0, 255] and truncated.
 * timm's RandAugment picks bilinear or bicubic at random for each geometric op (see `geometric`).
 */
export function affine(src: Uint8Array, dst: Uint8Array, h: number, w: number, m: readonly number[], fill: readonly number[] = FILL, interpolation: Interpolation = 'bilinear'): void {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  const clampX = (x: number): number => (x < 0 ? 0 : x >= w ? w - 1 : x);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const xin = a * (x + 0.5) + b * (y + 0.5) + c, yin = d * (x + 0.5) + e * (y + 0.5) + f;
      if (xin < 0 || xin >= w || yin < 0 || yin >= h) { dst[o] = fill[0]!; dst[o + 1] = fill[1]!; dst[o + 2] = fill[2]!; continue; }
      const fx = xin - 0.5, fy = yin - 0.5;
      const x0 = Math.floor(fx), y0 = Math.floor(fy), dx = fx - x0, dy = fy - y0;
      if (interpolation === 'bilinear') {
        const xa = Math.max(x0, 0), xb = Math.min(x0 + 1, w - 1), ya = Math.max(y0, 0), yb = Math.min(y0 + 1, h - 1);
        for (let ch = 0; ch < 3; ch++) {
          const p = src[(ya * w + xa) * 3 + ch]!, q = src[(ya * w + xb) * 3 + ch]!;
          const r = src[(yb * w + xa) * 3 + ch]!, s = src[(yb * w + xb) * 3 + ch]!;
          const top = p + (q - p) * dx, bot = r + (s - r) * dx;
          dst[o + ch] = Math.trunc(top + (bot - top) * dy); // PIL casts to UINT8 (truncates)
        }
        continue;
      }
      // Bicubic over rows y0-1..y0+2 and columns x0-1..x0+2. Pillow clamps the columns and the first row; a later
      // row outside the image repeats the row before it (the first row is always inside after the bounds check).
      const x0c = clampX(x0 - 1) * 3, x1c = clampX(x0) * 3, x2c = clampX(x0 + 1) * 3, x3c = clampX(x0 + 2) * 3;
      const yFirst = Math.min(Math.max(y0 - 1, 0), h - 1);
      // row offsets; -1 marks a row that repeats the previous one
      const r1 = yFirst * w * 3, r2 = y0 >= 0 && y0 < h ? y0 * w * 3 : -1;
      const r3 = y0 + 1 >= 0 && y0 + 1 < h ? (y0 + 1) * w * 3 : -1, r4 = y0 + 2 >= 0 && y0 + 2 < h ? (y0 + 2) * w * 3 : -1;
      for (let ch = 0; ch < 3; ch++) {
        const v1 = cubic(src[r1 + x0c + ch]!, src[r1 + x1c + ch]!, src[r1 + x2c + ch]!, src[r1 + x3c + ch]!, dx);
        const v2 = r2 < 0 ? v1 : cubic(src[r2 + x0c + ch]!, src[r2 + x1c + ch]!, src[r2 + x2c + ch]!, src[r2 + x3c + ch]!, dx);
        const v3 = r3 < 0 ? v2 : cubic(src[r3 + x0c + ch]!, src[r3 + x1c + ch]!, src[r3 + x2c + ch]!, src[r3 + x3c + ch]!, dx);
        const v4 = r4 < 0 ? v3 : cubic(src[r4 + x0c + ch]!, src[r4 + x1c + ch]!, src[r4 + x2c + ch]!, src[r4 + x3c + ch]!, dx);
        const v = cubic(v1, v2, v3, v4, dy);
        dst[o + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
      }
    }
  }
}

/** PIL Image.rotate(degrees) about the center (counter-clockwise for positive degrees). */
export function rotateMatrix(degrees: number, h: number, w: number): number[] {
  const t = (-degrees * Math.PI) / 180;
  const r15 = (v: number): number => Math.round(v * 1e15) / 1e15;
  const a = r15(Math.cos(t)), b = r15(Math.sin(t)), d = -b, e = a;
  const cx = w / 2, cy = h / 2;
  return [a, b, a * -cx + b * -cy + cx, d, e, d * -cx + e * -cy + cy];
}

// ---- pixel ops (PIL ImageOps / ImageEnhance semantics) ----------------------------------------------

function applyLut(img: Uint8Array, lut: Uint8Array, perChannel = false): void {
  for (let i = 0; i < img.length; i++) img[i] = lut[perChannel ? (i % 3) * 256 + img[i]! : img[i]!]!;
}

const LUT = new Uint8Array(768);

export function invert(img: Uint8Array): void {
  for (let i = 0; i < img.length; i++) img[i] = 255 - img[i]!;
}

/** Keeps the `bits` most significant bits (PIL ImageOps.posterize); bits >= 8 is identity, as in timm. */
export function posterize(img: Uint8Array, bits: number): void {
  if (bits >= 8) return;
  const mask = ~((1 << (8 - bits)) - 1) & 0xff;
  for (let i = 0; i < img.length; i++) img[i] = img[i]! & mask;
}

/** Inverts pixels >= thresh (PIL ImageOps.solarize). */
export function solarize(img: Uint8Array, thresh: number): void {
  for (let i = 0; i < img.length; i++) if (img[i]! >= thresh) img[i] = 255 - img[i]!;
}

/** Adds `add` to pixels below thresh, saturating (timm solarize_add). */
export function solarizeAdd(img: Uint8Array, add: number, thresh = 128): void {
  for (let i = 0; i < img.length; i++) if (img[i]! < thresh) img[i] = Math.min(255, img[i]! + add);
}

/** Per-channel histogram stretch to [0, 255] (PIL ImageOps.autocontrast, cutoff 0). */
export function autoContrast(img: Uint8Array): void {
  for (let c = 0; c < 3; c++) {
    let lo = 255, hi = 0;
    for (let i = c; i < img.length; i += 3) { const v = img[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
    for (let v = 0; v < 256; v++) {
      if (hi <= lo) { LUT[c * 256 + v] = v; continue; }
      const scale = 255 / (hi - lo), offset = -lo * scale;
      LUT[c * 256 + v] = clip8(Math.trunc(v * scale + offset));
    }
  }
  applyLut(img, LUT, true);
}

const HIST = new Int32Array(256);

/** Per-channel histogram equalization (PIL ImageOps.equalize). */
export function equalize(img: Uint8Array): void {
  for (let c = 0; c < 3; c++) {
    HIST.fill(0);
    for (let i = c; i < img.length; i += 3) HIST[img[i]!]!++;
    let total = 0, last = 0;
    for (let v = 0; v < 256; v++) if (HIST[v]!) { total += HIST[v]!; last = HIST[v]!; }
    const step = Math.floor((total - last) / 255);
    let n = Math.floor(step / 2);
    for (let v = 0; v < 256; v++) {
      LUT[c * 256 + v] = step ? Math.min(255, Math.floor(n / step)) : v;
      n += HIST[v]!;
    }
  }
  applyLut(img, LUT, true);
}

/**
 * PIL Image.blend(degenerate, img, factor): degenerate + factor * (img - degenerate), truncated and clipped.
 * Pillow's Blend.c takes alpha as a C float and computes in single precision, so this rounds to float32 at
 * each step: in double, 1.3 * 90 = 117 exactly, but Pillow gives 116 (float32(1.3) * 90 = 116.99999...).
 */
function blendInto(img: Uint8Array, degenerate: Uint8Array | number, factor: number): void {
  const f = Math.fround(factor);
  for (let i = 0; i < img.length; i++) {
    const d = typeof degenerate === 'number' ? degenerate : degenerate[i]!;
    img[i] = clip8(Math.trunc(Math.fround(d + Math.fround(f * (img[i]! - d)))));
  }
}

/** ITU-R 601-2 luma as PIL's RGB->L conversion computes it (fixed point, rounded). */
const luma = (r: number, g: number, b: number): number => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;

/** Saturation (ImageEnhance.Color): blend with the grayscale image. */
export function color(img: Uint8Array, factor: number, scratch: Uint8Array): void {
  for (let i = 0; i < img.length; i += 3) scratch[i] = scratch[i + 1] = scratch[i + 2] = luma(img[i]!, img[i + 1]!, img[i + 2]!);
  blendInto(img, scratch.subarray(0, img.length), factor);
}

/** ImageEnhance.Contrast: blend with a flat image at the rounded mean luma. */
export function contrast(img: Uint8Array, factor: number): void {
  let sum = 0;
  for (let i = 0; i < img.length; i += 3) sum += luma(img[i]!, img[i + 1]!, img[i + 2]!);
  blendInto(img, Math.floor(sum / (img.length / 3) + 0.5), factor);
}

/** ImageEnhance.Brightness: blend with black. */
export function brightness(img: Uint8Array, factor: number): void {
  blendInto(img, 0, factor);
}

/** ImageEnhance.Sharpness: blend with PIL's SMOOTH filter (3x3, center 5, /13; border pixels unchanged). */
export function sharpness(img: Uint8Array, factor: number, h: number, w: number, scratch: Uint8Array): void {
  scratch.set(img);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 4 * img[(y * w + x) * 3 + c]!;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += img[((y + dy) * w + x + dx) * 3 + c]!;
        scratch[(y * w + x) * 3 + c] = clip8(Math.round(s / 13));
      }
    }
  }
  blendInto(img, scratch.subarray(0, img.length), factor);
}

// ---- RandAugment (timm, increasing-severity op set) ----------------------------------------------------

type Op = (img: Uint8Array, tmp: Uint8Array, h: number, w: number, level: number, rng: Rng) => void;

const negate = (v: number, rng: Rng): number => (rng.next() > 0.5 ? -v : v);
// timm's geometric ops draw their argument (and its sign), then bilinear or bicubic at random (random.choice of
// _RANDOM_INTERPOLATION, the default when no --interpolation is given, as in the paper's command).
const geometric = (matrix: (level: number, rng: Rng, h: number, w: number) => number[]): Op => (img, tmp, h, w, level, rng) => {
  const m = matrix(level, rng, h, w);
  const interpolation = randomInterpolation(rng);
  tmp.set(img);
  affine(tmp, img, h, w, m, FILL, interpolation);
};
// 'Increasing' enhance level: factor 1 +- 0.9*level/10, at least 0.1.
const enhanceFactor = (level: number, rng: Rng): number => Math.max(0.1, 1 + negate((level / 10) * 0.9, rng));

/** timm's _RAND_INCREASING_TRANSFORMS, in timm's order, with timm's level -> argument mappings. */
export const RAND_OPS: [string, Op][] = [
  ['AutoContrast', (img) => autoContrast(img)],
  ['Equalize', (img) => equalize(img)],
  ['Invert', (img) => invert(img)],
  ['Rotate', geometric((l, rng, h, w) => rotateMatrix(negate((l / 10) * 30, rng), h, w))],
  ['PosterizeIncreasing', (img, _t, _h, _w, l) => posterize(img, 4 - Math.trunc((l / 10) * 4))],
  ['SolarizeIncreasing', (img, _t, _h, _w, l) => solarize(img, 256 - Math.trunc((l / 10) * 256))],
  ['SolarizeAdd', (img, _t, _h, _w, l) => solarizeAdd(img, Math.trunc((l / 10) * 110))],
  ['ColorIncreasing', (img, tmp, _h, _w, l, rng) => color(img, enhanceFactor(l, rng), tmp)],
  ['ContrastIncreasing', (img, _t, _h, _w, l, rng) => contrast(img, enhanceFactor(l, rng))],
  ['BrightnessIncreasing', (img, _t, _h, _w, l, rng) => brightness(img, enhanceFactor(l, rng))],
  ['SharpnessIncreasing', (img, tmp, h, w, l, rng) => sharpness(img, enhanceFactor(l, rng), h, w, tmp)],
  ['ShearX', geometric((l, rng) => [1, negate((l / 10) * 0.3, rng), 0, 0, 1, 0])],
  ['ShearY', geometric((l, rng) => [1, 0, 0, negate((l / 10) * 0.3, rng), 1, 0])],
  ['TranslateXRel', geometric((l, rng, _h, w) => [1, 0, negate((l / 10) * 0.45, rng) * w, 0, 1, 0])],
  ['TranslateYRel', geometric((l, rng, h) => [1, 0, 0, 0, 1, negate((l / 10) * 0.45, rng) * h])],
];

/**
 * timm RandAugment: n ops chosen with replacement; each applied with probability 0.5 at magnitude
 * m + mstd * N(0, 1), clipped to [0, 10]. Returns the names of the ops applied (for tests and logs).
 */
export function randAugment(img: Uint8Array, tmp: Uint8Array, h: number, w: number, cfg: { n: number; m: number; mstd: number }, rng: Rng): string[] {
  const chosen: number[] = [];
  for (let i = 0; i < cfg.n; i++) chosen.push(rng.int(RAND_OPS.length));
  const applied: string[] = [];
  for (const k of chosen) {
    if (rng.next() > 0.5) continue;
    let mag = cfg.m;
    if (cfg.mstd > 0) mag = cfg.m + cfg.mstd * rng.normal();
    mag = Math.max(0, Math.min(mag, 10));
    const [name, op] = RAND_OPS[k]!;
    op(img, tmp, h, w, mag, rng);
    applied.push(name);
  }
  return applied;
}

// ---- per-image pipeline ------------------------------------------------------------------------------

/** torchvision ColorJitter(s, s, s): brightness, contrast, saturation factors in [1-s, 1+s], applied in random order. */
export function colorJitter(img: Uint8Array, tmp: Uint8Array, strength: number, rng: Rng): void {
  const order = rng.shuffle([0, 1, 2]);
  const lo = Math.max(0, 1 - strength), hi = 1 + strength;
  for (const k of order) {
    const f = rng.uniform(lo, hi);
    if (k === 0) brightness(img, f); else if (k === 1) contrast(img, f); else color(img, f, tmp);
  }
}

/**
 * Crop, flip, RandAugment and color jitter, in place on `img` (h*w*3 uint8); `tmp` is scratch of the same size.
 * Crop: timm/torchvision RandomResizedCrop with scale (scaleMin, 1) and ratio 1: side = round(sqrt(scale)*size),
 * resized back with bilinear or bicubic at random (timm's default --train-interpolation 'random').
 */
export function augmentImage(img: Uint8Array, tmp: Uint8Array, h: number, w: number, aug: AugmentConfig, rng: Rng): void {
  if (aug.scaleMin < 1) {
    const crop = sampleResizedCrop(h, w, aug.scaleMin, rng);
    tmp.set(img);
    resizedCrop(tmp, img, h, w, crop.top, crop.left, crop.ch, crop.cw, crop.interpolation);
  }
  if (aug.hflip && sampleFlip(rng)) { tmp.set(img); hflip(tmp, img, h, w); }
  if (aug.randAugment) randAugment(img, tmp, h, w, aug.randAugment, rng);
  if (aug.colorJitter > 0) colorJitter(img, tmp, aug.colorJitter, rng);
}

// The geometric ops' parameters are drawn apart from their application, so that one draw can be applied to an
// image and to its label map or boxes alike (lib/data/geometry.ts); augmentImage draws them in the same order.

/** A random-resized crop: rows top..top+ch, columns left..left+cw, resized back to the full h x w. */
export interface CropParams { top: number; left: number; ch: number; cw: number; interpolation: Interpolation }

/**
 * Draws a RandomResizedCrop with area fraction U(scaleMin, 1): draws scale, top, left, then (only for 'random')
 * timm's bilinear-or-bicubic choice. `shape` 'square' (the CIFAR recipe, timm ratio 1): side round(sqrt(s*h*w));
 * 'image': the image's aspect ratio kept, ch = round(sqrt(s)*h), cw = round(sqrt(s)*w) (non-square segmentation frames).
 */
export function sampleResizedCrop(h: number, w: number, scaleMin: number, rng: Rng, opts: { shape?: 'square' | 'image'; interpolation?: Interpolation | 'random' } = {}): CropParams {
  const s = rng.uniform(scaleMin, 1);
  let ch: number, cw: number;
  if ((opts.shape ?? 'square') === 'square') {
    const side = Math.sqrt(s * h * w);
    cw = Math.min(w, Math.max(1, Math.round(side))); ch = Math.min(h, Math.max(1, Math.round(side)));
  } else {
    const f = Math.sqrt(s);
    cw = Math.min(w, Math.max(1, Math.round(f * w))); ch = Math.min(h, Math.max(1, Math.round(f * h)));
  }
  const top = rng.int(h - ch + 1), left = rng.int(w - cw + 1);
  const choice = opts.interpolation ?? 'random';
  const interpolation = choice === 'random' ? randomInterpolation(rng) : choice; // timm's default --train-interpolation 'random', per image
  return { top, left, ch, cw, interpolation };
}

/** Horizontal flip with probability 0.5 (one draw). */
export const sampleFlip = (rng: Rng): boolean => rng.next() < 0.5;

/** uint8 HWC -> float (x/255 - mean)/std, written at x[offset...]. */
export function normalizeInto(img: Uint8Array, x: Float32Array, offset: number, mean: readonly number[] = CIFAR10_MEAN, std: readonly number[] = CIFAR10_STD): void {
  for (let i = 0; i < img.length; i++) {
    const c = i % 3;
    x[offset + i] = (img[i]! / 255 - mean[c]!) / std[c]!;
  }
}

/**
 * timm RandomErasing (one box, area 0.02-1/3 of the image, log-uniform aspect 0.3-3.3, up to 10 tries) on a
 * normalized HWC image at x[offset...]. 'pixel': N(0,1) per value; 'rand': N(0,1) per channel; 'const': 0.
 * Returns the box, or null when nothing was erased.
 */
export function randomErase(x: Float32Array, offset: number, h: number, w: number, p: number, mode: AugmentConfig['remode'], rng: Rng): { top: number; left: number; eh: number; ew: number } | null {
  if (p <= 0 || rng.next() > p) return null;
  const area = h * w, logLo = Math.log(0.3), logHi = Math.log(1 / 0.3);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = rng.uniform(0.02, 1 / 3) * area;
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const eh = Math.round(Math.sqrt(target * aspect)), ew = Math.round(Math.sqrt(target / aspect));
    if (!(ew < w && eh < h)) continue;
    const top = rng.int(h - eh + 1), left = rng.int(w - ew + 1);
    const chan = mode === 'rand' ? [rng.normal(), rng.normal(), rng.normal()] : [0, 0, 0];
    for (let y = top; y < top + eh; y++) {
      for (let xx = left; xx < left + ew; xx++) {
        const o = offset + (y * w + xx) * 3;
        for (let c = 0; c < 3; c++) x[o + c] = mode === 'pixel' ? rng.normal() : chan[c]!;
      }
    }
    return { top, left, eh, ew };
  }
  return null;
}

// ---- batch-level mixing (timm Mixup, mode 'batch') ------------------------------------------------

export interface MixInfo { lam: number; cutmix: boolean; box: { yl: number; yh: number; xl: number; xh: number } | null }

/**
 * Mixes a normalized NHWC batch in place with its reversed self (image i with image n-1-i), one lambda per
 * batch, and writes soft targets: lam * smooth(y) + (1 - lam) * smooth(flip(y)), where smooth puts
 * 1 - s + s/k on the label and s/k elsewhere. CutMix pastes a box of area about (1 - lam) and then sets
 * lam to 1 - (clipped box area) / (h*w).
 */
export function mixBatch(x: Float32Array, labels: ArrayLike<number>, n: number, h: number, w: number, classes: number, aug: AugmentConfig, rng: Rng, y: Float32Array): MixInfo {
  let lam = 1, cutmix = false;
  const mixOn = aug.mixupAlpha > 0 || aug.cutmixAlpha > 0;
  if (mixOn && rng.next() < aug.mixupProb) {
    if (aug.mixupAlpha > 0 && aug.cutmixAlpha > 0) {
      cutmix = rng.next() < aug.mixupSwitchProb;
      lam = cutmix ? rng.beta(aug.cutmixAlpha, aug.cutmixAlpha) : rng.beta(aug.mixupAlpha, aug.mixupAlpha);
    } else if (aug.mixupAlpha > 0) {
      lam = rng.beta(aug.mixupAlpha, aug.mixupAlpha);
    } else {
      cutmix = true;
      lam = rng.beta(aug.cutmixAlpha, aug.cutmixAlpha);
    }
  }
  let box: MixInfo['box'] = null;
  const px = h * w * 3;
  if (lam < 1) {
    const orig = x.slice(0, n * px);
    if (cutmix) {
      const ratio = Math.sqrt(1 - lam);
      const cutH = Math.trunc(h * ratio), cutW = Math.trunc(w * ratio);
      const cy = rng.int(h), cx = rng.int(w);
      const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
      box = { yl: clamp(cy - (cutH >> 1), h), yh: clamp(cy + (cutH >> 1), h), xl: clamp(cx - (cutW >> 1), w), xh: clamp(cx + (cutW >> 1), w) };
      lam = 1 - ((box.yh - box.yl) * (box.xh - box.xl)) / (h * w);
      for (let i = 0; i < n; i++) {
        const src = (n - 1 - i) * px, dst = i * px;
        for (let yy = box.yl; yy < box.yh; yy++) {
          const a = (yy * w + box.xl) * 3, b = (yy * w + box.xh) * 3;
          x.set(orig.subarray(src + a, src + b), dst + a);
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const src = (n - 1 - i) * px, dst = i * px;
        for (let k = 0; k < px; k++) x[dst + k] = lam * orig[dst + k]! + (1 - lam) * orig[src + k]!;
      }
    }
  }
  const off = aug.labelSmoothing / classes, on = 1 - aug.labelSmoothing + off;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    for (let c = 0; c < classes; c++) y[row + c] = off;
    y[row + labels[i]!] += lam * (on - off);
    y[row + labels[n - 1 - i]!] += (1 - lam) * (on - off);
  }
  return { lam, cutmix, box };
}
