// Segmentation data: mask-aware geometry (one draw applied to frame, label map and boxes), the seg batches, and the
// CamVid / Cityscapes loaders on tiny layouts written here with sharp (PNG, lossless, so pixels are known exactly),
// plus one test on the real CamVid archive when this machine has it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../lib/rng.ts';
import { resizeImage, hflip, sampleResizedCrop } from '../lib/data/augment.ts';
import { affineNearest, applyGeometryToImage, applyGeometryToLabels, mapBox, resizeNearest, sampleSegGeometry, type SegGeometry } from '../lib/data/geometry.ts';
import { segAugmentSchema, segEvalBatch, segFill, segTrainBatch, NO_SEG_AUGMENT, SEED_SEG_AUGMENT } from '../lib/data/segBatch.ts';
import {
  loadCamVid, loadCityscapes, subsetSeg, CAMVID_CLASSES, CITYSCAPES_CLASSES, CITYSCAPES_LABEL_TO_TRAIN, IGNORE_INDEX, type SegDataset,
} from '../lib/data/segmentation.ts';
import { extractTar } from '../lib/data/tar.ts';
import { UserError } from '../lib/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'seg-data-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---- geometry ----------------------------------------------------------------------------------------

test('resizeImage: Pillow bilinear shrinking 4 -> 2 columns widens the triangle filter (hand-computed 50 and 160)', () => {
  // Output column 0 has center 1 in input units; filter support 2 covers inputs 0,1,2 with weights
  // tri((x + .5 - 1) / 2) = .75, .75, .25 (normalized by 1.75): (0*.75 + 70*.75 + 140*.25) / 1.75 = 50.
  // Column 1 (center 3): inputs 1,2,3 with .25, .75, .75: (17.5 + 105 + 157.5) / 1.75 = 160.
  const src = Uint8Array.from([0, 70, 140, 210].flatMap((v) => [v, v, v]));
  const dst = new Uint8Array(6);
  resizeImage(src, 1, 4, dst, 1, 2);
  assert.deepEqual(Array.from(dst), [50, 50, 50, 160, 160, 160]);
  // same size: a copy
  const same = new Uint8Array(12);
  resizeImage(src, 1, 4, same, 1, 4);
  assert.deepEqual(same, src);
});

test('resizeNearest takes the pixel under each output center; a window is read in place', () => {
  const row = Uint8Array.from([0, 1, 2, 3, 4, 5]);
  const out = new Uint8Array(3);
  resizeNearest(row, 6, 0, 0, 1, 6, out, 1, 3); // centers 1, 3, 5
  assert.deepEqual(Array.from(out), [1, 3, 5]);
  const up = new Uint8Array(4);
  resizeNearest(row, 6, 0, 2, 1, 2, up, 1, 4); // window [2, 3] upsampled x2: centers .25, .75, 1.25, 1.75 -> 2 2 3 3
  assert.deepEqual(Array.from(up), [2, 2, 3, 3]);
  // 2-row map, window rows 1..1: every output row is row 1
  const two = Uint8Array.from([9, 9, 7, 8]), o2 = new Uint8Array(4);
  resizeNearest(two, 2, 1, 0, 1, 2, o2, 2, 2);
  assert.deepEqual(Array.from(o2), [7, 8, 7, 8]);
});

test('affineNearest: a translation by 2 columns fills the uncovered columns with the fill value (the ignore index)', () => {
  const src = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // 2 x 4
  const dst = new Uint8Array(8);
  affineNearest(src, dst, 2, 4, [1, 0, -2, 0, 1, 0], 255); // output x samples input x - 2
  assert.deepEqual(Array.from(dst), [255, 255, 1, 2, 255, 255, 5, 6]);
  assert.deepEqual(segFill({ mean: [0.485, 0.456, 0.406], ignoreIndex: 255 }), { image: [124, 116, 104], label: 255 });
});

