// The cost model that sizes the quick protocol in CPU-hours: fitted to synthetic runs whose wall times follow known
// coefficients, it recovers them; it refuses to guess from too few runs, ignores other machines and precisions, drops a
// run that shared the machine, and a table's hours left are those of its runs not finished.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishRunRecord, newRunRecord, saveRunRecord, loadRunRecords, type RunRecord } from '../lib/runRecord.ts';
import { estimateSeconds, fitCostModel, hoursAtEpochs, runWork, tableCost, tableCostLine } from '../lib/experiments/cost.ts';
import { TABLE3_EXPERIMENT } from '../lib/experiments/table3.ts';
import { TABLE4_EXPERIMENT } from '../lib/experiments/table4.ts';
import { rowRecipe } from '../lib/experiments/table.ts';
import { resolveConfig } from '../lib/models/convmixer.ts';

const root = mkdtempSync(join(tmpdir(), 'cm-cost-'));
after(() => rmSync(root, { recursive: true, force: true }));
const MACHINE = { cpuModel: 'Test CPU', cores: 2 };
const TRUE = [0.002, 0.015, 0.06]; // s per training image, per GEMM GMAC, per depthwise GMAC

function record(id: string, model: string, epochs: number, opts: { slow?: number; cpu?: string; precision?: string; at?: number } = {}): RunRecord {
  const config = { dataset: 'cifar10', model: resolveConfig(model), epochs, trainSubset: 5000, testSubset: 2000, evaluate: true, precision: opts.precision ?? 'fp32' };
  const w = runWork(config);
  const secs = (TRUE[0]! * w.trainImages + TRUE[1]! * w.gemmGmac + TRUE[2]! * w.depthwiseGmac) * (opts.slow ?? 1);
  const r = finishRunRecord(newRunRecord({ id, kind: 'train', experiment: 'x', profile: 'quick', seed: 0, backend: 'test', config }), { testAcc: 0.5 });
  const at = new Date(Date.UTC(2026, 0, 1, 0, opts.at ?? 0)).toISOString();
  return { ...r, wallTimeSec: secs, finishedAt: at, machine: { ...r.machine, ...MACHINE, cpuModel: opts.cpu ?? MACHINE.cpuModel } };
}

const models = ['convmixer_256_8', 'convmixer_256_8_k3', 'convmixer_256_8_p8', 'convmixer_256_8_p2', 'convmixer_128_4', 'convmixer_256_16'];

test('fitCostModel recovers the coefficients of runs that follow them, and predicts a run it did not see', () => {
  const recs = models.flatMap((m, i) => [record(`${m}-1`, m, 1, { at: i }), record(`${m}-4`, m, 4, { at: 10 + i })]);
  const fit = fitCostModel(recs, MACHINE)!;
  assert.equal(fit.fittedOn, 12);
  assert.ok(Math.abs(fit.perImage / TRUE[0]! - 1) < 1e-6, `perImage ${fit.perImage}`);
  assert.ok(Math.abs(fit.perGemmGmac / TRUE[1]! - 1) < 1e-6, `perGemmGmac ${fit.perGemmGmac}`);
  assert.ok(Math.abs(fit.perDepthwiseGmac / TRUE[2]! - 1) < 1e-6, `perDepthwiseGmac ${fit.perDepthwiseGmac}`);
  assert.ok(fit.maxRelError < 1e-6);
  const unseen = record('k15', 'convmixer_256_8_k15', 8);
  const w = runWork(unseen.config as Parameters<typeof runWork>[0]);
  assert.ok(Math.abs(estimateSeconds(fit, w) / unseen.wallTimeSec! - 1) < 1e-6);
});

