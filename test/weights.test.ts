// Weight loading: PyTorch reference logits (shared/reference, if present), both key layouts, safetensors round trip, clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../lib/models/convmixer.ts';
import { readSafetensors, writeSafetensors, type StoredTensor } from '../lib/models/safetensors.ts';
import { UserError } from '../lib/errors.ts';
import { detectLayout, loadWeights, saveWeights, sequentialToTimm, stateDict } from '../lib/models/weights.ts';
import { fileURLToPath } from 'node:url';
import { maxAbsDiff } from './helpers/compare.ts';

const REF = fileURLToPath(new URL('../../shared/reference/', import.meta.url));
const REF_WEIGHTS = join(REF, 'convmixer_64_4_k5_p2.weights.safetensors');
const REF_IO = join(REF, 'convmixer_64_4_k5_p2.io.safetensors');
const haveRef = existsSync(REF_WEIGHTS) && existsSync(REF_IO);
const skipRef = haveRef ? false : `PyTorch reference not found at ${REF} (shared/reference beside the repo); skipping the equivalence test`;

await tf.setBackend('cpu');

function referenceLogits(weights: string | Record<string, StoredTensor>): { got: Float32Array; expected: Float32Array } {
  const io = readSafetensors(REF_IO);
  const model = createModel('convmixer_64_4_k5_p2', {}, { seed: 1 });
  loadWeights(model, weights);
  const x = tf.tensor4d(io['input_nhwc']!.data, io['input_nhwc']!.shape as [number, number, number, number]);
  const y = model.apply(x);
  const got = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  model.dispose();
  return { got, expected: io['logits']!.data };
}

test('weights: timm-layout reference checkpoint gives PyTorch logits within 1e-4', { skip: skipRef }, (t) => {
  const { got, expected } = referenceLogits(REF_WEIGHTS);
  assert.equal(expected.length, 40);
  const diff = maxAbsDiff(got, expected);
  t.diagnostic(`max |logit - torch| = ${diff.toExponential(2)}`);
  assert.ok(diff < 1e-4, `max |logit - torch| = ${diff}`);
  // Not trivially small logits: the comparison means something.
  assert.ok(Math.max(...expected.map(Math.abs)) > 0.1);
});

test('weights: reference input_nhwc is input_nchw transposed (fixture sanity)', { skip: skipRef }, () => {
  const io = readSafetensors(REF_IO);
  const nchw = tf.tensor4d(io['input_nchw']!.data, io['input_nchw']!.shape as [number, number, number, number]);
  const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
  assert.equal(maxAbsDiff(nhwc.dataSync(), io['input_nhwc']!.data), 0);
  tf.dispose([nchw, nhwc]);
});

test('weights: the same checkpoint renamed to the nn.Sequential layout gives the same logits', { skip: skipRef }, () => {
  const depth = 4;
  const timm = readSafetensors(REF_WEIGHTS);
  // Rename independently of the loader's mapping: Sequential(Conv, act, BN, *blocks, Pool, Flatten, Linear).
  const rename = (k: string): string => k
    .replace(/^stem\.0\./, '0.').replace(/^stem\.2\./, '2.')
    .replace(/^blocks\.(\d+)\./, (_, i: string) => `${3 + Number(i)}.`)
    .replace(/^head\./, `${3 + depth + 2}.`);
  const sequential = Object.fromEntries(Object.entries(timm).map(([k, v]) => [rename(k), v]));
  assert.ok('9.weight' in sequential && '0.weight' in sequential && '3.0.fn.0.weight' in sequential && '6.3.running_var' in sequential);
  assert.equal(detectLayout(Object.keys(sequential)), 'sequential');
  const { got, expected } = referenceLogits(sequential);
  assert.ok(maxAbsDiff(got, expected) < 1e-4);
});

test('weights: sequentialToTimm follows the Appendix D module indices', () => {
  assert.equal(sequentialToTimm('0.weight', 20), 'stem.0.weight');
  assert.equal(sequentialToTimm('2.running_mean', 20), 'stem.2.running_mean');
  assert.equal(sequentialToTimm('3.0.fn.0.weight', 20), 'blocks.0.0.fn.0.weight');
  assert.equal(sequentialToTimm('22.3.bias', 20), 'blocks.19.3.bias');
  assert.equal(sequentialToTimm('25.weight', 20), 'head.weight');
  assert.equal(sequentialToTimm('1.weight', 20), null); // activation: no parameters
  assert.equal(sequentialToTimm('23.weight', 20), null); // pooling
});

