// Resumable training on a tiny model (dim 8, depth 1, k3, p2) and tiny synthetic 8x8 data, with every augmentation on:
// 2 epochs straight must equal 1 epoch + interrupt + resume 1 epoch, bit for bit (weights and metrics).
// Also: a changed recipe is refused naming the key, a damaged checkpoint gives a clear error, and a NaN stops
// training with the step and the parameter.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../lib/rng.ts';
import { createModel, resolveConfig, type ConvMixerModel } from '../lib/models/convmixer.ts';
import { loadWeights } from '../lib/models/weights.ts';
import { readSafetensors, writeSafetensors } from '../lib/models/safetensors.ts';
import type { ImageDataset } from '../lib/data/cifar10.ts';
import { buildRecipe, type TrainConfig } from '../lib/train/config.ts';
import { trainRun, TrainingDivergedError } from '../lib/train/loop.ts';
import { UserError } from '../lib/errors.ts';
import { manifestSha256, runCheckpointDir, saveCheckpoint } from '../lib/train/checkpoint.ts';

await tf.setBackend('cpu');

const CLASSES = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'];

/** n images of 8x8: class c is a noisy colour gradient whose direction and tint depend on c, so a model can learn it. */
function synthetic(n: number, seed: number, name: string): ImageDataset {
  const rng = createRng(seed);
  const images = new Uint8Array(n * 8 * 8 * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) for (let ch = 0; ch < 3; ch++) {
      const base = ((c + ch) % 3) * 60 + (c < 5 ? x : y) * 12 + rng.int(40);
      images[((i * 8 + y) * 8 + x) * 3 + ch] = Math.min(255, base);
    }
  }
  return { name, images, labels, n, height: 8, width: 8, classes: CLASSES };
}

const data = { train: synthetic(40, 1, 'synthetic-train'), test: synthetic(20, 2, 'synthetic-test') };

function tinyConfig(runId: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  // Smoke profile's augmentations (random-resized crop, flip, RandAugment, jitter, mixup/CutMix, smoothing, erasing) stay on,
  // so the resumed run must restore the augmentation rng state too.
  const recipe = buildRecipe('smoke', {
    model: resolveConfig({ dim: 8, depth: 1, kernelSize: 3, patchSize: 2, numClasses: 10 }), modelName: null,
    epochs: 2, batchSize: 16, evalBatchSize: 20, trainSubset: 0, testSubset: 0, lrMax: 0.01, experiment: 'test-resume',
  });
  return { ...recipe, ...extra, run: { runId, resume: false, backend: 'cpu', explicit: [], checkpoint: true, ...(extra.run ?? {}) } };
}

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

function dirs(): { resultsDir: string; checkpointRoot: string } {
  const root = mkdtempSync(join(tmpdir(), 'convmixer-train-'));
  made.push(root);
  return { resultsDir: join(root, 'results'), checkpointRoot: join(root, 'checkpoints') };
}

const weights = (m: { params: Record<string, tf.Variable>; buffers: Record<string, tf.Variable> }): Record<string, number[]> =>
  Object.fromEntries([...Object.entries(m.params), ...Object.entries(m.buffers)].map(([k, v]) => [k, Array.from(v.dataSync())]));
const stripTimes = (epochs: Record<string, unknown>[]): Record<string, unknown>[] => epochs.map(({ seconds: _s, imgPerSec: _i, ...rest }) => rest);

