// Experiments as data (Tables 3 and 4, the pilot) and the resumable, shardable runner: table contents against the
// paper's reference data, recipes relative to the paper recipe, and real smoke-profile runs on a tiny CIFAR-10 cache
// (skip finished, resume interrupted bit for bit, status and its --json through the real CLI).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { TABLE3, TABLE4, APPENDIX_B_TEXT } from '../lib/paper/tables.ts';
import { TABLE3_EXPERIMENT } from '../lib/experiments/table3.ts';
import { TABLE4_EXPERIMENT } from '../lib/experiments/table4.ts';
import { PILOT } from '../lib/experiments/pilot.ts';
import { rowRecipe, runIdOf, SMOKE_PROTOCOL, type ExperimentTable } from '../lib/experiments/table.ts';
import { parseShard, planRuns, runOwners, runStatus, runTable, shardRuns, tableStatus } from '../lib/experiments/runner.ts';
import { QUICK_CIFAR_PROTOCOL } from '../lib/experiments/protocol.ts';
import { flattenRecipe } from '../lib/train/config.ts';
import { PROFILES } from '../lib/runRecord.ts';
import { paramCount, resolveConfig } from '../lib/models/convmixer.ts';
import { UserError } from '../lib/errors.ts';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-runner-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const REPO = new URL('..', import.meta.url);

test('table3: the paper\'s ten rows in order with their printed accuracies; every ablation changes the baseline\'s recipe or model at every profile', () => {
  const t = TABLE3_EXPERIMENT;
  assert.deepEqual(t.rows.map((r) => r.paper?.accuracy), TABLE3.map((r) => r.accuracy));
  assert.deepEqual(t.rows.map((r) => r.id), ['baseline', 'no-residual-eq2', 'residual-eq3', 'layernorm', 'relu', 'no-mixup-cutmix', 'no-random-erasing', 'no-randaug', 'no-random-scaling', 'no-grad-clip']);
  for (const profile of PROFILES) {
    const base = flattenRecipe(rowRecipe(t, t.rows[0]!, profile, 0));
    for (const row of t.rows.slice(1)) {
      const r = flattenRecipe(rowRecipe(t, row, profile, 0));
      const changed = Object.keys(r).filter((k) => JSON.stringify(r[k]) !== JSON.stringify(base[k]));
      assert.ok(changed.length > 0, `${row.id} at ${profile} is the baseline`);
    }
  }
  const quick = (id: string): Record<string, unknown> => flattenRecipe(rowRecipe(t, t.rows.find((r) => r.id === id)!, 'quick', 0));
  // the quick profile keeps the paper recipe: mixup/CutMix on in the baseline, off in its ablation
  assert.deepEqual([quick('baseline')['augment.mixupAlpha'], quick('baseline')['augment.cutmixAlpha']], [0.5, 0.5]);
  assert.deepEqual([quick('no-mixup-cutmix')['augment.mixupAlpha'], quick('no-mixup-cutmix')['augment.cutmixAlpha']], [0, 0]);
  assert.equal(quick('no-randaug')['augment.randAugment'], null);
  assert.equal(quick('no-random-scaling')['augment.scaleMin'], 1);
  assert.equal(quick('no-grad-clip')['clipNorm'], 0);
  assert.equal(quick('no-random-erasing')['augment.reprob'], 0);
  assert.deepEqual([quick('baseline')['eps'], quick('baseline')['augment.randAugment.n'], quick('baseline')['augment.randAugment.m'], quick('baseline')['weightDecay']], [1e-3, 2, 9, 0]);
  assert.equal(quick('layernorm')['model.norm'], 'layernorm');
  assert.equal(quick('relu')['model.activation'], 'relu');
});

