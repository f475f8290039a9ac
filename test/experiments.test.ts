// Notebooks re-run an experiment only when asked or when no record exists for its profile (ensureRecords), through the
// real CLI on a tiny prepared CIFAR-10 cache; and the CIFAR-10 demo's per-profile arguments are valid train flags.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRecords } from '../lib/experiments/ensure.ts';
import { CIFAR10_DEMO, CIFAR10_DEMO_ARGS } from '../lib/experiments/cifar10Demo.ts';
import { trainConfigFromArgv } from '../lib/cli/train.ts';
import { PROFILES } from '../lib/runRecord.ts';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';
import { runStatus, runTable, planRuns } from '../lib/experiments/runner.ts';
import { SMOKE_PROTOCOL, type ExperimentTable } from '../lib/experiments/table.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-ensure-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ensureRecords: runs the CLI when no record exists or rerun is asked, otherwise returns the existing records', async () => {
  const root = await tinyCifarDataRoot(tmp, 20, 20);
  const resultsDir = join(tmp, 'results');
  const cliArgs = ['train', '--experiment', 'test-ensure', '--data-root', root, '--train-subset', '0', '--test-subset', '0',
    '--epochs', '1', '--batch', '25', '--no-checkpoint', '--quiet'];
  const quiet = console.log;
  console.log = () => {}; // the CLI's output is echoed for notebook cells
  try {
    const first = ensureRecords({ experiment: 'test-ensure', profile: 'smoke', rerun: false, cliArgs, resultsDir });
    assert.equal(first.ran, true);
    assert.equal(first.error, null);
    assert.equal(first.records.length, 1);
    const rec = first.records[0]!;
    assert.deepEqual([rec.experiment, rec.profile, rec.status, rec.config['trainImages'], rec.epochs?.length], ['test-ensure', 'smoke', 'finished', 100, 1]);

    const second = ensureRecords({ experiment: 'test-ensure', profile: 'smoke', rerun: false, cliArgs, resultsDir });
    assert.equal(second.ran, false);
    assert.deepEqual(second.records.map((r) => r.id), [rec.id]);

    // another profile has no record yet: it runs
    const quick = ensureRecords({ experiment: 'test-ensure', profile: 'quick', rerun: false, cliArgs, resultsDir });
    assert.equal(quick.ran, true);
    assert.deepEqual(quick.records.map((r) => r.profile), ['quick']);

    const again = ensureRecords({ experiment: 'test-ensure', profile: 'smoke', rerun: true, cliArgs, resultsDir });
    assert.equal(again.ran, true);
    assert.equal(again.records.length, 2);
    assert.ok(again.records.some((r) => r.id === rec.id));
  } finally {
    console.log = quiet;
  }
});

test('ensureRecords: a refusal by the CLI (no dataset prepared) comes back as its one-line error, nothing recorded', () => {
  const resultsDir = join(tmp, 'results-missing');
  const res = ensureRecords({
    experiment: 'test-missing', profile: 'smoke', rerun: false, resultsDir,
    cliArgs: ['train', '--experiment', 'test-missing', '--data-root', join(tmp, 'no-data-here'), '--no-checkpoint', '--quiet'],
  });
  assert.equal(res.ran, false);
  assert.deepEqual(res.records, []);
  assert.match(res.error ?? '', /^convmixer train: CIFAR-10 is not prepared under .*no-data-here.*; run `convmixer data cifar10` first/);
});

test('CIFAR-10 demo: every profile\'s arguments are valid train flags for ConvMixer-128/4 p2 k5 of experiment cifar10-demo', () => {
  const subsets: Record<string, [number, number]> = {};
  for (const profile of PROFILES) {
    const c = trainConfigFromArgv([...CIFAR10_DEMO_ARGS[profile].slice(1), '--profile', profile]);
    assert.equal(CIFAR10_DEMO_ARGS[profile][0], 'train');
    assert.deepEqual([c.experiment, c.profile, c.model.dim, c.model.depth, c.model.patchSize, c.model.kernelSize], [CIFAR10_DEMO, profile, 128, 4, 2, 5]);
    subsets[profile] = [c.trainSubset, c.testSubset];
  }
  // smoke keeps its profile's tiny subsets; quick is the README's 5k demo; paper uses the full splits (0 = all)
  assert.deepEqual(subsets, { smoke: [256, 200], quick: [5000, 1000], paper: [0, 0] });
});

test('runner: a run locked by a live process is running and skipped; a stopped run without a checkpoint is retrained (its record replaced)', async () => {
  mkdirSync(join(tmp, 'runner'), { recursive: true });
  const root = await tinyCifarDataRoot(join(tmp, 'runner'), 20, 50);
  const table: ExperimentTable = {
    id: 'testtable', title: 'test', source: 'test',
    rows: [{ id: 'r', label: 'r', group: 'g', model: 'convmixer_256_8', paper: null }],
    protocols: { smoke: SMOKE_PROTOCOL, quick: SMOKE_PROTOCOL, paper: SMOKE_PROTOCOL },
  };
  const dirs = { resultsDir: join(tmp, 'runner-results'), checkpointRoot: join(tmp, 'runner-checkpoints') };
  const [run] = planRuns(table, 'smoke', 1);
  const savedEnv = process.env.CONVMIXER_DATA;
  process.env.CONVMIXER_DATA = root;
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const first = await runTable(table, { profile: 'smoke', seeds: 1, shard: null, ...dirs });
    assert.deepEqual(first.trained, [run!.runId]);
    const recordPath = join(dirs.resultsDir, `${run!.runId}.json`);
    assert.equal(existsSync(join(dirs.checkpointRoot, `${run!.runId}.lock`)), false);

    // another process holds the run: status 'running', and the runner leaves it alone
    const rec = JSON.parse(readFileSync(recordPath, 'utf8'));
    writeFileSync(recordPath, JSON.stringify({ ...rec, status: 'running', finishedAt: null }));
    rmSync(join(dirs.checkpointRoot, run!.runId), { recursive: true });
    mkdirSync(dirs.checkpointRoot, { recursive: true });
    writeFileSync(join(dirs.checkpointRoot, `${run!.runId}.lock`), `${sleeper.pid}\n`);
    assert.equal(runStatus(run!, 1, dirs).state, 'running');
    const skipped = await runTable(table, { profile: 'smoke', seeds: 1, shard: null, ...dirs });
    assert.deepEqual(skipped.skipped, [run!.runId]);

    // its owner died without a checkpoint: 'missing', trained again, and the runner may replace its own record
    sleeper.kill('SIGKILL');
    await new Promise((res) => sleeper.once('exit', res));
    assert.equal(runStatus(run!, 1, dirs).state, 'missing');
    const again = await runTable(table, { profile: 'smoke', seeds: 1, shard: null, ...dirs });
    assert.deepEqual([again.trained, again.failed], [[run!.runId], []]);
    assert.equal(JSON.parse(readFileSync(recordPath, 'utf8')).status, 'finished');
    assert.equal(existsSync(join(dirs.checkpointRoot, `${run!.runId}.lock`)), false);
  } finally {
    sleeper.kill('SIGKILL');
    if (savedEnv === undefined) delete process.env.CONVMIXER_DATA; else process.env.CONVMIXER_DATA = savedEnv;
  }
});