/** A w x h label map of rectangles of classes 0..3 (plus an ignored strip) and a frame painted with their colours. */
function paintedPair(h: number, w: number): { img: Uint8Array; lab: Uint8Array; colors: number[][] } {
  const colors = [[200, 10, 10], [10, 200, 10], [10, 10, 200], [250, 250, 0]];
  const lab = new Uint8Array(h * w), img = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = y < 3 ? IGNORE_INDEX : (x < w / 3 ? 0 : x < (2 * w) / 3 ? 1 : 2) + (y > h / 2 && x > w / 2 ? 1 : 0);
      lab[y * w + x] = c;
      img.set(c === IGNORE_INDEX ? [0, 0, 0] : colors[c]!, (y * w + x) * 3);
    }
  }
  return { img, lab, colors };
}

test('sampleResizedCrop: CIFAR square crops draw scale, top, left, filter; segmentation crops keep the aspect ratio and draw no filter', () => {
  const replay = createRng(9), rng = createRng(9);
  for (let i = 0; i < 20; i++) {
    const sq = sampleResizedCrop(32, 32, 0.5, rng);
    const s = replay.uniform(0.5, 1), side = Math.round(Math.sqrt(s * 32 * 32));
    const top = replay.int(32 - side + 1), left = replay.int(32 - side + 1), filter = replay.next() < 0.5 ? 'bilinear' : 'bicubic';
    assert.deepEqual(sq, { top, left, ch: side, cw: side, interpolation: filter });
    const seg = sampleResizedCrop(90, 120, 0.25, rng, { shape: 'image', interpolation: 'bilinear' });
    const f = Math.sqrt(replay.uniform(0.25, 1)), ch = Math.round(f * 90), cw = Math.round(f * 120);
    assert.deepEqual(seg, { top: replay.int(90 - ch + 1), left: replay.int(120 - cw + 1), ch, cw, interpolation: 'bilinear' });
  }
  assert.deepEqual(rng.getState(), replay.getState());
});