test('table4: every Table 4 row and the two Appendix B text models, with exact parameter counts; shared runs point at real rows', async () => {
  const t = TABLE4_EXPERIMENT;
  assert.equal(t.rows.length, TABLE4.length + 2);
  assert.deepEqual(t.rows.slice(0, TABLE4.length).map((r) => r.paper?.accuracy), TABLE4.map((r) => r.accuracy));
  assert.deepEqual(t.rows.slice(TABLE4.length).map((r) => r.model), APPENDIX_B_TEXT.filter((r) => r.model !== 'convmixer_256_8').map((r) => r.model));
  assert.equal(new Set(t.rows.map((r) => r.id)).size, t.rows.length, 'row ids are unique');
  for (const row of t.rows) {
    const c = resolveConfig(row.model);
    assert.equal(c.numClasses, 10, row.id);
    if (row.paper?.paramsK !== undefined) assert.ok(Math.abs(paramCount(c) / 1000 - row.paper.paramsK) <= 1, `${row.id}: ${paramCount(c)} vs printed ${row.paper.paramsK}K`);
  }
  const byId = new Map(t.rows.map((r) => [r.id, r]));
  assert.equal(rowRecipe(t, byId.get('k15-p1')!, 'quick', 0).model.kernelSize, 15);
  assert.equal(rowRecipe(t, byId.get('p8-k9')!, 'quick', 0).model.patchSize, 8);
  assert.equal(rowRecipe(t, byId.get('wd3-p1')!, 'quick', 0).weightDecay, 0.02);
  assert.equal(rowRecipe(t, byId.get('k5-p2-wd')!, 'quick', 0).weightDecay, 0.01);
  assert.equal(rowRecipe(t, byId.get('w256-d24-k3')!, 'quick', 0).model.depth, 24);
  // 33 table rows + 2 text models; the wd-0 row is the kernel-9 row's run and kernel 9 at patch 2 the patch-2 row's
  // (the kernel-9 row's run is Table 3's baseline, planned here too: running either table trains it once)
  assert.equal((planRuns(t, 'quick', 2)).length, 2 * (35 - 2));
});

test('shared runs: rows with equal recipes are one run, owned by the first such row (pilot, table3, table4 order), at every profile', async () => {
  for (const profile of PROFILES) {
    const o4 = runOwners(TABLE4_EXPERIMENT, profile);
    const o3 = runOwners(TABLE3_EXPERIMENT, profile);
    const ref = (id: string) => { const o = o4.get(id)!; return `${o.owner.id}/${o.row.id}`; };
    const baseline = `${o3.get('baseline')!.owner.id}/${o3.get('baseline')!.row.id}`;
    assert.equal(ref('k9-p1'), baseline, profile);
    assert.equal(ref('wd1-p1'), baseline, profile);
    assert.equal(ref('k9-p2'), 'table4/p2-k9', profile);
    assert.equal(ref('k7-p1'), 'table4/k7-p1', profile);
    // the pilot's row at a profile's own budget (smoke 1 epoch, quick 4) is that profile's baseline run
    assert.equal(QUICK_CIFAR_PROTOCOL, TABLE3_EXPERIMENT.protocols.quick);
    assert.equal(baseline, profile === 'paper' ? 'table3/baseline' : `pilot/baseline-e${TABLE3_EXPERIMENT.protocols[profile].epochs}`, profile);
    for (const [id, { owner, row }] of o4) {
      const a = flattenRecipe(rowRecipe(TABLE4_EXPERIMENT, TABLE4_EXPERIMENT.rows.find((r) => r.id === id)!, profile, 0)), b = flattenRecipe(rowRecipe(owner, row, profile, 0));
      delete a['experiment'];
      delete b['experiment'];
      assert.deepEqual(a, b, `${id} at ${profile} is not the same run as ${owner.id}/${row.id}`);
    }
  }
});

test('protocols shrink only what every row shares; the modelName is the registry name of the model trained', () => {
  for (const table of [TABLE3_EXPERIMENT, TABLE4_EXPERIMENT, PILOT]) {
    for (const row of table.rows) {
      const quick = rowRecipe(table, row, 'quick', 1), paper = rowRecipe(table, row, 'paper', 1);
      assert.deepEqual(quick.model, paper.model, `${table.id}/${row.id}: the quick profile trains the paper's model`);
      assert.equal(paper.modelName, row.model);
      // (the pilot's rows set their own epochs: the budget is what the pilot varies)
      assert.deepEqual([table === PILOT ? 200 : paper.epochs, paper.trainSubset, paper.testSubset, paper.batchSize], [200, 0, 0, 128]);
      const smoke = rowRecipe(table, row, 'smoke', 0);
      assert.deepEqual([smoke.model.kernelSize, smoke.model.patchSize, smoke.model.norm, smoke.model.activation], [paper.model.kernelSize, paper.model.patchSize, paper.model.norm, paper.model.activation]);
      assert.equal(smoke.model.dim, SMOKE_PROTOCOL.shrinkModel!(paper.model).dim);
    }
  }
  assert.equal(runIdOf('table4', 'k7-p1', 'quick', 0), 'table4-k7-p1-quick-s0');
});

