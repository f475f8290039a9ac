import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../lib/rng.ts';
import {
  hflip, resizedCrop, affine, rotateMatrix, invert, posterize, solarize, solarizeAdd, autoContrast, equalize,
  brightness, contrast, color, randAugment, randomErase, mixBatch, normalizeInto, augmentImage,
  CIFAR10_MEAN, CIFAR10_STD, NO_AUGMENT, PAPER_CIFAR_AUGMENT, type AugmentConfig,
} from '../lib/data/augment.ts';
import { trainBatch, evalBatch } from '../lib/data/batch.ts';
import type { ImageDataset } from '../lib/data/cifar10.ts';

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
