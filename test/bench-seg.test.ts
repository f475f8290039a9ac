// `convmixer bench train --model unet_camvid|convmixer_unet_camvid`: the segmentation rows of the benchmark (soft Dice
// training step, H x W inputs), run in process on the smoke widths at 16x16 / 16x24 (batch 1, 1 step, no warm-up), and
// with PyTorch when a Python with torch is found: the same architecture's parameter count, the ratio, the loss formula.
// No timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { command, segBenchInput } from '../lib/cli/bench.ts';
import { BENCH_IGNORE_INDEX } from '../lib/bench/engine.ts';
import { benchTorchSegmentation, findTorchPython, TORCH_SCRIPT } from '../lib/bench/torch.ts';
import { IGNORE_INDEX } from '../lib/data/segmentation.ts';
import { SEG_SMOKE_OVERRIDES } from '../lib/experiments/segmentation.ts';
import { modelInfo } from '../lib/models/registry.ts';
import { parseRunRecord, type RunRecord } from '../lib/runRecord.ts';
import { softDiceLoss } from '../lib/train/segLoss.ts';
import { SEG_PROFILE_DEFAULTS } from '../lib/train/segConfig.ts';

const tmp = mkdtempSync(join(tmpdir(), 'bench-seg-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const python = findTorchPython();
const noTorch = python ? false : 'no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)';

/** Runs `convmixer bench ...` in process with --json; returns its JSON object and the record it wrote. */
async function bench(args: string[]): Promise<{ out: Record<string, any>; record: RunRecord }> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    assert.equal(await command.run([...args, '--json', '--results-dir', join(tmp, 'results')]), 0);
  } finally {
    console.log = orig;
  }
  assert.equal(lines.length, 1, lines.join('\n'));
  const out = JSON.parse(lines[0]!);
  const parsed = parseRunRecord(readFileSync(out.record, 'utf8'));
  assert.ok('record' in parsed, JSON.stringify(parsed));
  return { out, record: parsed.record };
}

const TINY = ['--seg-profile', 'smoke', '--batch', '1', '--steps', '1', '--warmup', '0', '--threads', '1', '--backend', 'cpu'];

test('bench seg input: quick profile 96x128 full-size by default; smoke 32x48 narrowed; --height/--width/--image-size/--classes on top', () => {
  const quick = segBenchInput({ model: 'unet_camvid' });
  assert.deepEqual([quick.profile, quick.height, quick.width, quick.overrides], ['quick', SEG_PROFILE_DEFAULTS.quick.height, SEG_PROFILE_DEFAULTS.quick.width, {}]);
  assert.deepEqual([quick.height, quick.width], [96, 128]);
  assert.equal(quick.info.paramCount, modelInfo('unet_camvid').paramCount);
  const smoke = segBenchInput({ model: 'convmixer_unet_camvid', 'seg-profile': 'smoke' });
  assert.deepEqual([smoke.height, smoke.width, smoke.overrides], [32, 48, SEG_SMOKE_OVERRIDES.convmixer_unet]);
  assert.deepEqual([segBenchInput({ model: 'unet_camvid', 'seg-profile': 'paper' }).height, segBenchInput({ model: 'unet_camvid', 'seg-profile': 'paper' }).width], [256, 512]);
  const sized = segBenchInput({ model: 'unet_camvid', height: '64', classes: '5' });
  assert.deepEqual([sized.height, sized.width, sized.overrides], [64, 128, { numClasses: 5 }]);
  assert.deepEqual([segBenchInput({ model: 'unet_camvid', 'image-size': '48' }).height, segBenchInput({ model: 'unet_camvid', 'image-size': '48' }).width], [48, 48]);
  assert.equal(BENCH_IGNORE_INDEX, IGNORE_INDEX);
});