test('shards: i/n split the runs into disjoint parts whose union is the table, and bad --shard values are one-line errors', async () => {
  const runs = planRuns(TABLE4_EXPERIMENT, 'quick', 2);
  const parts = [1, 2, 3].map((i) => shardRuns(runs, { index: i, count: 3 }));
  assert.deepEqual(parts.flat().map((r) => r.runId).sort(), runs.map((r) => r.runId).sort());
  assert.equal(new Set(parts.flat().map((r) => r.runId)).size, runs.length);
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  for (const bad of ['0/3', '4/3', '1/0', 'a/b', '1']) assert.throws(() => parseShard(bad), (e: unknown) => e instanceof UserError && /^--shard: expected i\/n/.test((e as Error).message));
});

/** A two-row, two-epoch table on the smoke protocol: small enough to train in a second. */
const MINI: ExperimentTable = {
  id: 'mini', title: 'mini', source: 'test',
  rows: [
    // (a model no registered table trains: runs are shared with any registered row of equal recipe)
    { id: 'a', label: 'a', group: 'g', model: 'convmixer_64_4_k5_p2', paper: { accuracy: 50 } },
    { id: 'b', label: 'b', group: 'g', model: 'convmixer_64_4_k5_p2', recipe: { augment: { randAugment: null } }, paper: null },
  ],
  protocols: { smoke: { ...SMOKE_PROTOCOL, epochs: 2 }, quick: SMOKE_PROTOCOL, paper: SMOKE_PROTOCOL },
};

test('runTable: trains the missing runs, skips finished ones, and resumes an interrupted run to the same result as an uninterrupted one', async () => {
  const dataRoot = await tinyCifarDataRoot(tmp, 20, 60);
  const dirs = (name: string) => ({ resultsDir: join(tmp, name, 'results'), checkpointRoot: join(tmp, name, 'ckpt') });
  const quiet = { log: () => {} };

  const whole = dirs('whole');
  const first = await runTable(MINI, { profile: 'smoke', seeds: 2, shard: null, dataRoot, ...whole, ...quiet });
  assert.deepEqual(first.trained, ['mini-a-smoke-s0', 'mini-a-smoke-s1', 'mini-b-smoke-s0', 'mini-b-smoke-s1']);
  const again = await runTable(MINI, { profile: 'smoke', seeds: 2, shard: null, dataRoot, ...whole, ...quiet });
  assert.deepEqual([again.trained, again.skipped.length], [[], 4]);
  const st = tableStatus(MINI, 'smoke', 2, whole);
  assert.deepEqual(st.map((r) => [r.id, r.done, r.seedsFinished]), [['a', true, 2], ['b', true, 2]]);
  const rec = JSON.parse(readFileSync(join(whole.resultsDir, 'mini-a-smoke-s1.json'), 'utf8'));
  assert.deepEqual([rec.table, rec.row, rec.seed, rec.profile, rec.status, rec.config.modelName], ['mini', 'a', 1, 'smoke', 'finished', null]);
  // the mean and sample std over seeds, in percent, from the two records
  const accs = [0, 1].map((s) => 100 * JSON.parse(readFileSync(join(whole.resultsDir, `mini-a-smoke-s${s}.json`), 'utf8')).metrics.testAcc);
  assert.ok(Math.abs(st[0]!.value! - (accs[0]! + accs[1]!) / 2) < 1e-9);
  assert.ok(Math.abs(st[0]!.std! - Math.abs(accs[0]! - accs[1]!) / Math.SQRT2) < 1e-9);

  // Stop in the middle (after epoch 1 of the first run), then run again: it resumes from the checkpoint.
  const cut = dirs('cut');
  const abort = new AbortController();
  await assert.rejects(runTable(MINI, { profile: 'smoke', seeds: 1, shard: null, dataRoot, ...cut, signal: abort.signal, ...quiet, hooks: { onEpoch: () => abort.abort() } }), UserError);
  const mid = tableStatus(MINI, 'smoke', 1, cut);
  assert.deepEqual(mid.map((r) => r.runs[0]!.state), ['interrupted', 'missing']);
  assert.deepEqual(mid.map((r) => r.runs[0]!.epochsDone), [1, 0]);
  // Without its record (deleted at the end of a session) the checkpoint still says how far the run got.
  const kept = readFileSync(join(cut.resultsDir, 'mini-a-smoke-s0.json'), 'utf8');
  rmSync(join(cut.resultsDir, 'mini-a-smoke-s0.json'));
  const gone = tableStatus(MINI, 'smoke', 1, cut)[0]!.runs[0]!;
  assert.deepEqual([gone.state, gone.epochsDone], ['interrupted', 1]);
  writeFileSync(join(cut.resultsDir, 'mini-a-smoke-s0.json'), kept);
  const logs: string[] = [];
  const resumed = await runTable(MINI, { profile: 'smoke', seeds: 1, shard: null, dataRoot, ...cut, log: (l) => logs.push(l) });
  assert.deepEqual(resumed.trained, ['mini-a-smoke-s0', 'mini-b-smoke-s0']);
  assert.ok(logs.some((l) => /mini-a-smoke-s0: resuming after epoch 1/.test(l)), logs.join('\n'));
  // Stopped before its first checkpoint: the record says failed (aborted), and the run starts again rather than
  // counting as a failure to skip.
  const early = dirs('early');
  const stop = new AbortController();
  await assert.rejects(runTable(MINI, { profile: 'smoke', seeds: 1, shard: null, dataRoot, ...early, signal: stop.signal, ...quiet, hooks: { onProgress: () => stop.abort() } }), UserError);
  const rec0 = JSON.parse(readFileSync(join(early.resultsDir, 'mini-a-smoke-s0.json'), 'utf8'));
  assert.deepEqual([rec0.status, rec0.metrics.failure], ['failed', 'aborted']);
  assert.deepEqual((tableStatus(MINI, 'smoke', 1, early)).map((r) => r.runs[0]!.state), ['missing', 'missing']);
  assert.deepEqual((await runTable(MINI, { profile: 'smoke', seeds: 1, shard: null, dataRoot, ...early, ...quiet })).trained, ['mini-a-smoke-s0', 'mini-b-smoke-s0']);

  const a = JSON.parse(readFileSync(join(cut.resultsDir, 'mini-a-smoke-s0.json'), 'utf8'));
  const b = JSON.parse(readFileSync(join(whole.resultsDir, 'mini-a-smoke-s0.json'), 'utf8'));
  assert.deepEqual(a.epochs.map((e: Record<string, number>) => [e['trainLoss'], e['testAcc']]), b.epochs.map((e: Record<string, number>) => [e['trainLoss'], e['testAcc']]));
  assert.equal(a.metrics.testAcc, b.metrics.testAcc);
});

