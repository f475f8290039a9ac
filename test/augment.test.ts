import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRng } from '../lib/rng.ts';
import {
  hflip, resizedCrop, affine, rotateMatrix, invert, posterize, solarize, solarizeAdd, autoContrast, equalize,
  brightness, contrast, color, sharpness, colorJitter, randAugment, randomErase, mixBatch, normalizeInto, augmentImage,
  RAND_OPS, CIFAR10_MEAN, CIFAR10_STD, NO_AUGMENT, PAPER_CIFAR_AUGMENT, type AugmentConfig,
} from '../lib/data/augment.ts';
import { trainBatch, evalBatch } from '../lib/data/batch.ts';
import type { ImageDataset } from '../lib/data/cifar10.ts';
import type { Rng } from '../lib/rng.ts';

/** An h x w RGB image whose three channels all hold f(y, x). */
function gray(h: number, w: number, f: (y: number, x: number) => number): Uint8Array {
  const img = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.fill(f(y, x), (y * w + x) * 3, (y * w + x) * 3 + 3);
  return img;
}
const channel0 = (img: Uint8Array): number[] => Array.from(img.filter((_, i) => i % 3 === 0));
function randomImage(h: number, w: number, seed: number): Uint8Array {
  const r = createRng(seed);
  return Uint8Array.from({ length: h * w * 3 }, () => r.int(256));
}

test('hflip mirrors a known 2x3 image', () => {
  const src = Uint8Array.from({ length: 18 }, (_, i) => i);
  const dst = new Uint8Array(18);
  hflip(src, dst, 2, 3);
  assert.deepEqual(Array.from(dst), [6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11]);
});

test('resized crop: full-size crop is the identity; a 2x2 crop upsampled to 4x4 interpolates between pixel centers', () => {
  const src = randomImage(8, 8, 1), dst = new Uint8Array(src.length);
  resizedCrop(src, dst, 8, 8, 0, 0, 8, 8);
  assert.deepEqual(dst, src);
  // 4x4 image; crop rows/cols 1..2 whose values are [[0, 100], [0, 100]]: columns map to 0, 25, 75, 100.
  const s = gray(4, 4, (_y, x) => (x === 2 ? 100 : 0)), d = new Uint8Array(48);
  resizedCrop(s, d, 4, 4, 1, 1, 2, 2);
  assert.deepEqual(channel0(d), [0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100]);
  // augmentImage with scaleMin 1 (no crop) and nothing else enabled leaves the image unchanged
  const img = randomImage(8, 8, 2);
  augmentImage(img, new Uint8Array(img.length), 8, 8, NO_AUGMENT, createRng(0));
  assert.deepEqual(img, randomImage(8, 8, 2));
});