test('resume: 2 epochs straight == 1 epoch, interrupt, resume 1 epoch (weights, buffers and metrics identical)', async () => {
  const d1 = dirs();
  const straight = await trainRun(tinyConfig('straight'), { ...d1, data });
  assert.equal(straight.record.status, 'finished');
  assert.equal(straight.epochs.length, 2);
  assert.ok(straight.epochs.every((e) => Number.isFinite(e.trainLoss) && e.testAcc !== null));

  const d2 = dirs();
  const abort = new AbortController();
  await assert.rejects(
    trainRun(tinyConfig('split'), { ...d2, data, signal: abort.signal, onEpoch: (e) => { if (e.epoch === 1) abort.abort(); } }),
    (err: Error) => err instanceof UserError && /interrupted in epoch 2 at step 3; continue with --resume --run-id split/.test(err.message),
  );
  const partial = JSON.parse(readFileSync(join(d2.resultsDir, 'split.json'), 'utf8'));
  assert.equal(partial.status, 'failed');
  assert.equal(partial.epochs.length, 1);

  const resumed = await trainRun(tinyConfig('split', { run: { runId: 'split', resume: true, backend: 'cpu', explicit: [], checkpoint: true } }), { ...d2, data });
  assert.equal(resumed.record.status, 'finished');
  assert.deepEqual(weights(resumed.model), weights(straight.model));
  assert.deepEqual(stripTimes(resumed.epochs), stripTimes(straight.epochs));
  assert.equal(resumed.record.metrics['testAcc'], straight.record.metrics['testAcc']);
  assert.equal(resumed.record.metrics['steps'], 6);
  assert.match(resumed.record.notes ?? '', /resumed at epoch 1 \(step 3\)/);
  // Only the newest checkpoint folder is kept, beside the final weights in PyTorch layout.
  assert.deepEqual(readdirSync(join(d2.checkpointRoot, 'split')).sort(), ['LATEST', 'epoch-0002', 'final.weights.safetensors']);
  // The final weights load into a fresh model and reproduce the trained one exactly.
  assert.match(String(resumed.record.metrics['weightsFile']), /split\/final\.weights\.safetensors$/);
  const reloaded = createModel((resumed.model as ConvMixerModel).config, {}, { seed: 99 });
  loadWeights(reloaded, join(d2.checkpointRoot, 'split', 'final.weights.safetensors'));
  assert.deepEqual(weights(reloaded), weights(resumed.model));
  reloaded.dispose();

  // `--resume --run-id` alone: the requested recipe (here a different lr) is replaced by the checkpoint's own.
  const d3 = dirs();
  const abort3 = new AbortController();
  await assert.rejects(trainRun(tinyConfig('adopt'), { ...d3, data, signal: abort3.signal, onEpoch: () => abort3.abort() }));
  const adopted = await trainRun(tinyConfig('adopt', { lrMax: 0.5, run: { runId: 'adopt', resume: true, useSavedRecipe: true, backend: 'cpu', explicit: [], checkpoint: true } }), { ...d3, data });
  assert.deepEqual(weights(adopted.model), weights(straight.model));
  assert.equal(adopted.record.config['lrMax'], 0.01);
  adopted.model.dispose();

  // Starting a run whose id already has a checkpoint, without --resume, is refused.
  await assert.rejects(trainRun(tinyConfig('split'), { ...d2, data }), /already has a checkpoint .*add --resume/);
  straight.model.dispose();
  resumed.model.dispose();
});

// The trainer was split into one loop + tasks (lib/train/task.ts, tasks/classification.ts): classification must give the
// same numbers as before the split. These values were printed by the loop of commit 5e228b6 (before the split) for
// exactly this run on tfjs's JS kernels (deterministic across machines, unlike the native ISA-specific kernels).
test('trainer split: a fixed-seed 2-epoch run gives bit for bit the metrics and weights of the loop before the split', async () => {
  const run = await trainRun(tinyConfig('golden', { run: { runId: 'golden', resume: false, backend: 'cpu', explicit: [], checkpoint: false } }), { data, ...dirs() });
  const h = createHash('sha256');
  const m = run.model as ConvMixerModel;
  for (const k of Object.keys(m.params).sort()) h.update(Buffer.from((m.params[k]!.dataSync() as Float32Array).buffer));
  for (const k of Object.keys(m.buffers).sort()) h.update(Buffer.from((m.buffers[k]!.dataSync() as Float32Array).buffer));
  m.dispose();
  assert.deepEqual(run.epochs.map(({ seconds: _s, imgPerSec: _i, ...e }) => e), [
    { epoch: 1, lr: 0.0005, trainLoss: 2.3519750118255613, testLoss: 2.3070501327514648, testAcc: 0.2, gradNorm: 0.9369505706068461 },
    { epoch: 2, lr: 0, trainLoss: 2.283658981323242, testLoss: 2.301803779602051, testAcc: 0.2, gradNorm: 0.8966965671164596 },
  ]);
  assert.equal(h.digest('hex'), 'a6010e33fe77fe74601989caf7f7954efd4475161ee9da00d6e7310b4c3a2a62');
  assert.equal(run.record.metrics['testAcc'], 0.2);
  assert.equal(run.record.metrics['bestTestAcc'], 0.2);
  assert.equal(run.record.metrics['bestEpoch'], 1);
});

