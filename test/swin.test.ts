// Swin Transformer (lib/models/swin.ts): parameter counts of Swin-T / Swin-S against torchvision's swin_t / swin_s (and
// timm's), the forward shape of the full Swin-T, and numerical equivalence with torchvision's own SwinTransformer class on
// two tiny configurations (test/fixtures/swin-tiny, written by scripts/swin_reference.py with torch 1.13 / torchvision
// 0.14: random weights in torchvision's state-dict layout, an input batch and torchvision's float64 logits). Loading those
// weights goes through the torchvision -> timm key mapping (swinStateDictToTimm), so the logits check the mapping, the
// layouts, the shifted-window masks, the relative position bias, padding and patch merging at once. With the native
// addon built the file runs on the native engine (as `bench models` does) and also compares it with tfjs's JS kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { loadAddon, nativeKernelNames, withJsKernels } from '../lib/backend/native.ts';
import { UserError } from '../lib/errors.ts';
import { countParams, createModel, modelInfo } from '../lib/models/registry.ts';
import { readSafetensors, type StoredTensor } from '../lib/models/safetensors.ts';
import { relativePositionIndex, shiftedWindowMask, swinStateDictToTimm } from '../lib/models/swin.ts';
import { loadModelWeights, loadTimmWeights, saveModelWeights, timmStateDict } from '../lib/models/timmWeights.ts';

const haveNative = loadAddon().addon !== null;
await initBackend(haveNative ? 'native' : 'cpu');

const DIR = fileURLToPath(new URL('./fixtures/swin-tiny/', import.meta.url));
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  cases: Record<string, { model: string; overrides: Record<string, unknown>; input_shape: number[]; params: number; logits_shape: number[]; logits: number[] }>;
};
const inputs = readSafetensors(join(DIR, 'inputs.safetensors'));
const nhwc = (t: StoredTensor): tf.Tensor4D => tf.tidy(() => tf.transpose(tf.tensor4d(t.data, t.shape as [number, number, number, number]), [0, 2, 3, 1]));

test('swin: Swin-T / Swin-S have exactly torchvision swin_t / swin_s\'s (= timm\'s) parameter counts, by formula and built variables', () => {
  // torchvision 0.14: sum(p.numel() for p in swin_t().parameters()) = 28,288,354, swin_s 49,606,258 (timm results csv: 28.29 / 49.61M).
  for (const [name, count] of [['swin_tiny_patch4_window7_224', 28_288_354], ['swin_small_patch4_window7_224', 49_606_258]] as const) {
    const info = modelInfo(name);
    assert.equal(info.paramCount, count, name);
    assert.equal(info.family, 'swin');
    assert.equal(info.inTimm, true);
    const model = createModel(name, {}, { init: 'zeros' });
    try {
      assert.equal(countParams(model), count, `${name}: built variables`);
      assert.deepEqual(Object.keys(model.buffers), []); // index and masks are constants, not state-dict entries (timm: non-persistent)
    } finally {
      model.dispose();
    }
  }
  const t = createModel('swin_tiny_patch4_window7_224', {}, { init: 'zeros' });
  assert.deepEqual(t.params['patch_embed.proj.weight']!.shape, [4, 4, 3, 96]);
  assert.deepEqual(t.params['layers.0.blocks.1.attn.relative_position_bias_table']!.shape, [169, 3]);
  assert.deepEqual(t.params['layers.2.blocks.5.attn.qkv.weight']!.shape, [384, 1152]);
  assert.deepEqual(t.params['layers.3.downsample.reduction.weight']!.shape, [1536, 768]);
  assert.ok(!('layers.0.downsample.norm.weight' in t.params) && !('layers.3.downsample.reduction.bias' in t.params));
  assert.deepEqual(t.params['head.fc.weight']!.shape, [768, 1000]);
  t.dispose();
  // The tiny fixture configurations: the formula gives torchvision's count there too (odd widths, 2 and 3 stages).
  for (const [name, c] of Object.entries(expected.cases)) assert.equal(modelInfo(c.model, c.overrides).paramCount, c.params, name);
});