test('posterize, solarize, solarize-add, invert give exact pixel values', () => {
  const vals = [0, 1, 127, 128, 200, 255];
  const run = (f: (img: Uint8Array) => void): number[] => { const a = Uint8Array.from(vals); f(a); return Array.from(a); };
  assert.deepEqual(run((a) => posterize(a, 2)), [0, 0, 64, 128, 192, 192]);
  assert.deepEqual(run((a) => posterize(a, 0)), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(run((a) => posterize(a, 8)), vals);
  assert.deepEqual(run((a) => solarize(a, 128)), [0, 1, 127, 127, 55, 0]);
  assert.deepEqual(run((a) => solarize(a, 256)), vals);
  assert.deepEqual(run((a) => solarizeAdd(a, 100)), [100, 101, 227, 128, 200, 255]);
  assert.deepEqual(run(invert), [255, 254, 128, 127, 55, 0]);
});

test('rotate by 90 degrees turns a known 3x3 image counter-clockwise (PIL convention); translate fills with the mean color', () => {
  const src = gray(3, 3, (y, x) => 10 * y + x), dst = new Uint8Array(27);
  affine(src, dst, 3, 3, rotateMatrix(90, 3, 3));
  // output(y, x) = input(x, 2 - y): the top-right corner moves to the top-left
  assert.deepEqual(channel0(dst), [2, 12, 22, 1, 11, 21, 0, 10, 20]);
  affine(src, dst, 3, 3, rotateMatrix(-90, 3, 3));
  assert.deepEqual(channel0(dst), [20, 10, 0, 21, 11, 1, 22, 12, 2]);
  // translate x by one pixel: output(x) = input(x + 1); the uncovered column gets round(255 * CIFAR10_MEAN)
  affine(src, dst, 3, 3, [1, 0, 1, 0, 1, 0]);
  assert.deepEqual(Array.from(dst.subarray(0, 9)), [1, 1, 1, 2, 2, 2, 125, 123, 114]);
  // half-pixel shift samples between pixel centers; PIL truncates: (0+1)/2 -> 0, (1+11)/2 -> 6
  const row = gray(1, 3, (_y, x) => [0, 1, 11][x]!), out = new Uint8Array(9);
  affine(row, out, 1, 3, [1, 0, 0.5, 0, 1, 0]);
  assert.deepEqual(channel0(out), [0, 6, 125]);
});

test('affine and resized crop: bilinear and bicubic equal Pillow 9.4 (transform AFFINE, rotate, crop + resize) on a 7x9 image, pixel for pixel', () => {
  // test/fixtures/pil-affine.json is written by scripts/pil_affine_reference.py with Debian's python3-pil.
  const ref = JSON.parse(readFileSync(new URL('./fixtures/pil-affine.json', import.meta.url), 'utf8')) as {
    height: number; width: number; fill: number[]; input: number[];
    cases: { name: string; matrix?: number[]; rotateDegrees?: number; interpolation: 'bilinear' | 'bicubic'; output: number[] }[];
  };
  const src = Uint8Array.from(ref.input), dst = new Uint8Array(src.length);
  assert.equal(ref.cases.length, 10);
  for (const c of ref.cases) {
    const m = c.matrix ?? rotateMatrix(c.rotateDegrees!, ref.height, ref.width);
    affine(src, dst, ref.height, ref.width, m, ref.fill, c.interpolation);
    const diff = Array.from(dst).findIndex((v, i) => v !== c.output[i]);
    assert.equal(diff, -1, `${c.name} ${c.interpolation}: first difference at byte ${diff} (got ${dst[diff]}, Pillow ${c.output[diff]})`);
  }
  // crop-and-resize (RandomResizedCropAndInterpolation): crop then PIL resize back to the full size
  const crops = (ref as unknown as { crops: { top: number; left: number; ch: number; cw: number; interpolation: 'bilinear' | 'bicubic'; output: number[] }[] }).crops;
  assert.equal(crops.length, 10);
  for (const c of crops) {
    resizedCrop(src, dst, ref.height, ref.width, c.top, c.left, c.ch, c.cw, c.interpolation);
    const diff = Array.from(dst).findIndex((v, i) => v !== c.output[i]);
    assert.equal(diff, -1, `crop ${c.top},${c.left} ${c.ch}x${c.cw} ${c.interpolation}: first difference at byte ${diff} (got ${dst[diff]}, Pillow ${c.output[diff]})`);
  }
  // the two filters really differ on this image (so the bicubic cases test something)
  const bl = ref.cases.find((c) => c.name === 'general' && c.interpolation === 'bilinear')!.output;
  const bc = ref.cases.find((c) => c.name === 'general' && c.interpolation === 'bicubic')!.output;
  assert.ok(bl.filter((v, i) => v !== bc[i]).length > 20);
});

test('autocontrast stretches [50, 100] to [0, 255]; equalize maps a 3-level histogram as PIL does', () => {
  const a = gray(1, 3, (_y, x) => [50, 75, 100][x]!);
  autoContrast(a);
  // PIL: lut[v] = int(v * 5.1 - 255.0) in float64: 75 -> 127, and 100 -> int(254.99999999999994) = 254
  assert.deepEqual(channel0(a), [0, 127, 254]);
  // 1024 pixels: 512 at 10, 256 at 20, 256 at 30 -> step = (1024 - 256) // 255 = 3, lut: 10->0, 20->171, 30->255
  const e = gray(32, 32, (y) => (y < 16 ? 10 : y < 24 ? 20 : 30));
  equalize(e);
  assert.deepEqual([e[0], e[16 * 96], e[24 * 96]], [0, 171, 255]);
});

test('brightness, contrast, color blend with their degenerate images (truncating like PIL.Image.blend)', () => {
  const b = Uint8Array.from([201, 100, 3]);
  brightness(b, 0.5);
  assert.deepEqual(Array.from(b), [100, 50, 1]);
  const c = Uint8Array.from([255, 0, 0, 0, 0, 255]); // luma 76 and 29 -> mean 52.5 -> 53
  contrast(c, 0);
  assert.deepEqual(Array.from(c), [53, 53, 53, 53, 53, 53]);
  const s = Uint8Array.from([255, 0, 0]);
  color(s, 0, new Uint8Array(3));
  assert.deepEqual(Array.from(s), [76, 76, 76]);
  const big = Uint8Array.from([200, 10, 10]);
  brightness(big, 1.9);
  assert.deepEqual(Array.from(big), [255, 19, 19]);
});

test('RandAugment is deterministic for a seed and different across seeds', () => {
  const cfg = { n: 2, m: 9, mstd: 0.5 };
  const run = (seed: number): { img: Uint8Array; ops: string[][] } => {
    const img = randomImage(32, 32, 5), tmp = new Uint8Array(img.length), rng = createRng(seed);
    const ops = Array.from({ length: 6 }, () => randAugment(img, tmp, 32, 32, cfg, rng));
    return { img, ops };
  };
  const a = run(11), b = run(11), c = run(12);
  assert.deepEqual(a.img, b.img);
  assert.deepEqual(a.ops, b.ops);
  assert.ok(a.ops.flat().length > 0);
  assert.notDeepEqual(a.img, c.img);
});

test('random erasing: p=0 is the identity and draws nothing; p=1 fills one box within the area bounds', () => {
  const x = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => i);
  const rng = createRng(3), state = rng.getState();
  assert.equal(randomErase(x, 0, 32, 32, 0, 'pixel', rng), null);
  assert.deepEqual(rng.getState(), state);
  assert.ok(x.every((v, i) => v === i));
  for (let seed = 0; seed < 50; seed++) {
    for (const mode of ['pixel', 'rand', 'const'] as const) {
      const y = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => 1000 + i);
      const box = randomErase(y, 0, 32, 32, 1, mode, createRng(seed));
      assert.ok(box, 'p=1 erases');
      const area = box.eh * box.ew;
      assert.ok(area >= 0.02 * 1024 * 0.8 && area <= (1024 / 3) * 1.2, `area ${area}`);
      let changed = 0;
      y.forEach((v, i) => {
        const p = Math.floor(i / 3), py = Math.floor(p / 32), px = p % 32;
        const inside = py >= box.top && py < box.top + box.eh && px >= box.left && px < box.left + box.ew;
        if (v !== 1000 + i) { changed++; assert.ok(inside, 'only the box changes'); }
        if (inside && mode === 'const') assert.equal(v, 0);
        if (inside && mode === 'rand') assert.equal(v, y[(box.top * 32 + box.left) * 3 + (i % 3)]);
      });
      assert.equal(changed, area * 3);
    }
  }
});