test('runTable: a run locked by a live process is running and skipped; once its owner is dead, a run without a checkpoint is retrained and its record replaced', async () => {
  mkdirSync(join(tmp, 'locked'), { recursive: true });
  const dataRoot = await tinyCifarDataRoot(join(tmp, 'locked'), 20, 60);
  const one: ExperimentTable = { ...MINI, rows: [MINI.rows[0]!], protocols: { ...MINI.protocols, smoke: SMOKE_PROTOCOL } };
  const dirs = { resultsDir: join(tmp, 'locked', 'results'), checkpointRoot: join(tmp, 'locked', 'ckpt') };
  const opts = { profile: 'smoke' as const, seeds: 1, shard: null, dataRoot, ...dirs, log: () => {} };
  const [run] = await planRuns(one, 'smoke', 1);
  const lock = join(dirs.checkpointRoot, `${run!.runId}.lock`);
  const recordPath = join(dirs.resultsDir, `${run!.runId}.json`);
  assert.deepEqual((await runTable(one, opts)).trained, [run!.runId]);
  assert.equal(existsSync(lock), false, 'trainRun releases the run lock');

  // another process holds the run (its record says running, no checkpoint yet): running, skipped
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const rec = JSON.parse(readFileSync(recordPath, 'utf8'));
    writeFileSync(recordPath, JSON.stringify({ ...rec, status: 'running', finishedAt: null }));
    rmSync(join(dirs.checkpointRoot, run!.runId), { recursive: true });
    writeFileSync(lock, `${sleeper.pid}\n`);
    assert.equal(runStatus(run!, 1, dirs).state, 'running');
    assert.deepEqual((await runTable(one, opts)).skipped, [run!.runId]);
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((res) => sleeper.once('exit', res));
  }
  // its owner died: 'missing', trained again; the runner replaces its own run's record (no --overwrite refusal)
  assert.equal(runStatus(run!, 1, dirs).state, 'missing');
  const again = await runTable(one, opts);
  assert.deepEqual([again.trained, again.failed], [[run!.runId], []]);
  assert.equal(JSON.parse(readFileSync(recordPath, 'utf8')).status, 'finished');
  assert.equal(existsSync(lock), false);
});