test('resume: a changed recipe is refused with one line naming the key and flag', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('cfg'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  const changed = tinyConfig('cfg', { lrMax: 0.02, run: { runId: 'cfg', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  await assert.rejects(trainRun(changed, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, `--resume: 'lrMax' (--lr-max) differs from the checkpoint: saved 0.01, now 0.02`);
    return true;
  });
  const noCkpt = tinyConfig('nothing-here', { run: { runId: 'nothing-here', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  await assert.rejects(trainRun(noCkpt, { ...d, data }), /--resume: run 'nothing-here' has no checkpoint/);
});

test('checkpoint: a truncated tensor file or broken manifest gives a clear one-line error', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('bad'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  const ckpt = join(d.checkpointRoot, 'bad', 'epoch-0001');
  const resume = tinyConfig('bad', { run: { runId: 'bad', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  const tensors = readFileSync(join(ckpt, 'state.safetensors'));
  writeFileSync(join(ckpt, 'state.safetensors'), tensors.subarray(0, tensors.length - 100));
  await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^checkpoint .*epoch-0001 is damaged: state\.safetensors does not match the sha256 in state\.json/);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
  writeFileSync(join(ckpt, 'state.safetensors'), tensors);
  const recordPath = join(d.resultsDir, 'bad.json');
  writeFileSync(recordPath, readFileSync(recordPath, 'utf8').slice(0, 50));
  await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^--resume: run record .*bad\.json is unreadable \(not JSON\); fix or delete it$/);
    return true;
  });
  writeFileSync(recordPath, 'null'); // JSON, but not a run record
  await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, /^--resume: run record .*bad\.json is unreadable \(record: expected object, received null\); fix or delete it$/);
    return true;
  });
  const manifest = readFileSync(join(ckpt, 'state.json'), 'utf8');
  writeFileSync(join(ckpt, 'state.json'), manifest.slice(0, 50));
  await assert.rejects(trainRun(resume, { ...d, data }), /is damaged: state\.json unreadable \(not JSON\)/);
  rmSync(join(ckpt, 'state.json'));
  await assert.rejects(trainRun(resume, { ...d, data }), /is damaged: state\.json unreadable \(ENOENT\)/);
});

test('resume with the saved recipe: an invalid recipe in state.json is a one-line error naming the checkpoint and the key', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('recipe'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  const ckpt = join(d.checkpointRoot, 'recipe', 'epoch-0001');
  const manifest = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8'));
  manifest.recipe.augment.randAugment.m = 25; // outside timm's 0-10 scale: a flag with this value is refused too
  manifest.stateSha256 = manifestSha256(manifest); // re-signed: a well-formed checkpoint with a recipe that fails the schema
  writeFileSync(join(ckpt, 'state.json'), JSON.stringify(manifest));
  const resume = tinyConfig('recipe', { run: { runId: 'recipe', resume: true, useSavedRecipe: true, backend: 'cpu', explicit: [], checkpoint: true } });
  await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^checkpoint .*epoch-0001: saved recipe is invalid at 'augment\.randAugment\.m' \(Number must be less than or equal to 10\); start a new run instead of --resume$/);
    return true;
  });
});

test('NaN guard: a NaN injected into a parameter stops training, naming the step and the parameter', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('nan'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  // Poison one weight of the pointwise conv in the saved checkpoint (and re-sign it so it loads).
  const ckpt = join(d.checkpointRoot, 'nan', 'epoch-0001');
  const stored = readSafetensors(join(ckpt, 'state.safetensors'));
  stored['param.blocks.0.1.weight']!.data[5] = NaN;
  writeSafetensors(join(ckpt, 'state.safetensors'), stored);
  const manifest = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8'));
  manifest.tensorsSha256 = createHash('sha256').update(readFileSync(join(ckpt, 'state.safetensors'))).digest('hex');
  manifest.stateSha256 = manifestSha256(manifest);
  writeFileSync(join(ckpt, 'state.json'), JSON.stringify(manifest));
  const resume = tinyConfig('nan', { run: { runId: 'nan', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof TrainingDivergedError);
    assert.match(err.message, /^training diverged at step 4 \(epoch 2\): non-finite values in 'blocks\.0\.1\.weight'/);
    return true;
  });
  const rec = JSON.parse(readFileSync(join(d.resultsDir, 'nan.json'), 'utf8'));
  assert.equal(rec.status, 'failed');
  assert.match(rec.notes, /non-finite values in 'blocks\.0\.1\.weight'/);
});