const mixCfg = (over: Partial<AugmentConfig>): AugmentConfig => ({ ...NO_AUGMENT, ...over });

test('mixup: targets sum to 1 with the drawn lambda and label smoothing; images mix with the reversed batch', () => {
  const n = 4, h = 2, w = 2, px = 12, k = 10;
  const x = Float32Array.from({ length: n * px }, (_, i) => Math.floor(i / px) * 10 + 1);
  const x0 = x.slice();
  const y = new Float32Array(n * k);
  const cfg = mixCfg({ mixupAlpha: 1, labelSmoothing: 0.1 });
  const info = mixBatch(x, [0, 1, 2, 3], n, h, w, k, cfg, createRng(9), y);
  const ref = createRng(9); ref.next(); // same draw order: apply-probability draw, then Beta(1, 1)
  const lam = ref.beta(1, 1);
  assert.equal(info.cutmix, false);
  assert.ok(Math.abs(info.lam - lam) < 1e-12);
  for (let i = 0; i < n; i++) {
    const row = Array.from(y.subarray(i * k, (i + 1) * k));
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6);
    assert.ok(Math.abs(row[i]! - (lam * 0.9 + 0.01)) < 1e-6);
    assert.ok(Math.abs(row[n - 1 - i]! - ((1 - lam) * 0.9 + 0.01)) < 1e-6);
    assert.ok(Math.abs(x[i * px]! - (lam * x0[i * px]! + (1 - lam) * x0[(n - 1 - i) * px]!)) < 1e-4);
  }
  // no mixing: smoothed one-hot targets, images untouched
  const x2 = x0.slice(), y2 = new Float32Array(n * k);
  mixBatch(x2, [0, 1, 2, 3], n, h, w, k, mixCfg({ labelSmoothing: 0.1 }), createRng(1), y2);
  assert.deepEqual(x2, x0);
  assert.ok(Math.abs(y2[0]! - 0.91) < 1e-6 && Math.abs(y2[1]! - 0.01) < 1e-6);
});

test('CutMix: the pasted box area equals 1 - lambda and comes from the reversed batch', () => {
  for (let seed = 0; seed < 20; seed++) {
    const n = 3, h = 8, w = 8, px = h * w * 3, k = 3;
    const x = Float32Array.from({ length: n * px }, (_, i) => Math.floor(i / px));
    const y = new Float32Array(n * k);
    const info = mixBatch(x, [0, 1, 2], n, h, w, k, mixCfg({ cutmixAlpha: 1 }), createRng(seed), y);
    assert.equal(info.cutmix, true);
    const box = info.box!;
    const boxArea = (box.yh - box.yl) * (box.xh - box.xl);
    assert.ok(Math.abs(1 - info.lam - boxArea / (h * w)) < 1e-12);
    const pasted = Array.from(x.subarray(0, px)).filter((v) => v === 2).length / 3;
    assert.equal(pasted, boxArea);
    assert.ok(Math.abs(y[0]! - info.lam) < 1e-6 && Math.abs(y[2]! - (1 - info.lam)) < 1e-6);
  }
});