test('fitCostModel: too few runs give no model; other machines and precisions are not used; a slowed run is dropped', () => {
  const three = models.slice(0, 3).map((m, i) => record(m, m, 2, { at: i }));
  assert.equal(fitCostModel(three, MACHINE), null);
  const others = models.map((m, i) => record(`o-${m}`, m, 2, { cpu: 'Other CPU', at: 20 + i }));
  const bf16 = models.map((m, i) => record(`b-${m}`, m, 2, { precision: 'bf16', slow: 0.5, at: 30 + i }));
  assert.equal(fitCostModel([...three, ...others, ...bf16], MACHINE), null);
  const good = models.flatMap((m, i) => [record(`${m}-2`, m, 2, { at: i }), record(`${m}-3`, m, 3, { at: 10 + i })]);
  const shared = record('shared', 'convmixer_256_8', 2, { slow: 3, at: 50 }); // trained while something else ran
  const fit = fitCostModel([...good, shared], MACHINE)!;
  assert.equal(fit.fittedOn, 12);
  assert.ok(Math.abs(fit.perGemmGmac / TRUE[1]! - 1) < 1e-6);
  // only the `recent` newest runs count
  assert.equal(fitCostModel(good, MACHINE, { recent: 5 })!.fittedOn, 5);
  // the newest 16 runs all one architecture (a table's ablation rows): the window widens into older, varied runs
  const same = Array.from({ length: 16 }, (_, i) => record(`same-${i}`, 'convmixer_256_8', 4, { at: 100 + i }));
  const widened = fitCostModel([...good, ...same], MACHINE)!;
  assert.ok(widened !== null && widened.fittedOn === 28, `fittedOn ${widened?.fittedOn}`);
  assert.ok(Math.abs(widened.perGemmGmac / TRUE[1]! - 1) < 1e-6);
  assert.equal(fitCostModel(same, MACHINE), null); // nothing older to separate the costs with
  // asOf: runs finished later do not count (minute 12 keeps the six 2-epoch runs and three of the 3-epoch ones), and a
  // run three times slower after that moment leaves the model as it was
  const asOf = new Date(Date.UTC(2026, 0, 1, 0, 12)).toISOString();
  assert.equal(fitCostModel(good, MACHINE, { asOf })!.fittedOn, 9);
  const later = models.map((m, i) => record(`late-${m}`, m, 4, { slow: 3, at: 60 + i }));
  const frozen = fitCostModel([...good, ...later], MACHINE, { asOf })!;
  assert.ok(Math.abs(frozen.perGemmGmac / TRUE[1]! - 1) < 1e-6 && frozen.fittedOn === 9);
});

test('tableCost: a finished run costs nothing more, a missing run its whole estimate', () => {
  const dir = join(root, 'table');
  const model = { perImage: 0.001, perGemmGmac: 0.01, perDepthwiseGmac: 0.05, fittedOn: 12, maxRelError: 0.1, machine: '2 x Test CPU' };
  const full = tableCost(TABLE3_EXPERIMENT, 'quick', 1, model, { resultsDir: dir })!;
  assert.equal(full.runsLeft, full.runs);
  assert.ok(Math.abs(full.hoursLeft! - full.hoursTotal!) < 1e-9);
  const relu = TABLE3_EXPERIMENT.rows.find((r) => r.id === 'relu')!;
  const recipe = rowRecipe(TABLE3_EXPERIMENT, relu, 'quick', 0);
  const rec = finishRunRecord(newRunRecord({ id: 'table3-relu-quick-s0', kind: 'train', experiment: 'table3', table: 'table3', row: 'relu', profile: 'quick', seed: 0, backend: 'test', config: { ...recipe } }), { testAcc: 0.4 });
  saveRunRecord(rec, dir);
  assert.equal(loadRunRecords({}, dir).length, 1);
  const after1 = tableCost(TABLE3_EXPERIMENT, 'quick', 1, model, { resultsDir: dir })!;
  assert.equal(after1.runsLeft, full.runsLeft - 1);
  const reluHours = estimateSeconds(model, runWork(recipe)) / 3600;
  assert.ok(Math.abs(full.hoursLeft! - after1.hoursLeft! - reluHours) < 1e-9);
  assert.match(tableCostLine(after1), /^\d+ of \d+ runs left, about [\d.]+ h of [\d.]+ h on this machine \(2 x Test CPU; cost model fitted to its 12 most recent/);
  assert.match(tableCostLine({ ...after1, model: null, hoursLeft: null, hoursTotal: null }), /no estimate/);
});

test('hoursAtEpochs: a shared run counts once, and hours scale with epochs', () => {
  const model = { perImage: 0.001, perGemmGmac: 0.01, perDepthwiseGmac: 0.05, fittedOn: 12, maxRelError: 0.1, machine: '2 x Test CPU' };
  const t3 = hoursAtEpochs([TABLE3_EXPERIMENT], 'quick', 2, 1, model);
  const both = hoursAtEpochs([TABLE3_EXPERIMENT, TABLE4_EXPERIMENT], 'quick', 2, 1, model);
  const t4 = hoursAtEpochs([TABLE4_EXPERIMENT], 'quick', 2, 1, model);
  assert.equal(t3.runs, 20);
  assert.equal(both.runs, t3.runs + t4.runs - 2); // Table 3's baseline is Table 4's kernel-9 row (2 seeds)
  const both4 = hoursAtEpochs([TABLE3_EXPERIMENT, TABLE4_EXPERIMENT], 'quick', 2, 4, model);
  assert.ok(Math.abs(both4.hours / both.hours - 4) < 1e-9);
});