test('bench seg CLI: ConvMixer-only flags, seg flags on other models, both size forms, undivisible ConvMixer-Unet sizes are one-line errors', async () => {
  for (const [args, pattern] of [
    [['--model', 'unet_camvid', '--dim', '8'], /^--dim applies to ConvMixer models only \(unet_camvid is a unet segmentation model\)$/],
    [['--model', 'convmixer_256_8', '--height', '32'], /^--height applies to segmentation models only/],
    [['--dim', '8', '--depth', '1', '--seg-profile', 'smoke'], /^--seg-profile applies to segmentation models only/],
    [['--model', 'unet_camvid', '--image-size', '32', '--width', '32'], /^give --image-size S or --height H --width W, not both$/],
    [['--model', 'convmixer_unet_camvid', '--height', '20', '--width', '28'], /^convmixer_unet_camvid needs --height and --width divisible by 8/],
    [['--model', 'unet_camvid', '--seg-profile', 'tiny'], /^--seg-profile: expected one of smoke, quick, paper, got 'tiny'$/],
    [['--model', 'unet_camvid', '--image-size', '16', '--batch', '1', '--vs', 'torch'], /^--vs torch: PyTorch's BatchNorm needs more than one value per channel in training/],
  ] as [string[], RegExp][]) {
    await assert.rejects(command.run(['train', ...args, '--results-dir', join(tmp, 'refused')]), (err: Error) => {
      assert.equal(err.name, 'UserError', err.stack);
      assert.match(err.message, pattern);
      return true;
    });
  }
});

test('bench train --model unet_camvid / convmixer_unet_camvid (smoke widths, 1 step): record names model, input size, batch, threads, loss; params', async () => {
  await tf.ready();
  for (const [name, family, h, w] of [['unet_camvid', 'unet', 16, 16], ['convmixer_unet_camvid', 'convmixer_unet', 16, 24]] as const) {
    const size = h === w ? ['--image-size', String(h)] : ['--height', String(h), '--width', String(w)];
    const { out, record: r } = await bench(['train', '--model', name, ...TINY, ...size]);
    const info = modelInfo(name, SEG_SMOKE_OVERRIDES[family]);
    assert.equal(r.kind, 'bench');
    assert.equal(r.status, 'finished');
    assert.equal(r.profile, 'smoke');
    assert.match(r.id, new RegExp(`^bench-train-${name}-${h}x${w}-b1-`));
    assert.deepEqual(r.config.model, { name, family, ...(info.config as object) });
    assert.deepEqual([r.config.mode, r.config.batch, r.config.height, r.config.width, r.config.threads, r.config.steps, r.config.warmup],
      ['train', 1, h, w, 1, 1, 0]);
    assert.deepEqual([r.config.loss, r.config.ignoreIndex, r.config.segProfile, r.config.vs], ['dice', 255, 'smoke', null]);
    assert.ok((r.metrics.msPerImg as number) > 0 && r.metrics.imgPerSec === 1000 / (r.metrics.msPerImg as number));
    assert.equal(r.metrics.params, info.paramCount);
    for (const k of ['torchMsPerImg', 'torchParams', 'ratio']) assert.equal(r.metrics[k], null, k);
    assert.deepEqual([out.height, out.width, out.batch, out.threads, out.params, out.ms_per_img], [h, w, 1, 1, info.paramCount, r.metrics.msPerImg]);
    assert.equal(out.model.name, name);
  }
});

test('bench train --model unet_camvid / convmixer_unet_camvid --vs torch: the same parameter count on both sides, ratio = ms/img / PyTorch ms/img', { skip: noTorch }, async () => {
  for (const name of ['unet_camvid', 'convmixer_unet_camvid']) {
    // 32x32: at 16x16 and batch 1 Unet's bottleneck is 1x1, one value per channel, which PyTorch's training-mode BatchNorm refuses.
    const { out, record: r } = await bench(['train', '--model', name, ...TINY, '--image-size', '32', '--vs', 'torch']);
    const params = modelInfo(name, SEG_SMOKE_OVERRIDES[name === 'unet_camvid' ? 'unet' : 'convmixer_unet']).paramCount;
    assert.equal(r.config.vs, 'torch');
    assert.equal(r.metrics.params, params);
    assert.equal(r.metrics.torchParams, params);
    assert.ok((r.metrics.torchMsPerImg as number) > 0);
    assert.equal(r.metrics.ratio, (r.metrics.msPerImg as number) / (r.metrics.torchMsPerImg as number));
    assert.equal(r.metrics.torchThreads, 1);
    assert.deepEqual([out.params, out.torch_params, out.ratio], [params, params, r.metrics.ratio]);
  }
});

test('bench_torch.py: a PyTorch model whose parameter count differs is refused in one line (exit 3, a UserError through benchTorchSegmentation)', { skip: noTorch }, () => {
  // exit 3 with one stderr line, which benchTorchSegmentation turns into the UserError (the CLI prints it as one line).
  const config = { inChannels: 3, numClasses: 3, baseWidth: 2 };
  assert.throws(() => benchTorchSegmentation({ family: 'unet', config, expectParams: 7, mode: 'train', batch: 1, height: 16, width: 16, ignoreIndex: 255,
    steps: 1, warmup: 0, threads: 1, seed: 0 }), (err: Error) => {
    assert.equal(err.name, 'UserError', err.stack);
    assert.equal(err.message, "--vs torch: parameter count mismatch for unet: this engine's registry model has 7, the PyTorch model 30757: not the same architecture");
    return true;
  });
});

test('bench_torch.py soft_dice_loss equals lib/train/segLoss.ts softDiceLoss (ignored pixels, an absent class, smooth 1)', { skip: noTorch }, () => {
  const [n, h, w, k] = [2, 3, 4, 4];
  const logits = Array.from({ length: n * h * w * k }, (_, i) => Math.sin(i * 1.7) * 3);
  // Class 3 never occurs; every fifth pixel is ignored.
  const labels = Array.from({ length: n * h * w }, (_, i) => (i % 5 === 4 ? 255 : i % 3));
  const ours = tf.tidy(() => softDiceLoss(tf.tensor4d(logits, [n, h, w, k]), tf.tensor3d(labels, [n, h, w], 'int32'), k, 255).dataSync()[0]!);
  const script = `import json, sys, torch; sys.path.insert(0, ${JSON.stringify(join(TORCH_SCRIPT, '..'))}); from bench_torch import soft_dice_loss
d = json.load(sys.stdin)
x = torch.tensor(d['logits'], dtype=torch.float64).reshape(${n}, ${h}, ${w}, ${k}).permute(0, 3, 1, 2)
print(soft_dice_loss(x, torch.tensor(d['labels']).reshape(${n}, ${h}, ${w}), ${k}, 255).item())`;
  const r = spawnSync(python!, ['-c', script], { encoding: 'utf8', input: JSON.stringify({ logits, labels }) });
  assert.equal(r.status, 0, r.stderr);
  const theirs = Number(r.stdout.trim());
  assert.ok(ours > 0 && ours < 1, String(ours));
  assert.ok(Math.abs(ours - theirs) < 1e-6, `segLoss.ts ${ours}, bench_torch.py ${theirs}`);
});