function tinyDataset(n: number): ImageDataset {
  const r = createRng(4);
  return { name: 'tiny', images: Uint8Array.from({ length: n * 32 * 32 * 3 }, () => r.int(256)), labels: Uint8Array.from({ length: n }, (_, i) => i % 10), n, height: 32, width: 32, classes: Array.from({ length: 10 }, (_, i) => `c${i}`) };
}

test('trainBatch reproduces the same batch from the same rng state; with no augmentation it equals evalBatch', () => {
  const ds = tinyDataset(12);
  const rng = createRng(21);
  trainBatch(ds, [0, 1, 2, 3], PAPER_CIFAR_AUGMENT, rng); // advance
  const state = rng.getState();
  const a = trainBatch(ds, [5, 6, 7, 8, 9, 10], PAPER_CIFAR_AUGMENT, rng);
  rng.setState(state);
  const b = trainBatch(ds, [5, 6, 7, 8, 9, 10], PAPER_CIFAR_AUGMENT, rng);
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(a.y, b.y);
  assert.equal(a.n, 6);
  const plain = trainBatch(ds, [3, 4], NO_AUGMENT, createRng(0));
  const ev = evalBatch(ds, 3, 2);
  assert.deepEqual(plain.x, ev.x);
  assert.deepEqual(Array.from(ev.labels), [3, 4]);
  assert.deepEqual(Array.from(plain.y.subarray(0, 10)), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(evalBatch(ds, 10, 5).n, 2);
});

test('normalization uses the CIFAR-10 mean and std', () => {
  const x = new Float32Array(6);
  normalizeInto(Uint8Array.from([0, 0, 0, 255, 255, 255]), x, 0);
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(x[c]! - -CIFAR10_MEAN[c]! / CIFAR10_STD[c]!) < 1e-6);
    assert.ok(Math.abs(x[3 + c]! - (1 - CIFAR10_MEAN[c]!) / CIFAR10_STD[c]!) < 1e-6);
  }
});

// ---- known-input checks against Pillow / torchvision / timm -------------------------------------------
// Expected arrays marked "Pillow" were produced by Pillow 12.3 running the exact calls timm / torchvision make
// (ImageEnhance.*, Image.rotate / Image.transform(AFFINE) with resample=BILINEAR and fillcolor=round(255*mean));
// a few entries are derived by hand in the comments.

/** A 2x2 RGB image with distinct channels; PIL luma (0.299R + 0.587G + 0.114B, rounded) is 124, 18, 91, 138. */
const P4 = (): Uint8Array => Uint8Array.from([200, 100, 50, 10, 20, 30, 255, 0, 128, 90, 180, 45]);
/** A 5x5 gray image with no symmetry, so every geometric op moves values visibly. */
const G5 = [0, 37, 74, 111, 148, 53, 101, 149, 197, 245, 212, 15, 74, 133, 192, 221, 35, 105, 175, 245, 80, 161, 242, 67, 148];
const g5 = (): Uint8Array => gray(5, 5, (y, x) => G5[y * 5 + x]!);
/** An Rng whose next() is fixed: ops negate their magnitude iff next() > 0.5, as timm's _randomly_negate does. */
const fixedRng = (u: number): Rng => ({ ...createRng(0), next: () => u });
const op = (name: string) => RAND_OPS.find(([n]) => n === name)![1];
/** An Rng whose next() returns the given values in turn (then repeats the last): sign draw, then interpolation draw. */
const seqRng = (...us: number[]): Rng => { let i = 0; return { ...createRng(0), next: () => us[Math.min(i++, us.length - 1)]! }; };

/** Independent torchvision-on-PIL colour formulas: gray = round(.299R + .587G + .114B); blend in float32 like Pillow. */
const refLuma = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);
const refBlend = (d: number, x: number, f: number): number => {
  const t = Math.fround(d + Math.fround(Math.fround(f) * (x - d)));
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
};
function refJitterOp(img: Uint8Array, k: number, f: number): void {
  const L = Array.from({ length: img.length / 3 }, (_, p) => refLuma(img[3 * p]!, img[3 * p + 1]!, img[3 * p + 2]!));
  const mean = Math.floor(L.reduce((a, b) => a + b, 0) / L.length + 0.5);
  for (let i = 0; i < img.length; i++) img[i] = refBlend(k === 0 ? 0 : k === 1 ? mean : L[Math.floor(i / 3)]!, img[i]!, f);
}