test('one sampled crop + flip keeps frame and labels aligned: inside uniform regions the frame colour is the label colour', () => {
  const h = 24, w = 32;
  const rng = createRng(7);
  let flips = 0, crops = 0;
  for (let trial = 0; trial < 20; trial++) {
    const { img, lab, colors } = paintedPair(h, w);
    const g = sampleSegGeometry(h, w, { scaleMin: 0.3, hflip: true }, rng);
    assert.ok(g.crop && Math.abs(g.crop.cw / g.crop.ch - w / h) < 0.15, 'crop keeps the frame aspect ratio');
    applyGeometryToImage(img, new Uint8Array(img.length), h, w, g);
    applyGeometryToLabels(lab, new Uint8Array(lab.length), h, w, g);
    if (g.flip) flips++;
    if (g.crop!.cw < w) crops++;
    let checked = 0;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        const c = lab[y * w + x]!;
        assert.ok(c === IGNORE_INDEX || c <= 3, `label ${c} was never in the map (labels must not blend)`);
        let uniform = true;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (lab[(y + dy) * w + x + dx] !== c) uniform = false;
        if (!uniform || c === IGNORE_INDEX) continue;
        assert.deepEqual(Array.from(img.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)), colors[c], `trial ${trial} pixel (${x}, ${y})`);
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} interior pixels checked`);
  }
  assert.ok(flips > 3 && flips < 17 && crops > 10, `flips ${flips}, crops ${crops}`);
});

test('mapBox follows the label map: the mapped box of a rectangle bounds that rectangle after crop and flip', () => {
  const h = 40, w = 60;
  const box: [number, number, number, number] = [20, 10, 35, 30]; // pixels x 20..34, y 10..29
  const rng = createRng(3);
  for (let trial = 0; trial < 10; trial++) {
    const lab = new Uint8Array(h * w);
    for (let y = box[1]; y < box[3]; y++) lab.fill(1, y * w + box[0], y * w + box[2]);
    const g = sampleSegGeometry(h, w, { scaleMin: 0.4, hflip: true }, rng);
    applyGeometryToLabels(lab, new Uint8Array(lab.length), h, w, g);
    let x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (lab[y * w + x] === 1) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1); }
    const mapped = mapBox(box, g, h, w);
    if (x1 === 0) { assert.ok(mapped === null || (mapped[2] - mapped[0]) * (mapped[3] - mapped[1]) < 4, 'box left the crop'); continue; }
    assert.ok(mapped, 'box visible in the labels but mapped to null');
    // nearest sampling puts the rectangle's edges within one output pixel (scale up to 1/sqrt(0.4) ~ 1.6) of the box
    for (const [got, want] of [[x0, mapped[0]], [y0, mapped[1]], [x1, mapped[2]], [y1, mapped[3]]] as const) {
      assert.ok(Math.abs(got - want) <= 1, `trial ${trial}: label bounds ${[x0, y0, x1, y1]} vs mapped box ${mapped.map((v) => v.toFixed(2))}`);
    }
  }
  // flip only: exact mirror; a crop that excludes the box: null
  assert.deepEqual(mapBox(box, { crop: null, flip: true }, h, w), [25, 10, 40, 30]);
  const g: SegGeometry = { crop: { top: 0, left: 0, ch: 20, cw: 15, interpolation: 'bilinear' }, flip: false };
  assert.equal(mapBox(box, g, h, w), null);
  assert.deepEqual(mapBox([0, 0, 15, 20], g, h, w), [0, 0, 60, 40]);
});

// ---- batches -----------------------------------------------------------------------------------------

function syntheticSeg(n: number, h: number, w: number): SegDataset {
  const r = createRng(11);
  return {
    name: 'synthetic', split: 'train', n, height: h, width: w, classes: ['a', 'b', 'c'], ignoreIndex: 255,
    palette: [[0, 0, 0], [1, 1, 1], [2, 2, 2]], images: Uint8Array.from({ length: n * h * w * 3 }, () => r.int(256)),
    labels: Uint8Array.from({ length: n * h * w }, () => [0, 1, 2, 255][r.int(4)]!), ids: Array.from({ length: n }, (_, i) => `f${i}`),
    mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3],
  };
}

test('segTrainBatch: each frame is either unchanged or mirrored together with its labels; eval batches normalize with the dataset stats', () => {
  const ds = syntheticSeg(6, 4, 5), px = 20;
  const ev = segEvalBatch(ds, 0, 10);
  assert.equal(ev.n, 6);
  assert.ok(Math.abs(ev.x[0]! - (ds.images[0]! / 255 - 0.5) / 0.2) < 1e-6 && Math.abs(ev.x[2]! - (ds.images[2]! / 255 - 0.3) / 0.3) < 1e-6);
  assert.deepEqual(ev.labels, ds.labels);
  const idx = Uint32Array.from([0, 1, 2, 3, 4, 5]);
  const rng = createRng(5), replay = createRng(5);
  const b = segTrainBatch(ds, idx, SEED_SEG_AUGMENT, rng);
  for (let i = 0; i < 6; i++) {
    const flipped = replay.next() < 0.5; // the flip is the only draw per frame
    const wantX = ev.x.slice(i * px * 3, (i + 1) * px * 3), wantL = ev.labels.slice(i * px, (i + 1) * px);
    if (flipped) {
      const lx = new Uint8Array(px); hflip(ev.labels.subarray(i * px, (i + 1) * px), lx, 4, 5, 1); wantL.set(lx);
      for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) wantX[(y * 5 + x) * 3 + c] = ev.x[i * px * 3 + (y * 5 + 4 - x) * 3 + c]!;
    }
    assert.deepEqual(b.x.slice(i * px * 3, (i + 1) * px * 3), wantX, `frame ${i} (flipped ${flipped})`);
    assert.deepEqual(b.labels.slice(i * px, (i + 1) * px), wantL, `labels ${i}`);
  }
  assert.deepEqual(rng.getState(), replay.getState());
  // no augmentation: the eval batch exactly, and no draws
  const quiet = createRng(1), before = quiet.getState();
  const plain = segTrainBatch(ds, idx, NO_SEG_AUGMENT, quiet);
  assert.deepEqual(plain.x, ev.x);
  assert.deepEqual(quiet.getState(), before);
  // subsetSeg copies frames in the given order
  const sub = subsetSeg(ds, [4, 1]);
  assert.deepEqual([sub.n, ...sub.ids], [2, 'f4', 'f1']);
  assert.deepEqual(sub.labels.subarray(px), ds.labels.subarray(px, 2 * px));
  assert.ok(segAugmentSchema.safeParse({ hflip: true, scaleMin: 0.5 }).success);
  assert.ok(!segAugmentSchema.safeParse({ hflip: true, scaleMin: 0 }).success);
  assert.ok(!segAugmentSchema.safeParse({ hflip: true, scaleMin: 1, extra: 1 }).success);
});

// ---- loaders on generated layouts --------------------------------------------------------------------

async function writePng(path: string, data: Uint8Array, w: number, h: number, channels: 1 | 3): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const img = sharp(Buffer.from(data), { raw: { width: w, height: h, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(path); // sharp writes RGB unless told b-w
}
async function writeJpeg(path: string, data: Uint8Array, w: number, h: number): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(path);
}

/** Frame k: R = 10k + column, G = row, B = 7; labels: column % 12 (so 11 = void appears), rows and columns known. */
function camvidFrame(k: number, h: number, w: number): { img: Uint8Array; lab: Uint8Array } {
  const img = new Uint8Array(h * w * 3), lab = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { img.set([10 * k + x, y, 7], (y * w + x) * 3); lab[y * w + x] = (x + k) % 12; }
  return { img, lab };
}

async function makeCamVid(root: string, h: number, w: number): Promise<void> {
  const names = { train: ['0001TP_000010', '0001TP_000020', 'Seq05VD_f00030'], val: ['0016E5_07959'], test: ['0001TP_008550', '0001TP_008580'] };
  let k = 0;
  for (const [split, ids] of Object.entries(names)) {
    const lines: string[] = [];
    for (const id of ids) {
      const { img, lab } = camvidFrame(k++, h, w);
      await writePng(join(root, split, `${id}.png`), img, w, h, 3);
      await writePng(join(root, `${split}annot`, `${id}.png`), lab, w, h, 1);
      lines.push(`/SegNet/CamVid/${split}/${id}.png /SegNet/CamVid/${split}annot/${id}.png`); // the published list format
    }
    writeFileSync(join(root, `${split}.txt`), lines.join('\n') + '\n');
  }
}

test('loadCamVid reads the published lists: exact frames and labels at full size (void 11 -> 255), nearest labels when resized', async () => {
  const root = join(tmp, 'CamVid'), h = 12, w = 16;
  await makeCamVid(root, h, w);
  const train = await loadCamVid(root, 'train', { height: h, width: w });
  assert.deepEqual([train.n, train.ids.join()], [3, '0001TP_000010,0001TP_000020,Seq05VD_f00030']);
  assert.deepEqual([train.classes, train.ignoreIndex, train.palette.length], [CAMVID_CLASSES, 255, 11]);
  for (let k = 0; k < 3; k++) {
    const { img, lab } = camvidFrame(k, h, w);
    assert.deepEqual(train.images.subarray(k * h * w * 3, (k + 1) * h * w * 3), img);
    assert.deepEqual(Array.from(train.labels.subarray(k * h * w, (k + 1) * h * w)), Array.from(lab, (v) => (v === 11 ? 255 : v)));
  }
  // half size: label (x, y) is the source label at (2x + 1, 2y + 1); frames are the bilinear resize
  const half = await loadCamVid(root, 'test', { height: 6, width: 8 });
  assert.equal(half.n, 2);
  const { img, lab } = camvidFrame(4, h, w); // test frames are frames 4 and 5
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 8; x++) {
      const v = lab[(2 * y + 1) * w + 2 * x + 1]!;
      assert.equal(half.labels[y * 8 + x], v === 11 ? 255 : v);
    }
  }
  const ref = new Uint8Array(6 * 8 * 3);
  resizeImage(img, h, w, ref, 6, 8);
  assert.deepEqual(half.images.subarray(0, 6 * 8 * 3), ref);
  // the R ramp 40 + x shrinks to pixel centers 40 + 2x + .5 (Pillow rounds .5 up): 41, 43, ...; B stays 7
  assert.deepEqual([half.images[0], half.images[3], half.images[2]], [41, 43, 7]);
});

test('loadCamVid: .jpg frames listed as .png, and the folder layout when the list file is absent', async () => {
  const root = join(tmp, 'CamVidJpeg'), h = 8, w = 8;
  const { img, lab } = camvidFrame(1, h, w);
  await writeJpeg(join(root, 'val', 'a.jpg'), img, w, h);
  await writePng(join(root, 'valannot', 'a.png'), lab, w, h, 1);
  writeFileSync(join(root, 'val.txt'), '/SegNet/CamVid/val/a.png /SegNet/CamVid/valannot/a.png\r\n');
  const val = await loadCamVid(root, 'val', { height: h, width: w });
  assert.equal(val.n, 1);
  const maxErr = Math.max(...Array.from(val.images, (v, i) => Math.abs(v - img[i]!)));
  assert.ok(maxErr <= 3, `JPEG q100 frame within 3 levels, got ${maxErr}`);
  rmSync(join(root, 'val.txt'));
  const byFolder = await loadCamVid(root, 'val', { height: h, width: w });
  assert.deepEqual([byFolder.ids, byFolder.labels], [['a'], val.labels]);
});

async function expectUserError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, pattern);
    return true;
  });
}

test('loadCamVid errors name the file: missing root / list / image / label, wrong label size, value out of range, unreadable or colour files', async () => {
  const size = { height: 4, width: 4 };
  await expectUserError(loadCamVid(join(tmp, 'nowhere'), 'train', size), /nowhere: not found \(expected the CamVid folder/);
  const root = join(tmp, 'CamVidBad');
  mkdirSync(root, { recursive: true });
  await expectUserError(loadCamVid(root, 'train', size), /train\.txt: missing, and no train\/ \+ trainannot\/ folders beside it \(expected the SegNet CamVid layout\)$/);
  mkdirSync(join(tmp, 'parent', 'CamVid'), { recursive: true });
  await expectUserError(loadCamVid(join(tmp, 'parent'), 'val', size), /val\.txt: missing, .*; did you mean \S+parent\/CamVid\?\)$/);
  const { img, lab } = camvidFrame(0, 4, 4);
  await writePng(join(root, 'train', 'a.png'), img, 4, 4, 3);
  await writePng(join(root, 'trainannot', 'a.png'), lab, 4, 4, 1);
  const list = (line: string): void => writeFileSync(join(root, 'train.txt'), line + '\n');
  list('train/b.png trainannot/a.png');
  await expectUserError(loadCamVid(root, 'train', size), /train\/b\.png: image file missing \(listed in .*train\.txt:1/);
  list('train/a.png trainannot/b.png');
  await expectUserError(loadCamVid(root, 'train', size), /trainannot\/b\.png: label file missing/);
  list('train/a.png');
  await expectUserError(loadCamVid(root, 'train', size), /train\.txt:1: expected 'image-path label-path'/);
  await writePng(join(root, 'trainannot', 'small.png'), new Uint8Array(6), 3, 2, 1);
  list('train/a.png trainannot/small.png');
  await expectUserError(loadCamVid(root, 'train', size), /small\.png: label is 3x2, but its image .*a\.png is 4x4/);
  const bad = lab.slice(); bad[6] = 12;
  await writePng(join(root, 'trainannot', 'bad.png'), bad, 4, 4, 1);
  list('train/a.png trainannot/bad.png');
  await expectUserError(loadCamVid(root, 'train', size), /bad\.png: label value 12 at pixel \(x=2, y=1\) is not 0-10 \(classes\) or 11 \(void\)/);
  await writePng(join(root, 'trainannot', 'rgb.png'), img, 4, 4, 3);
  list('train/a.png trainannot/rgb.png');
  await expectUserError(loadCamVid(root, 'train', size), /rgb\.png: expected a single-channel 8-bit label PNG/);
  writeFileSync(join(root, 'train', 'junk.png'), 'not an image');
  list('train/junk.png trainannot/a.png');
  await expectUserError(loadCamVid(root, 'train', size), /junk\.png: cannot decode image/);
});

/** A tiny Cityscapes tree: labelIds cycle through 0..33 so every mapping entry is exercised. */
async function makeCityscapes(root: string, h: number, w: number): Promise<Map<string, Uint8Array>> {
  const frames = { aachen: ['aachen_000000_000019', 'aachen_000001_000019'], bochum: ['bochum_000000_000313'] };
  const labels = new Map<string, Uint8Array>();
  let k = 0;
  for (const [city, stems] of Object.entries(frames)) {
    for (const s of stems) {
      const img = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 3 + k) % 256);
      const lab = Uint8Array.from({ length: h * w }, (_, i) => (i + 5 * k) % 34);
      k++;
      await writePng(join(root, 'leftImg8bit', 'train', city, `${s}_leftImg8bit.png`), img, w, h, 3);
      await writePng(join(root, 'gtFine', 'train', city, `${s}_gtFine_labelIds.png`), lab, w, h, 1);
      writeFileSync(join(root, 'gtFine', 'train', city, `${s}_gtFine_color.png`), 'other gtFine files are not read');
      labels.set(`${city}/${s}`, lab);
    }
  }
  return labels;
}

test('loadCityscapes: official layout, 2 cities, labelIds -> 19 train ids (255 ignored), nearest resize; errors name the file', async () => {
  const root = join(tmp, 'cityscapes'), h = 8, w = 16;
  const raw = await makeCityscapes(root, h, w);
  const ds = await loadCityscapes(root, 'train', { height: h, width: w });
  assert.deepEqual(ds.ids, ['aachen/aachen_000000_000019', 'aachen/aachen_000001_000019', 'bochum/bochum_000000_000313']);
  assert.deepEqual([ds.classes.length, ds.classes, ds.ignoreIndex], [19, CITYSCAPES_CLASSES, 255]);
  // labels.py by name: road (id 7) -> 0, car (26) -> 13, bicycle (33) -> 18, unlabeled (0) / parking (9) / polegroup (18) -> 255
  assert.deepEqual([7, 26, 33, 0, 9, 18].map((id) => CITYSCAPES_LABEL_TO_TRAIN[id]), [0, 13, 18, 255, 255, 255]);
  assert.equal(CITYSCAPES_LABEL_TO_TRAIN.filter((t) => t !== 255).length, 19);
  ds.ids.forEach((id, k) => {
    const want = Array.from(raw.get(id)!, (v) => CITYSCAPES_LABEL_TO_TRAIN[v]!);
    assert.deepEqual(Array.from(ds.labels.subarray(k * h * w, (k + 1) * h * w)), want, id);
  });
  const small = await loadCityscapes(root, 'train', { height: 4, width: 8 });
  const src = raw.get(ds.ids[2]!)!;
  assert.equal(small.labels[2 * 4 * 8 + 1 * 8 + 3], CITYSCAPES_LABEL_TO_TRAIN[src[3 * w + 7]!]); // (x 3, y 1) <- (7, 3)
  await expectUserError(loadCityscapes(root, 'val', { height: 4, width: 8 }), /leftImg8bit\/val: not found/);
  const bad = src.slice(); bad[0] = 34;
  await writePng(join(root, 'gtFine', 'train', 'bochum', 'bochum_000000_000313_gtFine_labelIds.png'), bad, w, h, 1);
  await expectUserError(loadCityscapes(root, 'train', { height: 4, width: 8 }), /bochum_000000_000313_gtFine_labelIds\.png: label value 34 at pixel \(x=0, y=0\) is not a Cityscapes labelId 0-33/);
  rmSync(join(root, 'gtFine', 'train', 'bochum', 'bochum_000000_000313_gtFine_labelIds.png'));
  await expectUserError(loadCityscapes(root, 'train', { height: 4, width: 8 }), /bochum_000000_000313_gtFine_labelIds\.png: label file missing \(for frame/);
});

// ---- the real CamVid (SegNet split) ------------------------------------------------------------------

const CAMVID_TAR = '/work/shared/datasets/camvid-segnet.tar';

test('real CamVid (SegNet split): 367 / 101 / 233 frames, every label a class or void', { skip: existsSync(CAMVID_TAR) ? false : `${CAMVID_TAR} not on this machine` }, async () => {
  const dest = join(tmp, 'camvid-real');
  await extractTar(CAMVID_TAR, dest);
  const counts: number[] = [];
  for (const split of ['train', 'val', 'test'] as const) {
    const ds = await loadCamVid(join(dest, 'CamVid'), split, { height: 45, width: 60 }); // small: decoding dominates
    counts.push(ds.n);
    const seen = new Set(ds.labels);
    for (const v of seen) assert.ok(v < 11 || v === 255, `${split}: label ${v}`);
    if (split === 'train') assert.ok([0, 1, 3, 8, 255].every((v) => seen.has(v)), 'sky, building, road, car and void all occur');
  }
  assert.deepEqual(counts, [367, 101, 233]);
});
