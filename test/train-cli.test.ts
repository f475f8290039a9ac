// `convmixer train` flags -> validated config: profiles set defaults, explicit flags override (and are listed), bad values
// give one-line errors naming the flag; and the progress bar's two modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { trainConfigFromFlags } from '../lib/cli/train.ts';
import { firstRecipeDifference, PROFILE_DEFAULTS, withKeysAddedLater } from '../lib/train/config.ts';
import { createProgressBar, formatDuration, type TrainProgress } from '../lib/train/progress.ts';
import { UserError } from '../lib/errors.ts';
import { fileURLToPath } from 'node:url';

const oneLineError = (fn: () => unknown, pattern: RegExp): void => {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, pattern);
    return true;
  });
};

test('train flags: profile defaults, explicit overrides, model flags keep the profile model', () => {
  const quick = trainConfigFromFlags({});
  assert.equal(quick.profile, 'quick');
  assert.equal(quick.epochs, PROFILE_DEFAULTS.quick.epochs);
  assert.equal(quick.model.dim, 256);
  assert.equal(quick.model.kernelSize, 5);
  assert.equal(quick.model.patchSize, 2);
  assert.deepEqual(quick.run.explicit, []);

  const paper = trainConfigFromFlags({ profile: 'paper', 'lr-max': '0.05', 'ra-n': '0', mixup: '0', 'no-eval': true, seed: '3' });
  assert.equal(paper.epochs, 200);
  assert.equal(paper.eps, 1e-3);
  assert.equal(paper.lrMax, 0.05);
  assert.equal(paper.augment.randAugment, null);
  assert.equal(paper.augment.mixupAlpha, 0);
  assert.equal(paper.augment.cutmixAlpha, 0.5);
  assert.equal(paper.evaluate, false);
  assert.equal(paper.seed, 3);
  assert.deepEqual(paper.run.explicit, ['lr-max', 'mixup', 'no-eval', 'ra-n', 'seed']);

  // --kernel alone changes only the kernel of the profile's model (quick: ConvMixer-256/8, patch 2).
  const k9 = trainConfigFromFlags({ kernel: '9' });
  assert.equal(k9.model.kernelSize, 9);
  assert.equal(k9.model.patchSize, 2);
  assert.equal(k9.model.dim, 256);
  assert.equal(trainConfigFromFlags({ resume: true, 'run-id': 'r1' }).run.useSavedRecipe, true);
  assert.equal(trainConfigFromFlags({ resume: true, 'run-id': 'r1', epochs: '3' }).run.useSavedRecipe, false);
  const named = trainConfigFromFlags({ model: 'convmixer_128_4', patch: '2', kernel: '5' });
  // The recorded name is the registry name of the config trained: no named model is ConvMixer-128/4 k5 p2.
  assert.deepEqual([named.modelName, named.model.dim, named.model.depth, named.model.patchSize, named.model.kernelSize], [null, 128, 4, 2, 5]);
  assert.equal(k9.modelName, 'convmixer_256_8_p2');
  assert.equal(trainConfigFromFlags({ model: 'convmixer_256_8', kernel: '3' }).modelName, 'convmixer_256_8_k3');
  // precision: fp32 in every profile unless --precision says bf16
  assert.deepEqual([quick.precision, paper.precision], ['fp32', 'fp32']);
  const bf = trainConfigFromFlags({ precision: 'bf16' });
  assert.deepEqual([bf.precision, bf.run.explicit], ['bf16', ['precision']]);
});

test('recipe keys added later: a saved recipe without precision was trained in fp32 and compares equal to fp32, not to bf16', () => {
  const now = trainConfigFromFlags({});
  const { run: _run, ...recipe } = now;
  const { precision: _p, ...old } = recipe;
  assert.equal(firstRecipeDifference(old, recipe), null);
  assert.deepEqual(firstRecipeDifference(old, { ...recipe, precision: 'bf16' }), { key: 'precision', saved: 'fp32', current: 'bf16' });
  assert.equal(withKeysAddedLater({ precision: 'bf16' }).precision, 'bf16', 'a saved value wins over the default');
});