test('brightness / contrast / saturation with known factors match Pillow (ImageEnhance, as torchvision ColorJitter calls it)', () => {
  const run = (f: (a: Uint8Array) => void): number[] => { const a = P4(); f(a); return Array.from(a); };
  // brightness x*f: 100*1.3 = 130; 200*1.3 = 260 -> 255; 90*1.3 -> 116, not 117: Pillow blends in float32
  assert.deepEqual(run((a) => brightness(a, 1.3)), [255, 130, 65, 13, 26, 39, 255, 0, 166, 116, 233, 58]);
  // contrast: blend with the rounded mean luma, (124+18+91+138)/4 = 92.75 -> 93; R of pixel 1: 93 + .6*(200-93) = 157.2 -> 157
  assert.deepEqual(run((a) => contrast(a, 0.6)), [157, 97, 67, 43, 49, 55, 190, 37, 114, 91, 145, 64]);
  assert.deepEqual(run((a) => contrast(a, 1.7)), [255, 104, 19, 0, 0, 0, 255, 0, 152, 87, 240, 11]);
  // saturation: blend with luma; pixel 1 (L 124): 124 + 1.5*76 = 238, 124 - 1.5*24 = 88, 124 - 1.5*74 = 13
  assert.deepEqual(run((a) => color(a, 1.5, new Uint8Array(12))), [238, 88, 13, 6, 21, 36, 255, 0, 146, 66, 201, 0]);
  assert.deepEqual(run((a) => color(a, 0.3, new Uint8Array(12))), [146, 116, 101, 15, 18, 21, 140, 63, 102, 123, 150, 110]);
  // the independent formulas agree on all of these
  for (const [k, f, fn] of [[0, 1.3, (a: Uint8Array) => brightness(a, 1.3)], [1, 1.7, (a: Uint8Array) => contrast(a, 1.7)], [2, 0.3, (a: Uint8Array) => color(a, 0.3, new Uint8Array(12))]] as const) {
    const ref = P4(); refJitterOp(ref, k, f);
    assert.deepEqual(run(fn), Array.from(ref));
  }
});

test('colour jitter: random order and factors in [1-s, 1+s] drawn from the rng, applied with the torchvision formulas', () => {
  for (let seed = 0; seed < 20; seed++) {
    for (const s of [0.4, 1.5]) { // 1.5: the lower bound clamps to 0, as torchvision's max(0, 1 - s)
      const img = randomImage(4, 4, 100 + seed), ref = img.slice();
      colorJitter(img, new Uint8Array(img.length), s, createRng(seed));
      const r = createRng(seed); // replay: a permutation of (brightness, contrast, saturation), then one factor per op
      for (const k of r.shuffle([0, 1, 2])) refJitterOp(ref, k, Math.max(0, 1 - s) + (1 + s - Math.max(0, 1 - s)) * r.next());
      assert.deepEqual(img, ref, `seed ${seed} s ${s}`);
    }
  }
  // augmentImage with colorJitter 0 leaves pixels alone
  const img = randomImage(4, 4, 7);
  augmentImage(img, new Uint8Array(img.length), 4, 4, { ...NO_AUGMENT, colorJitter: 0 }, createRng(1));
  assert.deepEqual(img, randomImage(4, 4, 7));
});

test('sharpness: the degenerate image is PIL SMOOTH (3x3, center 5, others 1, /13, border kept); blended like Pillow', () => {
  // factor 0 returns the degenerate image itself; compare with the kernel written out independently
  const img = g5();
  sharpness(img, 0, 5, 5, new Uint8Array(75));
  const K = [[1, 1, 1], [1, 5, 1], [1, 1, 1]];
  const smooth = G5.map((v, i) => {
    const y = Math.floor(i / 5), x = i % 5;
    if (y === 0 || y === 4 || x === 0 || x === 4) return v;
    let s = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += K[dy + 1]![dx + 1]! * G5[(y + dy) * 5 + x + dx]!;
    return Math.floor(s / 13 + 0.5);
  });
  assert.deepEqual(channel0(img), smooth);
  // center by hand: (101+149+197+15+133+35+105+175 + 5*74) / 13 = 1280/13 = 98.46 -> 98 (Pillow SMOOTH gives the same)
  assert.equal(smooth[12], 98);
  assert.deepEqual(smooth, [0, 37, 74, 111, 148, 53, 86, 114, 162, 245, 212, 79, 98, 157, 192, 221, 99, 110, 160, 245, 80, 161, 242, 67, 148]);
});

