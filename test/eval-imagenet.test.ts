// `convmixer eval imagenet`: both validation layouts on a tiny generated fixture, top-1/top-5 against the same model's
// predictions computed here independently, --limit, the run record, one-line errors through the real CLI, and the
// PyTorch reference ConvMixer (shared/reference, if present): forward checked on its io batch, then eval on 10 classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../lib/models/registry.ts';
import { loadModelWeights, saveModelWeights } from '../lib/models/timmWeights.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { CIFAR10_MEAN, CIFAR10_STD } from '../lib/data/augment.ts';
import { centerCropOffset, loadImagePixels, resizedSize } from '../lib/data/evalTransform.ts';
import { findValSet, topK } from '../lib/eval/imagenet.ts';
import { createRng } from '../lib/rng.ts';
import { parseRunRecord } from '../lib/runRecord.ts';
import { fileURLToPath } from 'node:url';

await tf.setBackend('cpu');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// shared/ beside the repo (../shared), or beside the worktrees folder when run from a git worktree (../../shared).
const REF = ['../../shared/reference/', '../../../shared/reference/'].map((p) => fileURLToPath(new URL(p, import.meta.url)))
  .find((p) => existsSync(join(p, 'convmixer_64_4_k5_p2.weights.safetensors'))) ?? fileURLToPath(new URL('../../shared/reference/', import.meta.url));
const REF_WEIGHTS = join(REF, 'convmixer_64_4_k5_p2.weights.safetensors');
const REF_IO = join(REF, 'convmixer_64_4_k5_p2.io.safetensors');
const skipRef = existsSync(REF_WEIGHTS) && existsSync(REF_IO) ? false : `PyTorch reference not found at ${REF}; skipping`;

const tmp = mkdtempSync(join(tmpdir(), 'eval-imagenet-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/convmixer.mjs', 'eval', ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function randomPixels(seed: number, n: number): Buffer {
  const rng = createRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng.next() * 256);
  return b;
}

// 8 wnids in a made-up "ILSVRC2012_ID order" (not sorted); 3 of them have class folders with 2 JPEGs each (32x32, the
// tiny model's input size, so the transform is decode + normalize and the test can recompute it exactly).
const LABELS = ['n09999999', 'n01440764', 'n05555555', 'n01443537', 'n02222222', 'n01484850', 'n07777777', 'n03333333'];
const SORTED = [...LABELS].sort();
const WNIDS = ['n01440764', 'n01443537', 'n01484850'];
const data = join(tmp, 'imagenet');
const labelsFile = join(tmp, 'labels.txt');
writeFileSync(labelsFile, LABELS.join('\n') + '\n');
const files: Array<{ path: string; wnid: string }> = [];
let seed = 1;
for (const wnid of WNIDS) {
  mkdirSync(join(data, 'val', wnid), { recursive: true });
  for (const f of ['b.JPEG', 'a.JPEG']) {
    const path = join(data, 'val', wnid, f);
    await sharp(randomPixels(seed++, 32 * 32 * 3), { raw: { width: 32, height: 32, channels: 3 } }).jpeg({ quality: 90 }).toFile(path);
    files.push({ path, wnid });
  }
}
// Sorted file order: by wnid, then file name.
files.sort((a, b) => (a.path < b.path ? -1 : 1));
const weights = join(tmp, 'tiny.safetensors');
{
  const m = createModel('convmixer_64_4_k5_p2', { numClasses: 8 }, { seed: 3 });
  saveModelWeights(m, weights);
  m.dispose();
}

/** The model's top-5 on each file, computed here: sharp raw decode, /255, CIFAR mean/std (the cfg of this CIFAR model). */
async function expected(paths: Array<{ path: string; wnid: string }>): Promise<{ top1: number; top5: number; predictions: number[] }> {
  const model = createModel('convmixer_64_4_k5_p2', { numClasses: 8 }, { init: 'zeros' });
  loadModelWeights(model, weights);
  let c1 = 0, c5 = 0;
  const predictions: number[] = [];
  for (const f of paths) {
    const raw = await sharp(f.path).removeAlpha().raw().toBuffer();
    const x = Float32Array.from(raw, (v, i) => (v / 255 - CIFAR10_MEAN[i % 3]!) / CIFAR10_STD[i % 3]!);
    const logits = tf.tidy(() => model.apply(tf.tensor4d(x, [1, 32, 32, 3]), { training: false }).dataSync());
    const top = topK(logits, 5);
    const label = SORTED.indexOf(f.wnid);
    predictions.push(top[0]!);
    if (top[0] === label) c1++;
    if (top.includes(label)) c5++;
  }
  model.dispose();
  return { top1: (100 * c1) / paths.length, top5: (100 * c5) / paths.length, predictions };
}

test('eval: torchvision Resize / CenterCrop sizes and offsets', () => {
  assert.deepEqual(resizedSize(500, 375, 233), { w: 310, h: 233 }); // int(233 * 500 / 375) = 310
  assert.deepEqual(resizedSize(375, 500, 233), { w: 233, h: 310 });
  assert.deepEqual(centerCropOffset(310, 233, 224), { left: 43, top: 4 }); // round(4.5) = 4 (half to even)
  assert.deepEqual(centerCropOffset(233, 233, 224), { left: 4, top: 4 });
  assert.deepEqual(topK([0.1, 0.5, 0.5, -1], 3), [1, 2, 0]);
});

test('eval: resize + center crop geometry on a horizontal ramp (64x48 -> shorter side 32 -> 42x32 -> crop at x 5)', async () => {
  const path = join(tmp, 'ramp.png');
  const ramp = Buffer.alloc(64 * 48 * 3);
  for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) for (let c = 0; c < 3; c++) ramp[(y * 64 + x) * 3 + c] = 4 * x;
  await sharp(ramp, { raw: { width: 64, height: 48, channels: 3 } }).png().toFile(path);
  const px = await loadImagePixels(path, { size: 32, resizeTo: 32, mean: [0, 0, 0], std: [1, 1, 1] });
  assert.equal(px.length, 32 * 32 * 3);
  // Output column j samples source x = (j + 5 + 0.5) * 64 / 42 - 0.5 (pixel centers); a cubic reproduces a linear ramp.
  let worst = 0;
  for (let y = 0; y < 32; y++) for (let j = 0; j < 32; j++) {
    const want = 4 * ((j + 5 + 0.5) * (64 / 42) - 0.5);
    worst = Math.max(worst, Math.abs(px[(y * 32 + j) * 3]! - want));
  }
  assert.ok(worst <= 1.5, `max deviation from the ramp ${worst}`); // 0.57 here; a crop one pixel off gives about 6.6
});