test('weights: stateDict -> safetensors -> loadWeights round-trips exactly, in PyTorch layouts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-weights-'));
  try {
    const a = createModel({ dim: 8, depth: 2, kernelSize: 4, patchSize: 2, numClasses: 3 }, {}, { seed: 3 });
    const sd = stateDict(a);
    assert.deepEqual(sd['stem.0.weight']!.shape, [8, 3, 2, 2]);
    assert.deepEqual(sd['blocks.1.0.fn.0.weight']!.shape, [8, 1, 4, 4]);
    assert.deepEqual(sd['blocks.0.1.weight']!.shape, [8, 8, 1, 1]);
    assert.deepEqual(sd['head.weight']!.shape, [3, 8]);
    // OIHW element [o=5, i=1, h=1, w=0] is HWIO element [1, 0, 1, 5].
    const hwio = a.params['stem.0.weight']!.arraySync() as number[][][][];
    assert.equal(sd['stem.0.weight']!.data[((5 * 3 + 1) * 2 + 1) * 2 + 0], Math.fround(hwio[1]![0]![1]![5]!));
    const path = join(dir, 'w.safetensors');
    saveWeights(a, path, { note: 'test' });
    const b = createModel({ dim: 8, depth: 2, kernelSize: 4, patchSize: 2, numClasses: 3 }, {}, { seed: 4 });
    assert.notDeepEqual(b.params['head.weight']!.dataSync(), a.params['head.weight']!.dataSync());
    loadWeights(b, path);
    for (const [k, v] of Object.entries({ ...a.params, ...a.buffers })) {
      assert.deepEqual(Array.from((b.params[k] ?? b.buffers[k])!.dataSync()), Array.from(v.dataSync()), k);
    }
    a.dispose();
    b.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weights: mismatches fail with one line naming the key and shapes', () => {
  const model = createModel({ dim: 8, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 3 });
  const sd = stateDict(model);
  const other = stateDict(createModel({ dim: 8, depth: 2, kernelSize: 5, patchSize: 2, numClasses: 3 }));
  assert.throws(() => loadWeights(model, other), /'blocks\.0\.0\.fn\.0\.weight' has shape \[8,1,5,5\], expected \[8,1,3,3\]/);
  const missing = { ...sd };
  delete missing['head.bias'];
  assert.throws(() => loadWeights(model, missing), /missing key 'head\.bias'/);
  assert.throws(() => loadWeights(model, { ...sd, 'blocks.2.1.weight': sd['blocks.0.1.weight']! }), /unexpected key 'blocks\.2\.1\.weight'/);
  assert.throws(() => loadWeights(model, { foo: sd['head.bias']! }), /unrecognized checkpoint layout \(first key 'foo'/);
  model.dispose();
});