test('RandAugment level -> argument mappings (timm inc1) give Pillow\'s pixels at magnitude 7, both signs', () => {
  // timm: rotate (m/10)*30 deg; shear (m/10)*0.3; translate_rel (m/10)*0.45*size px; sharpness max(.1, 1 +- .9*m/10);
  // each negated when random() > 0.5. At m = 7: 21 deg, 0.21, 1.575 px, factors 1.63 / 0.37.
  const want: Record<string, [number[], number[]]> = {
    Rotate: [[125, 65, 111, 180, 125, 38, 101, 161, 185, 203, 95, 49, 74, 143, 221, 213, 82, 78, 144, 144, 125, 131, 166, 204, 125],
      [125, 40, 56, 82, 125, 177, 80, 126, 152, 161, 193, 26, 74, 152, 223, 123, 102, 127, 176, 203, 125, 224, 121, 169, 125]],
    ShearX: [[3, 40, 77, 114, 148, 68, 116, 164, 212, 245, 108, 45, 104, 163, 125, 84, 86, 156, 226, 125, 156, 237, 76, 143, 125],
      [0, 33, 70, 107, 144, 53, 85, 133, 181, 229, 125, 118, 43, 102, 161, 125, 171, 53, 123, 193, 125, 84, 165, 232, 71]],
    ShearY: [[5, 57, 113, 174, 239, 69, 73, 109, 149, 194, 212, 21, 90, 163, 242, 206, 74, 176, 95, 153, 80, 161, 125, 125, 125],
      [0, 37, 125, 125, 125, 47, 80, 109, 133, 153, 195, 42, 113, 180, 242, 220, 28, 88, 144, 194, 94, 121, 170, 146, 239]],
    TranslateXRel: [[58, 95, 132, 125, 125, 128, 176, 224, 125, 125, 48, 107, 166, 125, 125, 75, 145, 215, 125, 125, 207, 141, 113, 125, 125],
      [125, 125, 15, 52, 89, 125, 125, 73, 121, 169, 125, 125, 128, 40, 99, 125, 125, 141, 64, 134, 125, 125, 114, 195, 167]],
    TranslateYRel: [[144, 51, 105, 160, 214, 217, 26, 91, 157, 222, 139, 107, 183, 112, 189, 125, 125, 125, 125, 125, 125, 125, 125, 125, 125],
      [125, 125, 125, 125, 125, 125, 125, 125, 125, 125, 22, 64, 105, 147, 189, 120, 64, 117, 169, 222, 215, 23, 87, 150, 214]],
    // by hand at the center: smooth 98, 98 + 1.63 * (74 - 98) = 58.88 -> 58; 98 + 0.37 * (74 - 98) = 89.12 -> 89
    SharpnessIncreasing: [[0, 37, 74, 111, 148, 53, 110, 171, 219, 245, 212, 0, 58, 117, 192, 221, 0, 101, 184, 245, 80, 161, 242, 67, 148],
      [0, 37, 74, 111, 148, 53, 91, 126, 174, 245, 212, 55, 89, 148, 192, 221, 75, 108, 165, 245, 80, 161, 242, 67, 148]],
  };
  // geometric ops draw the sign, then bilinear (next() < 0.5) or bicubic: these expectations are the bilinear ones
  for (const [name, [plus, minus]] of Object.entries(want)) {
    for (const [u, expected] of [[0.25, plus], [0.75, minus]] as const) {
      const img = g5();
      op(name)(img, new Uint8Array(75), 5, 5, 7, seqRng(u, 0.25));
      assert.deepEqual(channel0(img), expected, `${name} ${u > 0.5 ? '-' : '+'}`);
    }
  }
  // ... and an interpolation draw >= 0.5 samples bicubically (bicubic itself is checked against Pillow above)
  const sheared = g5(), bicubic = new Uint8Array(75);
  op('ShearX')(sheared, new Uint8Array(75), 5, 5, 7, seqRng(0.75, 0.75));
  affine(g5(), bicubic, 5, 5, [1, -0.21, 0, 0, 1, 0], [125, 123, 114], 'bicubic');
  assert.deepEqual(Array.from(sheared), Array.from(bicubic));
  assert.notDeepEqual(channel0(sheared), want['ShearX']![1]);
  // the translate's uncovered pixels get timm's fill round(255 * mean) per channel
  const t = g5(); op('TranslateXRel')(t, new Uint8Array(75), 5, 5, 7, seqRng(0.25, 0.25));
  assert.deepEqual(Array.from(t.subarray(9, 12)), [125, 123, 114]);
  // pixel ops: posterize bits 4 - int(m/10*4), solarize threshold 256 - int(m/10*256), solarize-add int(m/10*110)
  const pix = (name: string, m: number): number[] => { const a = P4(); op(name)(a, new Uint8Array(12), 2, 2, m, fixedRng(0)); return Array.from(a); };
  assert.deepEqual(pix('PosterizeIncreasing', 7), [192, 64, 0, 0, 0, 0, 192, 0, 128, 64, 128, 0]); // 4 - 2 = 2 bits: & 0xC0
  assert.deepEqual(pix('PosterizeIncreasing', 10), Array(12).fill(0)); // 4 - 4 = 0 bits: PIL's mask ~255 keeps nothing
  assert.deepEqual(pix('SolarizeIncreasing', 7), [55, 155, 50, 10, 20, 30, 0, 0, 127, 165, 75, 45]); // threshold 256 - 179 = 77
  assert.deepEqual(pix('SolarizeAdd', 7), [200, 177, 127, 87, 97, 107, 255, 77, 128, 167, 180, 122]); // +77 below 128
  // enhance factors: 1 +- 0.9*m/10, floored at 0.1 (m = 10, negated: 1 - 0.9 = 0.1)
  const b = (m: number, u: number): number[] => { const a = Uint8Array.from([100, 100, 100]); op('BrightnessIncreasing')(a, a, 1, 1, m, fixedRng(u)); return Array.from(a); };
  assert.deepEqual(b(5, 0.25), [145, 145, 145]);
  assert.deepEqual(b(5, 0.75), [55, 55, 55]);
  assert.deepEqual(b(10, 0.75), [10, 10, 10]);
  assert.deepEqual(b(0, 0.25), [100, 100, 100]);
});

