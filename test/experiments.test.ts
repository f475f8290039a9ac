// Notebooks train an experiment only when asked or when no record exists for its profile (ensureRecords): in process,
// on a recipe that is data, on a tiny prepared CIFAR-10 cache; and the CIFAR-10 demo's recipe at each profile.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRecords } from '../lib/experiments/ensure.ts';
import { CIFAR10_DEMO, cifar10DemoRecipe } from '../lib/experiments/cifar10Demo.ts';
import { buildRecipe, flattenRecipe } from '../lib/train/config.ts';
import { resolveConfig } from '../lib/models/convmixer.ts';
import { PROFILES, type Profile } from '../lib/runRecord.ts';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';
import { PRECISION_EXPERIMENT } from '../lib/experiments/precision.ts';
import { rowRecipe } from '../lib/experiments/table.ts';
import { planRuns } from '../lib/experiments/runner.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-ensure-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const tiny = (profile: Profile) => buildRecipe(profile, {
  experiment: 'test-ensure', trainSubset: 0, testSubset: 0, epochs: 1, batchSize: 25, model: resolveConfig({ dim: 8, depth: 1, kernelSize: 3, patchSize: 4, numClasses: 10 }), modelName: null,
});

test('ensureRecords: trains when no record exists or rerun is asked, otherwise returns the existing records', async () => {
  const dataRoot = await tinyCifarDataRoot(tmp, 20, 20);
  const resultsDir = join(tmp, 'results');
  // (checkpoints into the temporary folder too: nothing lands in the repository's reports/)
  const opts = { resultsDir, checkpointRoot: join(tmp, 'checkpoints'), dataRoot, quiet: true };
  const first = await ensureRecords({ recipe: tiny('smoke'), rerun: false, ...opts });
  assert.deepEqual([first.ran, first.error, first.records.length], [true, null, 1]);
  const rec = first.records[0]!;
  assert.deepEqual([rec.experiment, rec.profile, rec.status, rec.config['trainImages'], rec.epochs?.length], ['test-ensure', 'smoke', 'finished', 100, 1]);

  const second = await ensureRecords({ recipe: tiny('smoke'), rerun: false, ...opts });
  assert.equal(second.ran, false);
  assert.deepEqual(second.records.map((r) => r.id), [rec.id]);

  // another profile has no record yet: it runs
  const quick = await ensureRecords({ recipe: tiny('quick'), rerun: false, ...opts });
  assert.equal(quick.ran, true);
  assert.deepEqual(quick.records.map((r) => r.profile), ['quick']);

  const again = await ensureRecords({ recipe: tiny('smoke'), rerun: true, ...opts });
  assert.equal(again.ran, true);
  assert.equal(again.records.length, 2);
  assert.ok(again.records.some((r) => r.id === rec.id));
  assert.deepEqual(readdirSync(join(tmp, 'checkpoints')).length, 3);
});

test('ensureRecords: a refusal (no dataset prepared) comes back as its one-line error, nothing recorded', async () => {
  const resultsDir = join(tmp, 'results-missing');
  const res = await ensureRecords({ recipe: tiny('smoke'), rerun: false, resultsDir, checkpointRoot: join(tmp, 'checkpoints'), dataRoot: join(tmp, 'no-data-here'), quiet: true });
  assert.equal(res.ran, false);
  assert.deepEqual(res.records, []);
  assert.match(res.error ?? '', /^CIFAR-10 is not prepared under .*no-data-here.*; run `convmixer data cifar10` first/);
});

test('CIFAR-10 demo: ConvMixer-128/4 p2 k5 of experiment cifar10-demo at every profile, with its budget', () => {
  const budgets: Record<string, [number, number, number]> = {};
  for (const profile of PROFILES) {
    const r = cifar10DemoRecipe(profile);
    assert.deepEqual([r.experiment, r.profile, r.seed, r.model.dim, r.model.depth, r.model.patchSize, r.model.kernelSize, r.modelName], [CIFAR10_DEMO, profile, 0, 128, 4, 2, 5, null]);
    budgets[profile] = [r.epochs, r.trainSubset, r.testSubset];
  }
  // smoke: seconds; quick: the README's 5k demo; paper: the full splits (0 = all)
  assert.deepEqual(budgets, { smoke: [2, 256, 200], quick: [5, 5000, 1000], paper: [10, 0, 0] });
});

test('precision table: at every profile its two rows differ in precision only, and share no run with another table', () => {
  for (const profile of PROFILES) {
    const [fp32, bf16] = PRECISION_EXPERIMENT.rows.map((r) => flattenRecipe(rowRecipe(PRECISION_EXPERIMENT, r, profile, 0)));
    const differing = Object.keys(fp32!).filter((k) => JSON.stringify(fp32![k]) !== JSON.stringify(bf16![k]));
    assert.deepEqual(differing, ['precision'], profile);
    assert.deepEqual([fp32!['precision'], bf16!['precision'], fp32!['batchSize'], fp32!['model.kernelSize'], fp32!['model.patchSize']],
      ['fp32', 'bf16', profile === 'smoke' ? 32 : 128, 9, 1], profile);
  }
  assert.deepEqual(planRuns(PRECISION_EXPERIMENT, 'quick', 2).map((r) => r.runId),
    ['precision-fp32-quick-s0', 'precision-fp32-quick-s1', 'precision-bf16-quick-s0', 'precision-bf16-quick-s1']);
});
