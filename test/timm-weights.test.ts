// timm-layout weights for the comparison models (lib/models/timmWeights.ts): tiny ResNet / DeiT / Mixer / ResMLP state dicts
// in timm's key names and PyTorch layouts, with logits computed independently by scripts/timm_layout_reference.py (numpy,
// PyTorch conventions: NCHW, symmetric padding, BatchNorm eval, LayerNorm eps 1e-6, erf GELU, timm's attention head split).
// Loading them and running our tfjs forward must give the same logits: this checks the key mapping, every layout
// permutation and the forward definitions (padding, pooling, norms, token mixing) at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../lib/errors.ts';
import { countParams, createModel } from '../lib/models/registry.ts';
import { readSafetensors, writeSafetensors } from '../lib/models/safetensors.ts';
import { loadModelWeights, loadTimmWeights, saveModelWeights, timmStateDict } from '../lib/models/timmWeights.ts';
import { fileURLToPath } from 'node:url';

await tf.setBackend('cpu');

const DIR = fileURLToPath(new URL('./fixtures/timm-tiny/', import.meta.url));
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  cases: Record<string, { model: string; overrides: Record<string, unknown>; logits_shape: number[]; logits: number[] }>;
};
const inputs = readSafetensors(join(DIR, 'inputs.safetensors'));

for (const [name, c] of Object.entries(expected.cases)) {
  test(`timm weights: ${name} (${c.model} family) loaded from a timm-layout safetensors gives the numpy reference logits`, () => {
    const model = createModel(c.model, c.overrides, { seed: 99 });
    try {
      loadModelWeights(model, join(DIR, `${name}.safetensors`));
      const input = inputs[name]!;
      const x = tf.tidy(() => tf.transpose(tf.tensor4d(input.data, input.shape as [number, number, number, number]), [0, 2, 3, 1])); // NCHW -> NHWC
      const y = model.apply(x);
      assert.deepEqual(y.shape, c.logits_shape);
      const got = y.dataSync();
      c.logits.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-4 * Math.max(1, Math.abs(v)), `${name} logit ${i}: ${got[i]} vs reference ${v}`));
      tf.dispose([x, y]);
    } finally {
      model.dispose();
    }
  });
}

test('timm weights: the ResNet fixture has no downsample in layer1 (channels unchanged) and int64 num_batches_tracked counters', () => {
  const sd = readSafetensors(join(DIR, 'resnet.safetensors'));
  assert.ok(!('layer1.0.downsample.0.weight' in sd) && 'layer2.0.downsample.0.weight' in sd);
  assert.equal(sd['bn1.num_batches_tracked']!.dtype, 'I64');
  assert.equal(sd['bn1.num_batches_tracked']!.data[0], 7);
});