test('RandAugment mstd: the magnitude is m + mstd * N(0,1) from the seeded rng, clipped to [0, 10] (seen through SolarizeAdd)', () => {
  // timm draw order per layer set: op choices, then per op random() > 0.5 skips it, then gauss(m, mstd).
  // SolarizeAdd adds int(mag/10 * 110) to pixels < 128 and draws nothing else, so a black pixel reveals mag.
  const cfg = { n: 1, m: 5, mstd: 4 };
  const solarizeAdd = RAND_OPS.findIndex(([n]) => n === 'SolarizeAdd');
  let seen = 0, high = 0, low = 0;
  const values = new Set<number>();
  for (let seed = 0; seed < 3000; seed++) {
    const img = new Uint8Array(3);
    const applied = randAugment(img, new Uint8Array(3), 1, 1, cfg, createRng(seed));
    const ref = createRng(seed);
    const k = ref.int(RAND_OPS.length);
    if (ref.next() > 0.5) { assert.deepEqual(applied, [], `seed ${seed}`); continue; }
    assert.deepEqual(applied, [RAND_OPS[k]![0]], `seed ${seed}`);
    if (k !== solarizeAdd) continue;
    const raw = 5 + 4 * ref.normal();
    const mag = Math.min(10, Math.max(0, raw));
    assert.equal(img[0], Math.trunc((mag / 10) * 110), `seed ${seed}: magnitude ${raw}`);
    seen++; values.add(img[0]!);
    if (raw > 10) { high++; assert.equal(img[0], 110); }
    if (raw < 0) { low++; assert.equal(img[0], 0); }
  }
  // ~3000/15/2 = 100 SolarizeAdd draws; P(raw > 10) = P(raw < 0) = P(z > 1.25) = 0.106
  assert.ok(seen > 60, `seen ${seen}`);
  assert.ok(high > 0 && low > 0, `clipped high ${high}, low ${low}`);
  assert.ok(values.size > 20, 'magnitudes vary');
  // mstd 0: the magnitude is exactly m (m = 5 -> +55 on a black pixel)
  for (let seed = 0; seed < 300; seed++) {
    const img = new Uint8Array(3);
    if (randAugment(img, new Uint8Array(3), 1, 1, { n: 1, m: 5, mstd: 0 }, createRng(seed))[0] === 'SolarizeAdd') assert.equal(img[0], 55);
  }
});

test('random resized crop: square crops with side round(sqrt(U(scaleMin, 1)) * 32), inside the image', () => {
  // Channel 0 holds 8*x and channel 1 holds 8*y, so the output's corners reveal the crop: when upsampling, output
  // (0, 0) samples input (top, left) exactly and output (31, 31) samples (top+side-1, left+side-1).
  const coords = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) { coords[(y * 32 + x) * 3] = 8 * x; coords[(y * 32 + x) * 3 + 1] = 8 * y; }
  for (const scaleMin of [0.5, 0.75]) {
    const N = 600, counts = new Map<number, number>();
    for (let seed = 0; seed < N; seed++) {
      const img = coords.slice();
      augmentImage(img, new Uint8Array(img.length), 32, 32, { ...NO_AUGMENT, scaleMin }, createRng(seed));
      const left = img[0]! / 8, top = img[1]! / 8, last = (31 * 32 + 31) * 3;
      const sideX = img[last]! / 8 - left + 1, sideY = img[last + 1]! / 8 - top + 1;
      assert.equal(sideX, sideY, 'aspect ratio 1');
      assert.ok(sideX >= Math.sqrt(scaleMin) * 32 && sideX <= 32, `side ${sideX}`);
      assert.ok(top + sideY <= 32 && left + sideX <= 32);
      counts.set(sideX, (counts.get(sideX) ?? 0) + 1);
    }
    // P(side = k) = P((k-.5)/32 <= sqrt(s) < (k+.5)/32) for s ~ U(scaleMin, 1); counts within 4 binomial std
    for (let k = Math.round(Math.sqrt(scaleMin) * 32); k <= 32; k++) {
      const lo = Math.max(scaleMin, ((k - 0.5) / 32) ** 2), hi = Math.min(1, ((k + 0.5) / 32) ** 2);
      const p = (hi - lo) / (1 - scaleMin), got = counts.get(k) ?? 0;
      assert.ok(Math.abs(got - N * p) <= 4 * Math.sqrt(N * p * (1 - p)) + 1, `scaleMin ${scaleMin} side ${k}: ${got} vs ${N * p}`);
    }
  }
});