test('swin: the full Swin-T gives logits [2, 1000] (32x32 input: maps 8, 4, 2, 1 padded to the 7x7 window, as torchvision)', () => {
  const model = createModel('swin_tiny_patch4_window7_224', {}, { seed: 3 });
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  try {
    const y = model.apply(x);
    assert.deepEqual(y.shape, [2, 1000]);
    const v = Array.from(y.dataSync());
    assert.ok(v.every(Number.isFinite));
    assert.ok(v.some((a) => a !== v[0]), 'not constant');
    y.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});

for (const [name, c] of Object.entries(expected.cases)) {
  test(`swin: torchvision SwinTransformer weights ('${name}' case) loaded through the key mapping give torchvision's logits`, () => {
    const model = createModel(c.model, c.overrides, { seed: 99 });
    const x = nhwc(inputs[name]!);
    try {
      loadModelWeights(model, join(DIR, `${name}.safetensors`));
      const y = model.apply(x);
      assert.deepEqual(y.shape, c.logits_shape);
      const got = Array.from(y.dataSync());
      y.dispose();
      const maxDiff = Math.max(...got.map((g, i) => Math.abs(g - c.logits[i]!)));
      console.log(`# swin '${name}': max |logit - torchvision| = ${maxDiff.toExponential(2)}`);
      assert.ok(maxDiff < 1e-4, `${name}: max abs logit difference ${maxDiff}`);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
}

test('native engine: a Swin training step runs native kernels, attention\'s Softmax included, but for LayerNorm\'s Cast / Pow (as ViT\'s); logits = JS kernels\'', { skip: haveNative ? false : 'native addon not built' }, async () => {
  const c = expected.cases['pad']!;
  const model = createModel(c.model, c.overrides, { init: 'zeros' });
  loadModelWeights(model, join(DIR, 'pad.safetensors'));
  const x = nhwc(inputs['pad']!);
  const vars = Object.values(model.params);
  const native = new Set(nativeKernelNames());
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x, { training: true })) as tf.Scalar, vars);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const names = new Set(profile.kernels.map((k) => k.name));
  const free = new Set(['Identity', 'Reshape', 'unnamed scope']); // views / the fused global average pool (a native custom op)
  assert.deepEqual([...names].filter((n) => !native.has(n) && !free.has(n)).sort(), ['Cast', 'Pow']);
  for (const k of ['BatchMatMul', 'Transpose', 'Concat', 'SplitV', 'PadV2', 'Slice', 'Conv2D']) assert.ok(names.has(k) && native.has(k), `${k} native`);
  const y = model.apply(x);
  const yJs = withJsKernels(() => model.apply(x));
  const [a, b] = [Array.from(y.dataSync()), Array.from(yJs.dataSync())];
  assert.ok(Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) < 1e-5, 'native vs JS');
  tf.dispose([x, y, yJs]);
  model.dispose();
});

test('swin: relativePositionIndex equals torchvision\'s relative_position_index buffers; masks block pairs the roll brought together', () => {
  for (const [name, w] of [['shift', 2], ['pad', 3]] as const) {
    const sd = readSafetensors(join(DIR, `${name}.safetensors`));
    assert.equal(sd['features.1.0.attn.relative_position_index']!.dtype, 'I64');
    assert.deepEqual(Array.from(relativePositionIndex(w)), Array.from(sd['features.1.0.attn.relative_position_index']!.data));
  }
  assert.deepEqual(Array.from(relativePositionIndex(7).slice(0, 3)), [84, 83, 82]); // (0,0)-(0,0): (6)*13 + 6; then dw = -1, -2
  // 4x4 map, window 2, shift 1: region labels rows/cols (0:-2, -2:-1, -1:) -> the last window mixes 4 regions, the first none.
  const m = shiftedWindowMask(4, 4, 2, 1, 1);
  const win = (k: number): number[] => Array.from(m.slice(k * 16, (k + 1) * 16));
  assert.deepEqual(win(0), new Array(16).fill(0));
  assert.deepEqual(win(3), [0, -100, -100, -100, -100, 0, -100, -100, -100, -100, 0, -100, -100, -100, -100, 0]);
  assert.deepEqual(win(1), [0, -100, 0, -100, -100, 0, -100, 0, 0, -100, 0, -100, -100, 0, -100, 0]); // columns split, rows not
  // A dropped shift along W (torchvision's -0 slices): only rows split.
  assert.deepEqual(Array.from(shiftedWindowMask(4, 2, 2, 1, 0).slice(16, 32)), [0, 0, -100, -100, 0, 0, -100, -100, -100, -100, 0, 0, -100, -100, 0, 0]);
});