test('train flags: bad values are one-line errors naming the flag', () => {
  oneLineError(() => trainConfigFromFlags({ 'lr-max': 'fast' }), /^--lr-max: expected a number, got 'fast'$/);
  oneLineError(() => trainConfigFromFlags({ 'lr-max': '-1' }), /^--lr-max: number must be greater than 0/);
  oneLineError(() => trainConfigFromFlags({ smoothing: '1.5' }), /^--smoothing: number must be less than 1/);
  oneLineError(() => trainConfigFromFlags({ epochs: '2.5' }), /^--epochs: expected an integer, got '2.5'$/);
  oneLineError(() => trainConfigFromFlags({ remode: 'blur' }), /^--remode: expected one of pixel, rand, const, got "blur"$/);
  oneLineError(() => trainConfigFromFlags({ profile: 'huge' }), /^--profile: expected one of smoke, quick, paper, got 'huge'$/);
  oneLineError(() => trainConfigFromFlags({ 'decay-bias-norm': 'maybe' }), /^--decay-bias-norm: expected true or false/);
  oneLineError(() => trainConfigFromFlags({ resume: true }), /^--resume: needs --run-id/);
  oneLineError(() => trainConfigFromFlags({ classes: '100' }), /^--classes: CIFAR-10 has 10 classes/);
  oneLineError(() => trainConfigFromFlags({ 'run-id': 'a/b' }), /^--run-id: letters, digits/);
  oneLineError(() => trainConfigFromFlags({ precision: 'fp16' }), /^--precision: expected one of fp32, bf16, got 'fp16'$/);
  oneLineError(() => trainConfigFromFlags({ backend: 'gpu' }), /^--backend: expected one of auto, tensorflow, native, cpu, got 'gpu'$/);
});

test('train flags: --backend, else CONVMIXER_BACKEND, else auto (as bench and backend do)', () => {
  const saved = process.env.CONVMIXER_BACKEND;
  try {
    delete process.env.CONVMIXER_BACKEND;
    assert.equal(trainConfigFromFlags({}).run.backend, 'auto');
    process.env.CONVMIXER_BACKEND = 'cpu';
    assert.equal(trainConfigFromFlags({}).run.backend, 'cpu');
    assert.equal(trainConfigFromFlags({ backend: 'native' }).run.backend, 'native');
    process.env.CONVMIXER_BACKEND = 'fast';
    oneLineError(() => trainConfigFromFlags({}), /^CONVMIXER_BACKEND: expected one of auto, tensorflow, native, cpu, got 'fast'$/);
  } finally {
    if (saved === undefined) delete process.env.CONVMIXER_BACKEND; else process.env.CONVMIXER_BACKEND = saved;
  }
});

test('train CLI: an unknown flag or bad value exits 2 with one line on stderr', () => {
  const run = (args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, ['bin/convmixer.mjs', 'train', ...args], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    return { status: r.status, stderr: r.stderr };
  };
  const unknown = run(['--learning-rate', '3']);
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  assert.match(unknown.stderr, /^convmixer train: .*--learning-rate/);
  const bad = run(['--batch', '0']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), 'convmixer train: --batch: number must be greater than or equal to 2, got 0');
});

test('progress: one rewritten line on a TTY, a line every interval otherwise', () => {
  const p = (step: number): TrainProgress => ({ epoch: 0, epochs: 2, step, stepsPerEpoch: 10, globalStep: step, totalSteps: 20, loss: 2.3026, lr: 0.001, imgPerSec: 50, etaSec: 125 });
  let t = 0;
  const ttyOut: string[] = [];
  const tty = createProgressBar({ stream: { write: (s: string) => ttyOut.push(s), isTTY: true }, now: () => t });
  tty.update(p(1)); t += 50; tty.update(p(2)); t += 100; tty.update(p(3)); tty.clear();
  assert.deepEqual(ttyOut, [
    '\repoch 1/2 step 1/10 loss 2.3026 lr 0.00100 50.0 img/s ETA 2m05s\x1b[K',
    '\repoch 1/2 step 3/10 loss 2.3026 lr 0.00100 50.0 img/s ETA 2m05s\x1b[K',
    '\n',
  ]);
  t = 0;
  const logOut: string[] = [];
  const log = createProgressBar({ stream: { write: (s: string) => logOut.push(s) }, now: () => t, intervalMs: 5000 });
  log.update(p(1)); t = 4000; log.update(p(2)); t = 5001; log.update(p(3)); t = 5002; log.update(p(10)); log.clear();
  assert.equal(logOut.length, 3); // step 1, step 3 (5 s later) and the epoch's last step
  assert.ok(logOut.every((l) => l.endsWith('\n') && !l.includes('\r')));
  assert.deepEqual([formatDuration(59.6), formatDuration(3725)], ['1m00s', '1h02m']);
});