test('runTable: a finished run whose recipe has changed since is stale: skipped unless --retrain-stale, which moves its old checkpoints aside and trains it again', async () => {
  mkdirSync(join(tmp, 'stale'), { recursive: true });
  const dataRoot = await tinyCifarDataRoot(join(tmp, 'stale'), 20, 60);
  const before: ExperimentTable = { ...MINI, rows: [MINI.rows[0]!], protocols: { ...MINI.protocols, smoke: SMOKE_PROTOCOL } };
  const after: ExperimentTable = { ...before, protocols: { ...before.protocols, smoke: { ...SMOKE_PROTOCOL, epochs: 2 } } };
  const dirs = { resultsDir: join(tmp, 'stale', 'results'), checkpointRoot: join(tmp, 'stale', 'ckpt') };
  const logs: string[] = [];
  const opts = { profile: 'smoke' as const, seeds: 1, shard: null, dataRoot, ...dirs, log: (l: string) => logs.push(l) };
  const runId = 'mini-a-smoke-s0';
  const recordPath = join(dirs.resultsDir, `${runId}.json`);
  assert.deepEqual((await runTable(before, opts)).trained, [runId]);
  const old = JSON.parse(readFileSync(recordPath, 'utf8'));
  assert.equal(tableStatus(before, 'smoke', 1, dirs)[0]!.runs[0]!.state, 'finished');

  // the protocol grows to 2 epochs: the 1-epoch record is stale (not done, no value), with what changed
  const st = tableStatus(after, 'smoke', 1, dirs)[0]!;
  assert.deepEqual([st.runs[0]!.state, st.runs[0]!.reason, st.done, st.value], ['stale', 'trained with epochs 1, now 2', false, null]);
  assert.equal(st.runs[0]!.score, old.metrics.testAcc, 'a stale run still reports the score it had');
  const skipped = await runTable(after, opts);
  assert.deepEqual([skipped.trained, skipped.skipped], [[], [runId]]);
  assert.ok(logs.some((l) => l.includes('stale (trained with epochs 1, now 2), skipped; --retrain-stale trains it again')), logs.join('\n'));
  assert.deepEqual(JSON.parse(readFileSync(recordPath, 'utf8')), old, 'a skipped stale record is left as it was');

  const retrained = await runTable(after, { ...opts, retrainStale: true });
  assert.deepEqual([retrained.trained, retrained.failed], [[runId], []]);
  const rec = JSON.parse(readFileSync(recordPath, 'utf8'));
  assert.deepEqual([rec.status, rec.epochs.length, rec.config.epochs], ['finished', 2, 2]);
  // the old run's checkpoints (its final weights with them) are kept under superseded/, named by when it finished
  const moved = join(dirs.checkpointRoot, 'superseded', `${runId}@${old.finishedAt.replace(/[:.]/g, '-')}`);
  assert.ok(existsSync(join(moved, 'final.weights.safetensors')), moved);
  assert.ok(logs.some((l) => l.includes(`its old checkpoints moved to ${moved}`)), logs.join('\n'));
  assert.equal(tableStatus(after, 'smoke', 1, dirs)[0]!.runs[0]!.state, 'finished');
  assert.equal(tableStatus(before, 'smoke', 1, dirs)[0]!.runs[0]!.state, 'stale', 'and seen from the old protocol, the new record is the stale one');
});

test('convmixer experiment: status --json lists every row (real CLI), run refuses a bad shard and an unknown table with one line', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/convmixer.mjs', 'experiment', ...args], { cwd: REPO, encoding: 'utf8' });
  const empty = join(tmp, 'empty');
  mkdirSync(join(empty, 'r'), { recursive: true }); // an explicit --results-dir must exist (a missing one is refused: test/robustness.test.ts)
  const st = cli('status', 'table3', '--profile', 'quick', '--json', '--results-dir', join(empty, 'r'), '--checkpoint-dir', join(empty, 'c'));
  assert.equal(st.status, 0, st.stderr);
  const json = JSON.parse(st.stdout);
  assert.deepEqual(json.rows.map((r: { id: string }) => r.id), TABLE3_EXPERIMENT.rows.map((r) => r.id));
  assert.deepEqual(json.rows[0].runs.map((r: { state: string }) => r.state), ['missing', 'missing']);
  assert.deepEqual(Object.keys(json.rows[0]).slice(0, 4), ['id', 'label', 'group', 'done']);
  assert.equal(json.rows[7].paper, 92.86);

  const bad = cli('run', 'table3', '--shard', '3/2');
  assert.deepEqual([bad.status, bad.stderr.trim()], [2, "convmixer experiment: --shard: expected i/n with 1 <= i <= n (e.g. 2/4), got '3/2'"]);
  const unknown = cli('status', 'table9');
  assert.deepEqual([unknown.status, unknown.stderr.trim()], [2, "convmixer experiment: unknown table 'table9' (expected one of: table3, table4, pilot, segmentation, detection, precision)"]);
});