test('NaN guard: a huge learning rate overflows and is caught at the first bad step', async () => {
  const d = dirs();
  // lr 1e30 with eps 1e-8: the first AdamW step moves weights by ~1e30, the next forward pass overflows to Inf/NaN.
  const cfg = tinyConfig('huge', { lrMax: 1e30 } as Partial<TrainConfig>);
  await assert.rejects(trainRun({ ...cfg, clipNorm: 0 }, { ...d, data }), (err: Error) => {
    assert.ok(err instanceof TrainingDivergedError, String(err));
    assert.match(err.message, /^training diverged at step \d+ \(epoch 1\): non-finite (values in|gradient of) '[a-z0-9_.]+'/);
    return true;
  });
});

test('run ids: trainRun (which the experiment runner calls directly) refuses ids that are not one safe folder name', async () => {
  const d = dirs();
  mkdirSync(join(d.checkpointRoot, 'epoch-0001'), { recursive: true }); // another run that happens to be named like an epoch folder
  for (const id of ['.', '..', '...', 'a/b', '../up', '.hidden', 'x'.repeat(101)]) {
    await assert.rejects(trainRun(tinyConfig(id), { ...d, data }), (err: Error) => err instanceof UserError && err.message.startsWith('--run-id: '));
    assert.throws(() => runCheckpointDir(id, d.checkpointRoot), UserError);
  }
  assert.deepEqual(readdirSync(d.checkpointRoot), ['epoch-0001']);
  assert.equal(existsSync(d.resultsDir), false);
  assert.equal(existsSync(join(d.checkpointRoot, '..', 'LATEST')), false);
});