test('eval: folder layout, classes = sorted wnids of --labels, sorted file order', () => {
  const set = findValSet(data, { labels: LABELS });
  assert.equal(set.layout, 'folders');
  assert.deepEqual(set.classes, SORTED);
  assert.deepEqual(set.images.map((i) => i.path), files.map((f) => f.path));
  assert.deepEqual(set.images.map((i) => i.label), files.map((f) => SORTED.indexOf(f.wnid)));
  // Without --labels: the class folders themselves, sorted.
  assert.deepEqual(findValSet(join(data, 'val')).classes, WNIDS);
});

test('eval imagenet CLI: folder layout top-1/top-5 = the model\'s own predictions; run record', async () => {
  const want = await expected(files);
  const results = join(tmp, 'results-folders');
  const r = cli('imagenet', '--model', 'convmixer_64_4_k5_p2', '--classes', '8', '--weights', weights, '--data', data, '--labels', labelsFile,
    '--batch', '4', '--backend', 'cpu', '--results-dir', results, '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.images, 6);
  assert.deepEqual(out.predictions, want.predictions);
  assert.ok(Math.abs(out.top1 - want.top1) < 1e-9 && Math.abs(out.top5 - want.top5) < 1e-9, `${out.top1}/${out.top5} vs ${want.top1}/${want.top5}`);
  const [file] = readdirSync(results);
  const parsed = parseRunRecord(readFileSync(join(results, file!), 'utf8'));
  assert.ok('record' in parsed, JSON.stringify(parsed));
  const rec = parsed.record;
  assert.equal(rec.kind, 'eval');
  assert.equal(rec.status, 'finished');
  assert.equal(rec.config.model, 'convmixer_64_4_k5_p2');
  assert.match(String(rec.config.weightsSha256), /^[0-9a-f]{64}$/);
  assert.equal(rec.config.limit, null);
  assert.equal(rec.metrics.images, 6);
  assert.equal(rec.metrics.top1, want.top1);
  assert.equal(rec.metrics.top5, want.top5);
});

test('eval imagenet CLI: flat ILSVRC2012_val_* layout with the devkit ground truth and --labels; --limit', async () => {
  const flat = join(tmp, 'flat');
  mkdirSync(flat, { recursive: true });
  // Image i (1-based) = files[i - 1]; ground truth = its wnid's 1-based position in LABELS (ILSVRC2012_ID).
  files.forEach((f, i) => copyFileSync(f.path, join(flat, `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`)));
  writeFileSync(join(flat, 'ILSVRC2012_validation_ground_truth.txt'), files.map((f) => LABELS.indexOf(f.wnid) + 1).join('\n') + '\n');
  const set = findValSet(flat, { labels: LABELS });
  assert.equal(set.layout, 'flat');
  assert.deepEqual(set.images.map((i) => i.label), files.map((f) => SORTED.indexOf(f.wnid)));

  const want = await expected(files.slice(0, 4));
  const results = join(tmp, 'results-flat');
  const r = cli('imagenet', '--model', 'convmixer_64_4_k5_p2', '--classes', '8', '--weights', weights, '--data', flat, '--labels', labelsFile,
    '--limit', '4', '--backend', 'cpu', '--results-dir', results, '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.images, 4);
  assert.equal(out.layout, 'flat');
  assert.deepEqual(out.predictions, want.predictions);
  assert.equal(out.top1, want.top1);
  assert.equal(out.top5, want.top5);
  const rec = JSON.parse(readFileSync(join(results, readdirSync(results)[0]!), 'utf8'));
  assert.equal(rec.config.limit, 4);
  assert.equal(rec.config.imagesAvailable, 6);
  assert.match(rec.config.limitRule, /first 4 images in sorted file order/);
  assert.equal(rec.profile, 'quick');
});

test('eval imagenet CLI: one-line errors (missing folder, empty dataset, unknown wnid, unreadable image, weights that do not fit)', () => {
  const base = ['imagenet', '--model', 'convmixer_64_4_k5_p2', '--classes', '8', '--weights', weights, '--labels', labelsFile, '--backend', 'cpu', '--results-dir', join(tmp, 'results-errors')];
  const oneLine = (args: string[], pattern: RegExp): void => {
    const r = cli(...args);
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, pattern);
  };
  oneLine([...base, '--data', join(tmp, 'nope')], /^convmixer eval: --data: no such folder .*nope$/);
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  oneLine([...base, '--data', empty], /empty dataset/);
  const unknown = join(tmp, 'unknown');
  mkdirSync(join(unknown, 'n00000001'), { recursive: true });
  copyFileSync(files[0]!.path, join(unknown, 'n00000001', 'x.JPEG'));
  oneLine([...base, '--data', unknown], /unknown wnid 'n00000001'/);
  const broken = join(tmp, 'broken');
  mkdirSync(join(broken, WNIDS[0]!), { recursive: true });
  writeFileSync(join(broken, WNIDS[0]!, 'bad.JPEG'), 'not a jpeg');
  oneLine([...base, '--data', broken], /bad\.JPEG: cannot read as an image/);
  // Weights of a 10-class model for an 8-class one: the head's shape names the mismatch.
  const ten = join(tmp, 'ten.safetensors');
  const m = createModel('convmixer_64_4_k5_p2', {}, { seed: 4 });
  saveModelWeights(m, ten);
  m.dispose();
  oneLine([...base.map((a) => (a === weights ? ten : a)), '--data', data], /ten\.safetensors: 'head\.(weight|bias)' has shape/);
  oneLine(['imagenet', '--model', 'convmixer_64_4_k5_p2', '--weights', weights, '--data', data, '--backend', 'cpu'], /3 classes \(class folders\) but convmixer_64_4_k5_p2 has 10/);
});

test('eval imagenet: PyTorch reference ConvMixer-64/4 (10 classes): forward on its io batch, then eval on 10 class folders', { skip: skipRef }, async () => {
  const io = readSafetensors(REF_IO);
  const model = createModel('convmixer_64_4_k5_p2', {}, { init: 'zeros' });
  loadModelWeights(model, REF_WEIGHTS);
  const got = tf.tidy(() => model.apply(tf.tensor4d(io['input_nhwc']!.data, io['input_nhwc']!.shape as [number, number, number, number]), { training: false }).dataSync());
  const want = io['logits']!.data;
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  assert.ok(maxDiff < 1e-4, `max |logits - PyTorch| = ${maxDiff}`);

  // 10 wnid folders, one lossless 32x32 PNG in each (CIFAR cfg of this model: 32 px, crop_pct 1, CIFAR-10 mean/std).
  const ref = join(tmp, 'ref');
  const wnids = Array.from({ length: 10 }, (_, i) => `n0${String(1000000 + i * 7).padStart(7, '0')}`).sort();
  const preds: number[] = [];
  let correct = 0;
  for (let c = 0; c < 10; c++) {
    mkdirSync(join(ref, wnids[c]!), { recursive: true });
    const pixels = randomPixels(100 + c, 32 * 32 * 3);
    await sharp(pixels, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(ref, wnids[c]!, 'img.png'));
    const x = Float32Array.from(pixels, (v, i) => (v / 255 - CIFAR10_MEAN[i % 3]!) / CIFAR10_STD[i % 3]!);
    const logits = tf.tidy(() => model.apply(tf.tensor4d(x, [1, 32, 32, 3]), { training: false }).dataSync());
    const p = topK(logits, 1)[0]!;
    preds.push(p);
    if (p === c) correct++;
  }
  model.dispose();
  const r = cli('imagenet', '--model', 'convmixer_64_4_k5_p2', '--weights', REF_WEIGHTS, '--data', ref, '--backend', 'cpu', '--results-dir', join(tmp, 'results-ref'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(out.predictions, preds);
  assert.equal(out.top1, 10 * correct);
});