test('timm weights: state dict round trip in PyTorch layouts, for every family', () => {
  const dir = mkdtempSync(join(tmpdir(), 'timm-weights-'));
  try {
    for (const [name, c] of Object.entries(expected.cases)) {
      const a = createModel(c.model, c.overrides, { seed: 1 }), b = createModel(c.model, c.overrides, { seed: 2 });
      const path = join(dir, `${name}.safetensors`);
      saveModelWeights(a, path);
      const sd = readSafetensors(path);
      if (name === 'resnet') assert.deepEqual(sd['conv1.weight']!.shape, [4, 3, 7, 7]); // OIHW
      if (name === 'deit') assert.deepEqual(sd['blocks.0.attn.qkv.weight']!.shape, [36, 12]); // Linear [out, in]
      loadModelWeights(b, path);
      for (const [k, v] of Object.entries({ ...a.params, ...a.buffers })) {
        assert.deepEqual(Array.from(({ ...b.params, ...b.buffers })[k]!.dataSync()), Array.from(v.dataSync()), `${name} ${k}`);
      }
      assert.equal(Object.keys(timmStateDict(b)).length, Object.keys(a.params).length + Object.keys(a.buffers).length);
      a.dispose();
      b.dispose();
    }
    // ConvMixers go through weights.ts.
    const cm = createModel('convmixer_64_4_k5_p2', {}, { seed: 3 }), cm2 = createModel('convmixer_64_4_k5_p2', {}, { seed: 4 });
    saveModelWeights(cm, join(dir, 'cm.safetensors'));
    loadModelWeights(cm2, join(dir, 'cm.safetensors'));
    assert.deepEqual(Array.from(cm2.params['blocks.0.0.fn.0.weight']!.dataSync()), Array.from(cm.params['blocks.0.0.fn.0.weight']!.dataSync()));
    assert.equal(countParams(cm2), countParams(cm));
    cm.dispose();
    cm2.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timm weights: missing, unexpected and misshaped keys are one-line errors and leave the model untouched', () => {
  const c = expected.cases['deit']!;
  const model = createModel(c.model, c.overrides, { seed: 5 });
  const sd = readSafetensors(join(DIR, 'deit.safetensors'));
  const before = Array.from(model.params['head.bias']!.dataSync());
  const oneLine = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  const { pos_embed: _drop, ...missing } = sd;
  assert.throws(() => loadTimmWeights(model, missing, 'tiny deit'), oneLine(/^checkpoint: missing key 'pos_embed' for tiny deit$/));
  assert.throws(() => loadTimmWeights(model, { ...sd, dist_token: sd['cls_token']! }, 'tiny deit'), oneLine(/unexpected key 'dist_token'/));
  const bad = { ...sd, 'head.weight': { ...sd['head.weight']!, shape: [12, 5] } };
  assert.throws(() => loadTimmWeights(model, bad, 'tiny deit'), oneLine(/'head\.weight' has shape \[12,5\], expected \[5,12\]/));
  assert.deepEqual(Array.from(model.params['head.bias']!.dataSync()), before);
  model.dispose();
});

test('timm weights: original facebookresearch ResMLP keys (patch_embed., attn., mlp., gamma_, alpha [D]) map as timm maps them', () => {
  const c = expected.cases['resmlp']!;
  const sd = readSafetensors(join(DIR, 'resmlp.safetensors'));
  const fb: typeof sd = {};
  for (const [k, t] of Object.entries(sd)) {
    const key = k.replace('stem.', 'patch_embed.').replace('linear_tokens.', 'attn.').replace('mlp_channels.', 'mlp.').replace(/\.ls([12])$/, '.gamma_$1');
    fb[key] = key.endsWith('alpha') || key.endsWith('beta') ? { ...t, shape: [t.shape[2]!] } : t;
  }
  const dir = mkdtempSync(join(tmpdir(), 'timm-fb-'));
  try {
    writeSafetensors(join(dir, 'fb.safetensors'), fb);
    const a = createModel(c.model, c.overrides), b = createModel(c.model, c.overrides);
    loadTimmWeights(a, sd);
    loadTimmWeights(b, join(dir, 'fb.safetensors'));
    for (const [k, v] of Object.entries(a.params)) assert.deepEqual(Array.from(b.params[k]!.dataSync()), Array.from(v.dataSync()), k);
    a.dispose();
    b.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('predict CLI: comparison models take timm weights and their default cfg (224 / crop_pct); mismatched weights are one-line errors', async () => {
  const { command, preprocessFor } = await import('../lib/cli/predict.ts');
  const { modelInfo } = await import('../lib/models/registry.ts');
  const pre = preprocessFor(modelInfo('resnet50').defaultCfg);
  assert.deepEqual([pre.size, pre.resizeTo], [224, Math.floor(224 / 0.95)]);
  assert.deepEqual([...preprocessFor(modelInfo('vit_base_patch16_224').defaultCfg).mean], [0.5, 0.5, 0.5]);
  await assert.rejects(command.run(['--model', 'resnet50', '--dim', '8', '--weights', 'x.safetensors', 'img.png']), /--dim applies to ConvMixer models only/);
  // The tiny fixture is not a full ResNet-50: the first mismatched shape is reported, in PyTorch layout.
  await assert.rejects(command.run(['--model', 'resnet50', '--classes', '5', '--weights', join(DIR, 'resnet.safetensors'), 'img.png']),
    (e: unknown) => e instanceof UserError && /resnet\.safetensors: 'conv1\.weight' has shape \[4,3,7,7\], expected \[64,3,7,7\] for resnet50$/.test(e.message));
});