test('mixup/CutMix switch: the CutMix fraction over seeded batches matches the switch probability; mix prob gates mixing', () => {
  const n = 2, h = 4, w = 4, k = 3, N = 2000;
  const run = (cfg: AugmentConfig): { cut: number; mixed: number } => {
    let cut = 0, mixed = 0;
    for (let seed = 0; seed < N; seed++) {
      const info = mixBatch(new Float32Array(n * h * w * 3), [0, 1], n, h, w, k, cfg, createRng(seed), new Float32Array(n * k));
      if (info.cutmix) cut++;
      if (info.lam < 1 || info.cutmix) mixed++;
    }
    return { cut, mixed };
  };
  for (const p of [0, 0.3, 0.5, 1]) {
    const { cut } = run(mixCfg({ mixupAlpha: 0.5, cutmixAlpha: 0.5, mixupSwitchProb: p }));
    assert.ok(Math.abs(cut / N - p) <= 4 * Math.sqrt((p * (1 - p)) / N), `switch ${p}: ${cut / N}`);
  }
  const { mixed, cut } = run(mixCfg({ mixupAlpha: 0.5, cutmixAlpha: 0.5, mixupProb: 0.6, mixupSwitchProb: 0.5 }));
  assert.ok(Math.abs(mixed / N - 0.6) <= 4 * Math.sqrt(0.24 / N), `mixed ${mixed / N}`);
  assert.ok(Math.abs(cut / N - 0.3) <= 4 * Math.sqrt(0.21 / N), `cutmix ${cut / N}`); // 0.6 * 0.5
});

test('mix prob 0: images unchanged, targets are the smoothed one-hot labels (1 - s + s/k on the label, s/k elsewhere)', () => {
  const n = 3, h = 2, w = 2, k = 4;
  const x0 = Float32Array.from({ length: n * h * w * 3 }, (_, i) => i * 0.5 - 3);
  for (let seed = 0; seed < 10; seed++) {
    const x = x0.slice(), y = new Float32Array(n * k);
    const info = mixBatch(x, [2, 0, 3], n, h, w, k, mixCfg({ mixupAlpha: 0.8, cutmixAlpha: 1, mixupProb: 0, labelSmoothing: 0.2 }), createRng(seed), y);
    assert.deepEqual(x, x0);
    assert.deepEqual({ lam: info.lam, cutmix: info.cutmix, box: info.box }, { lam: 1, cutmix: false, box: null });
    // s = 0.2, k = 4: off = 0.05, on = 0.85
    const want = [[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85]].flat();
    y.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `y[${i}] = ${v}`));
  }
});

test('CutMix lambda is corrected to the clipped box area, replaying timm rand_bbox / cutmix_bbox_and_lam', () => {
  const n = 2, h = 7, w = 9, k = 2;
  let corrected = 0;
  for (let seed = 0; seed < 200; seed++) {
    const x = new Float32Array(n * h * w * 3), y = new Float32Array(n * k);
    const info = mixBatch(x, [0, 1], n, h, w, k, mixCfg({ mixupAlpha: 0.5, cutmixAlpha: 0.5, mixupSwitchProb: 1 }), createRng(seed), y);
    const r = createRng(seed);
    r.next(); r.next(); // mix prob, switch prob
    const lamDrawn = r.beta(0.5, 0.5);
    // timm: cut = int(size * sqrt(1 - lam)); cy, cx = randint(0, size); box = clip(c -+ cut // 2, 0, size)
    const cutH = Math.floor(h * Math.sqrt(1 - lamDrawn)), cutW = Math.floor(w * Math.sqrt(1 - lamDrawn));
    const cy = Math.floor(r.next() * h), cx = Math.floor(r.next() * w);
    const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
    const box = { yl: clip(cy - Math.floor(cutH / 2), h), yh: clip(cy + Math.floor(cutH / 2), h), xl: clip(cx - Math.floor(cutW / 2), w), xh: clip(cx + Math.floor(cutW / 2), w) };
    const lam = 1 - ((box.yh - box.yl) * (box.xh - box.xl)) / (h * w);
    assert.equal(info.cutmix, true);
    assert.deepEqual(info.box, box, `seed ${seed}`);
    assert.ok(Math.abs(info.lam - lam) < 1e-12, `seed ${seed}: ${info.lam} vs ${lam}`);
    assert.ok(Math.abs(y[0]! - lam) < 1e-6 && Math.abs(y[1]! - (1 - lam)) < 1e-6, 'targets use the corrected lambda');
    if (Math.abs(lam - lamDrawn) > 1e-3) corrected++;
  }
  assert.ok(corrected > 100, `the correction changes lambda in most draws (${corrected}/200)`);
});