test('tensors: an interrupted run, a resume, a refused resume and a diverged run leave tf.memory().numTensors as it was', async () => {
  const d = dirs();
  const count = (): number => tf.memory().numTensors;
  let before = count();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('leak'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }), /interrupted/);
  assert.equal(count(), before, 'interrupted run');

  before = count();
  const changed = tinyConfig('leak', { lrMax: 0.02, run: { runId: 'leak', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  await assert.rejects(trainRun(changed, { ...d, data }), /differs from the checkpoint/);
  assert.equal(count(), before, 'refused resume');

  before = count();
  const resumed = await trainRun(tinyConfig('leak', { run: { runId: 'leak', resume: true, backend: 'cpu', explicit: [], checkpoint: true } }), { ...d, data });
  resumed.model.dispose();
  assert.equal(count(), before, 'resumed run (checkpoint tensors restored into the model and optimizer)');

  before = count();
  const huge = tinyConfig('leak-huge', { lrMax: 1e30 } as Partial<TrainConfig>);
  await assert.rejects(trainRun({ ...huge, clipNorm: 0 }, { ...d, data }), TrainingDivergedError);
  assert.equal(count(), before, 'diverged run');
});

test('an unexpected error during training leaves the record failed (not running), with the error, and no tensors behind', async () => {
  const d = dirs();
  const before = tf.memory().numTensors;
  await assert.rejects(trainRun(tinyConfig('boom'), { ...d, data, onEpoch: () => { throw new Error('disk on fire\nsecond line'); } }), /disk on fire/);
  assert.equal(tf.memory().numTensors, before);
  const rec = JSON.parse(readFileSync(join(d.resultsDir, 'boom.json'), 'utf8'));
  assert.equal(rec.status, 'failed');
  assert.equal(rec.metrics.failure, 'error');
  assert.match(rec.notes, /^stopped by an error: disk on fire$/);
});

test('an error inside evaluation (a failing kernel mid-batch) leaves no tensors behind and the record failed', async () => {
  const d = dirs();
  // ArgMax runs only in evaluation (accuracy), after the batch and its logits exist: make it throw once, then restore it.
  const original = tf.getKernel('ArgMax', tf.getBackend());
  assert.ok(original, `no ArgMax kernel on ${tf.getBackend()}`);
  tf.unregisterKernel('ArgMax', original.backendName);
  tf.registerKernel({ ...original, kernelFunc: () => { throw new Error('ArgMax failed on purpose'); } });
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const before = tf.memory().numTensors;
  try {
    await assert.rejects(trainRun(tinyConfig('eval-boom'), { ...d, data }), (err: Error) => {
      assert.match(err.message, /ArgMax failed on purpose/);
      assert.match(err.stack ?? '', /\bevaluate\b/, 'thrown from the evaluation');
      return true;
    });
  } finally {
    Error.stackTraceLimit = stackLimit;
    tf.unregisterKernel('ArgMax', original.backendName);
    tf.registerKernel(original);
  }
  assert.equal(tf.memory().numTensors, before);
  const rec = JSON.parse(readFileSync(join(d.resultsDir, 'eval-boom.json'), 'utf8'));
  assert.deepEqual([rec.status, rec.metrics.failure], ['failed', 'error']);
  assert.match(rec.notes, /^stopped by an error: ArgMax failed on purpose$/);
});

test('a results folder that stops being writable mid-run is a one-line error naming --results-dir', async () => {
  const d = dirs();
  const before = tf.memory().numTensors;
  const breakIt = (): void => { rmSync(d.resultsDir, { recursive: true }); writeFileSync(d.resultsDir, 'a file now\n'); };
  await assert.rejects(trainRun(tinyConfig('edge'), { ...d, data, onEpoch: (e) => { if (e.epoch === 1) breakIt(); } }), (err: Error) => {
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, /^--results-dir .*results: cannot write \((EEXIST|ENOTDIR): [a-z ]+\)$/);
    return true;
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(existsSync(join(d.checkpointRoot, 'edge.lock')), false);
});

test('checkpoint: state.json is signed too (an edited epoch, step or rng state is refused)', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('signed'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  const statePath = join(d.checkpointRoot, 'signed', 'epoch-0001', 'state.json');
  const original = readFileSync(statePath, 'utf8');
  const resume = tinyConfig('signed', { run: { runId: 'signed', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  const edits: [string, (m: Record<string, unknown>) => void][] = [
    ['epoch', (m) => { m['epoch'] = 0; }],
    ['step', (m) => { m['step'] = 1; }],
    ['rng state', (m) => { (m['rngState'] as number[])[0] = 12345; }],
    ['recipe', (m) => { (m['recipe'] as Record<string, unknown>)['lrMax'] = 0.5; }],
  ];
  for (const [what, edit] of edits) {
    const m = JSON.parse(original);
    edit(m);
    writeFileSync(statePath, JSON.stringify(m, null, 2));
    await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
      assert.ok(err instanceof UserError, `${what}: ${err}`);
      assert.match(err.message, /^checkpoint .*epoch-0001 is damaged: state\.json does not match its stateSha256 \(edited or damaged\); delete .* to start over$/, what);
      return true;
    });
  }
  // A signed manifest with a field of the wrong type names the field.
  const wrong = JSON.parse(original);
  wrong.rngState = [1, 2, 3];
  wrong.stateSha256 = manifestSha256(wrong);
  writeFileSync(statePath, JSON.stringify(wrong));
  await assert.rejects(trainRun(resume, { ...d, data }), /is damaged: state\.json field 'rngState' is missing or has the wrong type/);
  // The untouched signed state.json resumes, and the next checkpoint is signed too.
  writeFileSync(statePath, original);
  const resumed = await trainRun(resume, { ...d, data });
  assert.equal(resumed.record.status, 'finished');
  resumed.model.dispose();
  const v2 = JSON.parse(readFileSync(join(d.checkpointRoot, 'signed', 'epoch-0002', 'state.json'), 'utf8'));
  assert.equal(v2.version, 2);
  assert.equal(v2.stateSha256, manifestSha256(v2));
});

test('saveCheckpoint writes and cleans only the run\'s own folder: the checkpoint root, its parent, another run\'s folder or an unsafe id are refused and no sibling epoch-* folder is deleted', () => {
  const top = mkdtempSync(join(tmpdir(), 'convmixer-ckpt-guard-'));
  made.push(top);
  const root = join(top, 'checkpoints');
  // Old epochs of two runs, and epoch-* folders directly under the root and its parent: none of them may go.
  const planted = [join(root, 'a', 'epoch-0001'), join(root, 'b', 'epoch-0001'), join(root, 'b', 'epoch-0002'), join(root, 'epoch-0001'), join(root, 'epoch-0007'), join(top, 'epoch-0003')];
  for (const dir of planted) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'state.json'), '{}\n');
  }
  const listing = (): string[] => {
    const out: string[] = [];
    const walk = (d: string): void => { for (const e of readdirSync(d, { withFileTypes: true })) { out.push(join(d, e.name)); if (e.isDirectory()) walk(join(d, e.name)); } };
    walk(top);
    return out.sort();
  };
  const before = listing();
  const manifest = (runId: string) => ({ runId, recipe: {}, epoch: 2, step: 4, rngState: [1, 2, 3, 4], epochs: [{}, {}], trainSeconds: 1 });
  const tensors = { 'param.w': { shape: [2], data: new Float32Array([1, 2]) } };
  const cases: [string, string, string][] = [
    ['the checkpoint root', root, 'a'],
    ['the parent of the root', top, 'a'],
    ['another run\'s folder', join(root, 'b'), 'a'],
    ['an unsafe id whose folder name matches it (root/..)', `${root}/..`, '..'],
  ];
  for (const [what, dir, runId] of cases) {
    assert.throws(() => saveCheckpoint(dir, manifest(runId), tensors), (err: Error) => {
      assert.match(err.message, /^saveCheckpoint: .* is not the folder of run '.*'$/, what);
      return true;
    }, what);
    assert.deepEqual(listing(), before, `${what}: nothing written or deleted`);
  }
  // The run's own folder: its old epoch goes, the other run's and the root's epoch folders stay.
  const own = saveCheckpoint(runCheckpointDir('a', root), manifest('a'), tensors);
  assert.equal(own, join(root, 'a', 'epoch-0002'));
  assert.deepEqual(readdirSync(join(root, 'a')).sort(), ['LATEST', 'epoch-0002']);
  for (const dir of planted.filter((d) => !d.startsWith(join(root, 'a')))) assert.ok(existsSync(join(dir, 'state.json')), dir);
});

