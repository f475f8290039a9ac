// timm's eval transform of a model's default cfg, with sharp (libvips) doing the decode and the resize:
// Resize(floor(size / crop_pct)) on the shorter side, CenterCrop(size), ToTensor, Normalize(mean, std).
// Output sizes and crop offsets follow torchvision exactly (long side = int(short_target * long / short), crop offset =
// round((h - size) / 2)); the pixels are not bit-identical to PIL's: timm resizes with Pillow's BICUBIC (Keys cubic,
// a = -0.5, antialiased when shrinking), sharp here with libvips' 'cubic' kernel (Catmull-Rom, also a = -0.5, also
// antialiased) on a JPEG decoded at full size (fastShrinkOnLoad off). Reduction steps, rounding and edges differ, so
// expect small per-pixel differences and, on ImageNet, a top-1 that can differ from timm's in the second decimal.
import sharp from 'sharp';
import { UserError } from '../errors.ts';
import { normalizeInto } from './augment.ts';
import type { DefaultCfg } from '../models/family.ts';

export interface Preprocess { size: number; resizeTo: number; mean: readonly number[]; std: readonly number[] }

/** timm's eval transform of a default cfg: resize the shorter side to floor(size / crop_pct), center crop, mean/std. */
export function preprocessFor(cfg: DefaultCfg): Preprocess {
  if (cfg.interpolation !== 'bicubic') throw new UserError(`${cfg.interpolation} resizing is not supported (sharp has no such kernel here)`);
  const size = cfg.inputSize[1];
  return { size, resizeTo: Math.floor(size / cfg.cropPct), mean: cfg.mean, std: cfg.std };
}

/** Python's round() (half to even), as torchvision's CenterCrop uses it. */
function pyRound(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Size after torchvision's Resize(short) of a width x height image: the shorter side becomes `short`. */
export function resizedSize(width: number, height: number, short: number): { w: number; h: number } {
  if (width <= height) return { w: short, h: Math.floor((short * height) / width) };
  return { w: Math.floor((short * width) / height), h: short };
}

/** Top-left corner of torchvision's CenterCrop(size) of a w x h image. */
export function centerCropOffset(w: number, h: number, size: number): { left: number; top: number } {
  return { left: pyRound((w - size) / 2), top: pyRound((h - size) / 2) };
}

/** Decodes an image file to the cropped uint8 HWC pixels (size x size x 3), before normalization. */
export async function loadImagePixels(path: string, p: Preprocess): Promise<Uint8Array> {
  let pixels: Buffer, info: sharp.OutputInfo;
  try {
    const img = sharp(path).removeAlpha().toColourspace('srgb');
    const { width = 0, height = 0 } = await img.metadata();
    if (!width || !height) throw new Error('no size');
    // Images smaller than the crop are resized up to it (torchvision would pad the crop with zeros; ImageNet has none).
    const r = resizedSize(width, height, Math.max(p.resizeTo, p.size));
    const w = Math.max(p.size, r.w), h = Math.max(p.size, r.h);
    const { left, top } = centerCropOffset(w, h, p.size);
    const resized = w === width && h === height ? img : img.resize({ width: w, height: h, fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false });
    ({ data: pixels, info } = await resized
      .extract({ left, top, width: p.size, height: p.size })
      .raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new UserError(`${path}: cannot read as an image (${(err as Error).message.split('\n')[0]})`);
  }
  if (info.channels !== 3) throw new UserError(`${path}: expected 3 color channels after conversion, got ${info.channels}`);
  return new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length);
}

/** Decodes an image file to a normalized NHWC float32 array of one image (size x size x 3). */
export async function loadImage(path: string, p: Preprocess): Promise<Float32Array> {
  const pixels = await loadImagePixels(path, p);
  const x = new Float32Array(pixels.length);
  normalizeInto(pixels, x, 0, p.mean, p.std);
  return x;
}