test('safetensors: reads F16 and BF16, rejects bad offsets with the file named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-st-'));
  try {
    // Hand-built file: F16 [1.5, -2] = 0x3e00, 0xc000; BF16 [1.5] = 0x3fc0.
    const header = JSON.stringify({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } });
    const hb = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + hb.length + 6);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(hb.length), true);
    bytes.set(hb, 8);
    view.setUint16(8 + hb.length, 0x3e00, true);
    view.setUint16(8 + hb.length + 2, 0xc000, true);
    view.setUint16(8 + hb.length + 4, 0x3fc0, true);
    const t = readSafetensors(bytes);
    assert.deepEqual(Array.from(t['h']!.data), [1.5, -2]);
    assert.deepEqual(Array.from(t['b']!.data), [1.5]);
    const path = join(dir, 'x.safetensors');
    writeSafetensors(path, { a: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
    assert.deepEqual(Array.from(readSafetensors(path)['a']!.data), [1, 2, 3, 4]);
    assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 1)), /<bytes>: not a valid safetensors file: tensor 'b'/);
    assert.throws(() => readSafetensors(join(dir, 'nope.safetensors')), /nope\.safetensors: cannot read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors: header entries without shape/offsets, null entries, overlapping ranges, gaps and unused bytes are refused naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-st-'));
  /** A file with this header (JSON) and `body` zero bytes after it. */
  const file = (name: string, header: unknown, body: number): string => {
    const hb = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + hb.length + body);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(hb.length), true);
    bytes.set(hb, 8);
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, bytes);
    return path;
  };
  const refused = (name: string, header: unknown, body: number, why: RegExp): void => {
    const path = file(name, header, body);
    assert.throws(() => readSafetensors(path), (err: Error) => {
      assert.ok(err instanceof UserError, String(err));
      assert.ok(!err.message.includes('\n'));
      assert.ok(err.message.startsWith(`${path}: not a valid safetensors file: `), err.message);
      assert.match(err.message, why);
      return true;
    });
  };
  const f32 = (start: number, end: number, shape = [(end - start) / 4]): unknown => ({ dtype: 'F32', shape, data_offsets: [start, end] });
  try {
    assert.deepEqual(Object.keys(readSafetensors(file('good', { a: f32(0, 8), b: f32(8, 12), __metadata__: { k: 'v' } }, 12))), ['a', 'b']);
    assert.equal(Object.keys(readSafetensors(file('empty', {}, 0))).length, 0);
    refused('no-shape', { a: { dtype: 'F32', data_offsets: [0, 4] } }, 4, /tensor 'a': shape must be a list of non-negative integers/);
    refused('null-shape', { a: { dtype: 'F32', shape: null, data_offsets: [0, 4] } }, 4, /tensor 'a': shape/);
    refused('bad-dim', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /tensor 'a': shape/);
    refused('no-offsets', { a: { dtype: 'F32', shape: [1] } }, 4, /tensor 'a': data_offsets must be two non-negative integers/);
    refused('null-offsets', { a: { dtype: 'F32', shape: [1], data_offsets: null } }, 4, /tensor 'a': data_offsets/);
    refused('float-offsets', { a: { dtype: 'F32', shape: [1], data_offsets: [0.5, 4.5] } }, 5, /tensor 'a': data_offsets/);
    refused('null-entry', { a: null }, 0, /tensor 'a': not an object/);
    refused('no-dtype', { a: { shape: [1], data_offsets: [0, 4] } }, 4, /tensor 'a' has dtype undefined/);
    refused('not-object', [1, 2], 0, /header is not a JSON object/);
    refused('metadata', { __metadata__: { k: 1 }, a: f32(0, 4) }, 4, /__metadata__ must map names to strings/);
    refused('overlap', { a: f32(0, 8), b: f32(4, 12, [2]) }, 12, /tensors 'a' and 'b' overlap/);
    refused('gap', { a: f32(0, 4), b: f32(8, 12) }, 12, /gap of 4 bytes before tensor 'b'/);
    refused('start-gap', { a: f32(4, 8) }, 8, /gap of 4 bytes before tensor 'a'/);
    refused('unused', { a: f32(0, 4) }, 8, /4 bytes after the last tensor are not part of any tensor/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('predict: preprocessing and the CLI agree with the model on the same input', async () => {
  const { preprocessForConfig, preprocessFor, loadImage, command } = await import('../lib/cli/predict.ts');
  const { modelInfo } = await import('../lib/models/registry.ts');
  const { classNamesFor } = await import('../lib/data/classNames.ts');
  const sharp = (await import('sharp')).default;
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-predict-'));
  try {
    const image = join(dir, 'flat.png');
    await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toFile(image);
    const config = { dim: 8, depth: 1, kernelSize: 3, patchSize: 4, numClasses: 10 };
    const model = createModel(config, {}, { seed: 7 });
    const weights = join(dir, 'w.safetensors');
    saveWeights(model, weights);
    const cifar = preprocessForConfig(model.config);
    const x = await loadImage(image, cifar);
    assert.equal(x.length, 32 * 32 * 3);
    // A flat color stays flat through resize and crop: every pixel is (c / 255 - mean) / std with CIFAR-10 statistics.
    const expected = [200, 30, 90].map((c, i) => (c / 255 - [0.4914, 0.4822, 0.4465][i]!) / [0.2471, 0.2435, 0.2616][i]!);
    close3(x, expected);
    assert.equal(preprocessForConfig({ ...model.config, numClasses: 1000 }).size, 224);
    // Named models: the registry's default cfg (timm's ConvMixer cfg: 224 / 0.96 -> 233), also with a --classes override.
    assert.deepEqual(preprocessFor(modelInfo('convmixer_1536_20').defaultCfg).resizeTo, 233);
    assert.equal(preprocessForConfig({ ...model.config, numClasses: 1000 }, 'convmixer_256_8').size, 32);
    assert.equal(preprocessForConfig(modelInfo('convmixer_768_32', { numClasses: 10 }).config as never, 'convmixer_768_32').size, 224);
    const probs = tf.tidy(() => tf.softmax(model.apply(tf.tensor4d(x, [1, 32, 32, 3]))).dataSync());
    const best = probs.indexOf(Math.max(...probs));
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    try {
      const rc = await command.run(['--dim', '8', '--depth', '1', '--kernel', '3', '--patch', '4', '--classes', '10', '--weights', weights, '--json', image]);
      assert.equal(rc, 0);
    } finally {
      console.log = log;
    }
    const out = JSON.parse(lines.join('\n')) as Array<{ top: Array<{ index: number; name: string; prob: number }> }>;
    assert.equal(out[0]!.top.length, 5);
    assert.equal(out[0]!.top[0]!.index, best);
    assert.equal(out[0]!.top[0]!.name, classNamesFor(10)[best]);
    assert.ok(Math.abs(out[0]!.top[0]!.prob - probs[best]!) < 1e-6);
    const imagenet = classNamesFor(1000);
    assert.equal(imagenet.length, 1000);
    assert.deepEqual([imagenet[0], imagenet[1], imagenet[999]], ['tench, Tinca tinca', 'goldfish, Carassius auratus', 'toilet tissue, toilet paper, bathroom tissue']);
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function close3(x: Float32Array, rgb: number[]): void {
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i]! - rgb[i % 3]!) < 1e-5, `pixel value ${i}: ${x[i]} vs ${rgb[i % 3]}`);
}