test('checkpoint: an unsigned checkpoint (version 1, no stateSha256) is refused in one line, so editing the version and deleting the signature is no bypass', async () => {
  const d = dirs();
  const abort = new AbortController();
  await assert.rejects(trainRun(tinyConfig('unsigned'), { ...d, data, signal: abort.signal, onEpoch: () => abort.abort() }));
  const runDir = join(d.checkpointRoot, 'unsigned');
  const statePath = join(runDir, 'epoch-0001', 'state.json');
  const original = JSON.parse(readFileSync(statePath, 'utf8'));
  const resume = tinyConfig('unsigned', { run: { runId: 'unsigned', resume: true, backend: 'cpu', explicit: [], checkpoint: true } });
  const forged: [string, (m: Record<string, unknown>) => void][] = [
    ['version 1, signature deleted, epoch edited', (m) => { m['version'] = 1; delete m['stateSha256']; m['epoch'] = 0; m['epochs'] = []; }],
    ['version 1, signature deleted, nothing else edited', (m) => { m['version'] = 1; delete m['stateSha256']; }],
  ];
  for (const [what, edit] of forged) {
    const m = structuredClone(original);
    edit(m);
    writeFileSync(statePath, JSON.stringify(m, null, 2));
    await assert.rejects(trainRun(resume, { ...d, data }), (err: Error) => {
      assert.ok(err instanceof UserError, `${what}: ${err}`);
      assert.ok(!err.message.includes('\n'), `${what}: one line`);
      assert.equal(err.message, `checkpoint ${join(runDir, 'epoch-0001')} is from an older version without a signature (state.json has no stateSha256) and is not resumed; start a new run (delete ${runDir} or pick another --run-id)`, what);
      return true;
    });
    assert.deepEqual(readdirSync(runDir).filter((e) => e.startsWith('epoch-')), ['epoch-0001'], `${what}: nothing written`);
  }
  // A version-2 manifest without its signature is damage, as before.
  const stripped = structuredClone(original);
  delete stripped.stateSha256;
  writeFileSync(statePath, JSON.stringify(stripped));
  await assert.rejects(trainRun(resume, { ...d, data }), /is damaged: state\.json does not match its stateSha256/);
});