test('swin: timm-layout state dict round trip, and the original / pre-0.9 timm layout (merge at the end of a stage, head.weight)', () => {
  const c = expected.cases['pad']!;
  const a = createModel(c.model, c.overrides, { seed: 1 }), b = createModel(c.model, c.overrides, { seed: 2 });
  const x = nhwc(inputs['pad']!);
  const dir = mkdtempSync(join(tmpdir(), 'swin-weights-'));
  try {
    saveModelWeights(a, join(dir, 'a.safetensors'));
    const sd = readSafetensors(join(dir, 'a.safetensors'));
    assert.deepEqual(sd['layers.0.blocks.0.attn.relative_position_bias_table']!.shape, [25, 1]); // kept [(2w-1)^2, heads]
    assert.deepEqual(sd['layers.1.downsample.reduction.weight']!.shape, [8, 16]); // Linear [out, in]
    loadTimmWeights(b, sd);
    const [ya, yb] = [a.apply(x), b.apply(x)];
    assert.deepEqual(Array.from(yb.dataSync()), Array.from(ya.dataSync()));
    tf.dispose([ya, yb]);
    // Microsoft's checkpoints (and timm < 0.9): layers.{s}.downsample belongs to the end of stage s, head is a plain Linear,
    // and relative_position_index / attn_mask buffers are stored.
    const old: Record<string, StoredTensor> = {};
    for (const [k, t] of Object.entries(sd)) {
      old[k.replace(/^layers\.(\d+)\.downsample/, (_, s: string) => `layers.${Number(s) - 1}.downsample`).replace('head.fc.', 'head.')] = t;
    }
    old['layers.0.blocks.1.attn_mask'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    old['layers.0.blocks.0.attn.relative_position_index'] = { dtype: 'I64', shape: [81], data: new Float32Array(81) };
    assert.deepEqual(Object.keys(swinStateDictToTimm(old)).sort(), Object.keys(sd).sort());
    const fresh = createModel(c.model, c.overrides, { init: 'zeros' });
    loadTimmWeights(fresh, old);
    const ts = timmStateDict(fresh);
    for (const [k, t] of Object.entries(sd)) assert.deepEqual(Array.from(ts[k]!.data), Array.from(t.data), k);
    fresh.dispose();
    // Other families' state dicts pass unchanged; a wrong table shape is a one-line error in PyTorch layout.
    const resnetLike = { 'fc.weight': sd['head.fc.weight']! };
    assert.equal(swinStateDictToTimm(resnetLike), resnetLike);
    const bad = { ...sd, 'layers.0.blocks.0.attn.relative_position_bias_table': { ...sd['layers.0.blocks.0.attn.relative_position_bias_table']!, shape: [1, 25] } };
    assert.throws(() => loadTimmWeights(b, bad, 'tiny swin'),
      (e: unknown) => e instanceof UserError && /'layers\.0\.blocks\.0\.attn\.relative_position_bias_table' has shape \[1,25\], expected \[25,1\] for tiny swin$/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    x.dispose();
    a.dispose();
    b.dispose();
  }
});

test('swin: config validation is one-line UserErrors', () => {
  const oneLine = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  assert.throws(() => modelInfo('swin_tiny_patch4_window7_224', { numHeads: [3, 6, 12] }), oneLine(/^swin config: numHeads: depths and numHeads must have one entry per stage$/));
  assert.throws(() => modelInfo('swin_tiny_patch4_window7_224', { numHeads: [5, 6, 12, 24] }), oneLine(/^swin config: numHeads: each stage's width/));
  assert.throws(() => modelInfo('swin_tiny_patch4_window7_224', { imgSize: 32 }), oneLine(/^swin config: unknown key\(s\) imgSize$/));
});

test('params CLI: Swin-T by --model, the blocks of a stage grouped, the printed Table 2 value (29M) as reference', async () => {
  const { command } = await import('../lib/cli/params.ts');
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await command.run(['--model', 'swin_tiny_patch4_window7_224', '--json']), 0);
  } finally {
    console.log = log;
  }
  const j = JSON.parse(lines.join('\n')) as { total: number; family: string; layers: Array<{ module: string; params: number; repeat: number }>; paper: Array<{ where: string; printed: string }> };
  assert.deepEqual([j.total, j.family], [28_288_354, 'swin']);
  assert.equal(j.layers.reduce((s, l) => s + l.params * l.repeat, 0), j.total);
  const qkv = j.layers.find((l) => l.module === 'layers.2.blocks.{i}.attn.qkv')!;
  assert.deepEqual([qkv.params, qkv.repeat], [384 * 1152 + 1152, 6]);
  assert.deepEqual(j.paper, [{ where: 'Table 2 Swin-T p4', printed: '29M' }]);
});
