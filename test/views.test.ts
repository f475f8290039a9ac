// What the CIFAR notebooks compute: effect verdicts against hand-computed cases, the formatter, and the Appendix C
// pictures from hand-made weights (pixel values checked after decoding the PNG).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { chosenPilotBudget, effectResults, effectSummaryLines, effectTableRows, minResolvableDelta, pooledSeedStd, seedsToResolveDelta, effectRuleMarkdown, EFFECT_SE_FACTOR, pilotBudgets, pilotEffects, pilotTrendLines, type Effect } from '../lib/views/cifar.ts';
import { filterImages } from '../lib/views/filters.ts';
import { round, percent, signedPoints, count } from '../lib/views/format.ts';
import { writeSafetensors } from '../lib/models/safetensors.ts';
import type { RowStatus } from '../lib/experiments/runner.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-views-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function row(id: string, paper: number | null, accs: number[]): RowStatus {
  const mean = accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : null;
  const std = accs.length > 1 ? Math.sqrt(accs.reduce((a, b) => a + (b - mean!) ** 2, 0) / (accs.length - 1)) : null;
  return { table: 't', id, label: id, group: 'g', runOf: { table: 't', row: id }, paper, runs: [], done: true, value: mean, std, seedsFinished: accs.length };
}

test('effectResults: sign and size against twice the standard error of the difference, by hand', () => {
  const e = (a: string): Effect => ({ id: a, claim: a, a: { table: 't', row: a }, b: { table: 't', row: 'base' } });
  const rows = [
    row('base', 95, [50, 52]), // mean 51, s = sqrt(2)
    row('clear-drop', 90, [40, 42]), // delta -10; se = sqrt(2/2 + 2/2) = sqrt(2); 10 > 2*1.414
    row('small-drop', 94, [50, 51]), // delta -0.5; s = 0.7071, se = sqrt(1 + 0.25) = 1.118; 0.5 < 2.236
    row('reversed', 94, [60, 62]), // delta +10 against a paper drop
    row('one-seed', 94, [45]),
    row('missing', 94, []),
  ];
  const r = Object.fromEntries(effectResults(['clear-drop', 'small-drop', 'reversed', 'one-seed', 'missing', 'nope'].map(e), rows).map((x) => [x.id, x]));
  assert.deepEqual([r['clear-drop']!.verdict, r['clear-drop']!.delta, r['clear-drop']!.paperDelta], ['reproduced', -10, -5]);
  assert.ok(Math.abs(r['clear-drop']!.se! - Math.SQRT2) < 1e-12);
  assert.equal(r['small-drop']!.verdict, 'within seed spread');
  assert.ok(Math.abs(r['small-drop']!.se! - Math.sqrt(1.25)) < 1e-12);
  assert.equal(r['reversed']!.verdict, 'opposite');
  assert.deepEqual([r['one-seed']!.verdict, r['one-seed']!.delta], ['too few seeds', -6]);
  assert.deepEqual([r['missing']!.verdict, r['missing']!.delta], ['not run', null]);
  assert.equal(r['nope']!.verdict, 'not run');
  assert.match(effectRuleMarkdown(), new RegExp(`exceeds ${EFFECT_SE_FACTOR} standard errors`));
});

test('pooledSeedStd and seedsToResolve: the seed spread pooled over rows, and the seeds a paper delta needs, by hand', () => {
  // base: s² = 2 (1 dof); a: 50, 52, 54 -> s² = 4 (2 dof); pooled s² = (2 + 8) / 3; 'same' reports base's run (counted once).
  const rows = [row('base', 95, [50, 52]), row('a', 94, [50, 52, 54]), row('one', 90, [40]), { ...row('same', 95, [50, 52]), runOf: { table: 't', row: 'base' } }];
  assert.ok(Math.abs(pooledSeedStd(rows)! - Math.sqrt(10 / 3)) < 1e-12);
  assert.equal(pooledSeedStd([row('one', 90, [40])]), null);
  // F = 2, s = 2: n > 2 (2·2/Δ)²: Δ 1 -> n > 32 -> 33; Δ 4 -> n > 2 -> 3; Δ 10 -> the floor of 2 seeds; Δ 0 -> never.
  assert.deepEqual([1, -4, 10, 0].map((d) => seedsToResolveDelta(d, 2)), [33, 3, 2, Infinity]);
  // The inverse: F·s·√(2/n) at s = 2: n 2 -> 4, n 32 -> 1 (just not below Δ 1, so 33 seeds), n 8 -> 2.
  assert.deepEqual([2, 32, 8].map((n) => minResolvableDelta(2, n)), [4, 1, 2]);
  // The effect 'a' vs 'base' (paper Δ -1) at the pooled spread: n > 2 (2 s)² = 8 · 10/3 = 26.67 -> 27.
  const [r] = effectResults([{ id: 'a', claim: 'a', a: { table: 't', row: 'a' }, b: { table: 't', row: 'base' } }], rows);
  assert.equal(EFFECT_SE_FACTOR, 2);
  assert.equal(r!.seedsToResolve, 27);
  const [tableRow] = effectTableRows([r!]);
  assert.deepEqual([tableRow!['Paper Δ (points) [reference]'], tableRow!['Reproduced Δ'], tableRow!['Seeds per row to resolve the paper Δ']], ['-1.00', '+1.00', 27]);
  const lines = effectSummaryLines([r!], rows);
  assert.equal(lines[0], 'Of 1 effects: 1 within seed spread.');
  assert.equal(lines[1], '- not reproduced (within seed spread): a; paper -1.00, here +1.00 (2 SE 3.06)'); // 2·√(4/3 + 2/2)
  assert.match(lines[2]!, /^Seed spread: pooled std over seeds 1\.83 points, so with 2 seeds per row \(the fewest of any row with two or more\) a difference must exceed 3\.65 points/);
  // Every row with 3 seeds: base 50, 52, 54 and a 50, 52, 54 -> s = 2 pooled; the threshold is 2·2·√(2/3) = 3.27.
  const three = [row('base', 95, [50, 52, 54]), row('a', 94, [50, 52, 54]), row('one', 90, [40])];
  assert.match(effectSummaryLines([], three)[1]!, /^Seed spread: pooled std over seeds 2\.00 points, so with 3 seeds per row a difference must exceed 3\.27 points/);
});

test('format: rounding, percents from fractions, signed points, counts', () => {
  assert.deepEqual([round(3.14159), round(3.14159, 3), round(null), round(NaN)], [3.14, 3.142, null, null]);
  assert.deepEqual([percent(0.95123), percent(null)], [95.12, null]);
  assert.deepEqual([signedPoints(0.15), signedPoints(-3.02), signedPoints(0), signedPoints(null)], ['+0.15', '-3.02', '+0.00', '–']);
  assert.equal(count(707210), '707,210');
});

test('filterImages: per-filter normalised colour tiles for the patch embedding and grey tiles per depthwise layer', async () => {
  // dim 2, patch 1, one block with 2x2 depthwise kernels
  const file = join(tmp, 'w.safetensors');
  writeSafetensors(file, {
    'stem.0.weight': { shape: [2, 3, 1, 1], data: Float32Array.from([0, 1, 2, /* filter 2 */ 5, 5, 5]) },
    'blocks.0.0.fn.0.weight': { shape: [2, 1, 2, 2], data: Float32Array.from([0, 1, 2, 3, /* ch 2 */ -1, -1, -1, -1]) },
  });
  const images = await filterImages(file);
  assert.deepEqual(images.map((i) => i.title), [
    'Patch-embedding filters (first 2 of 2, 1x1x3, each normalised)',
    'Depthwise kernels of layer 1 of 1 (first 2 of 2 channels, 2x2, each normalised)',
  ]);
  const pixel = async (png: Uint8Array, x: number, y: number): Promise<number[]> => {
    const { data, info } = await sharp(Buffer.from(png)).raw().toBuffer({ resolveWithObject: true });
    const i = (y * info.width + x) * info.channels;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  // stem tiles are 12x scaled with a 1-pixel (scaled) gap: filter 1 at (12, 12), filter 2 at (36, 12)
  assert.deepEqual(await pixel(images[0]!.png, 12, 12), [0, 128, 255]); // (0, 1, 2) -> 0, 0.5, 1
  assert.deepEqual(await pixel(images[0]!.png, 36, 12), [128, 128, 128]); // constant filter: mid-grey
  assert.deepEqual(await pixel(images[0]!.png, 0, 0), [255, 255, 255]); // the gap
  // depthwise tiles 4x scaled: kernel 1's four values 0..3 -> 0, 85, 170, 255 in row-major order
  const k1 = await Promise.all([[4, 4], [8, 4], [4, 8], [8, 8]].map(([x, y]) => pixel(images[1]!.png, x!, y!)));
  assert.deepEqual(k1.map((p) => p[0]), [0, 85, 170, 255]);
  assert.ok(k1.every((p) => p[0] === p[1] && p[1] === p[2]), 'grey');
});

test('comparisonParamsTable: the comparison rows of Tables 1 and 2 built and counted; exactly the three known misprints flagged', async () => {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const { comparisonParamsTable } = await import('../lib/views/architecture.ts');
  const rows = comparisonParamsTable();
  assert.equal(rows.length, 19);
  assert.deepEqual(rows.filter((r) => r.model.startsWith('swin')).map((r) => [r.where, r.built, r.inTimm]),
    [['Table 2 Swin-S p4', 49_606_258, true], ['Table 2 Swin-T p4', 28_288_354, true]]);
  assert.deepEqual(rows.find((r) => r.model === 'resnet50')!.built, 25_557_032);
  assert.deepEqual(rows.filter((r) => r.status === 'discrepancy').map((r) => [r.where, r.built, r.note]), [
    ['Table 2 ResNet-101 p-', 44_549_160, 'built 44.549M; the printed 44.6M is neither its rounding nor its truncation (rounding twice, to 2 then 1 decimals, gives it)'],
    ['Table 2 DeiT-Ti† p7', 5_757_160, 'built 5.757M; the printed 5.7M is neither its rounding nor its truncation'],
    // timm's and torchvision's Swin-T (measured with torchvision 0.14); the Swin paper itself says 28M.
    ['Table 2 Swin-T p4', 28_288_354, 'built 28.288M; the printed 29M is neither its rounding nor its truncation'],
  ]);
});

test('pilotBudgets / chosenPilotBudget: mean |Δ|/SE per budget, only affordable budgets, a near-tie goes to the larger budget', () => {
  const pilotRow = (id: string, accs: number[]) => ({ ...row(id, null, accs), table: 'pilot' });
  // budget 1: every effect 10 points on a spread of s = sqrt(2) per row -> se sqrt(2), ratio 10/sqrt(2) = 7.07
  // budget 2: effects 9.5 (ratio 6.72, within 10% of 7.07); budget 4: ratio 14.1 but unaffordable; budget 8: one seed
  const rows: RowStatus[] = [];
  const add = (e: number, base: number, d: number) => {
    rows.push(pilotRow(`baseline-e${e}`, [base, base + 2]));
    for (const id of ['k3-p1', 'p8', 'no-randaug']) rows.push(pilotRow(`${id}-e${e}`, [base - d, base - d + 2]));
  };
  add(1, 50, 10); add(2, 50, 9.5); add(4, 50, 20);
  rows.push(pilotRow('baseline-e8', [60]));
  for (const id of ['k3-p1', 'p8', 'no-randaug']) rows.push(pilotRow(`${id}-e8`, [50, 52]));
  const effects = pilotEffects(rows, [1, 2, 4, 8]);
  const hours: Record<number, number> = { 1: 3, 2: 6, 4: 25, 8: 50 };
  const budgets = pilotBudgets(effects, (e) => hours[e] ?? null);
  assert.deepEqual(budgets.map((b) => [b.epochs, b.fits]), [[1, true], [2, true], [4, false], [8, false]]);
  assert.ok(Math.abs(budgets[0]!.score! - 10 / Math.SQRT2) < 1e-9);
  assert.ok(Math.abs(budgets[1]!.score! - 9.5 / Math.SQRT2) < 1e-9);
  assert.equal(budgets[3]!.score, null);
  assert.equal(chosenPilotBudget(budgets), 2);
  // budget 2 further off than 10%: budget 1 wins; nothing affordable with a score: no choice
  assert.equal(chosenPilotBudget(budgets.map((b) => (b.epochs === 2 ? { ...b, score: 6 } : b))), 1);
  assert.equal(chosenPilotBudget(budgets.map((b) => ({ ...b, fits: false }))), null);
  // a budget dropped before its runs gets a cost and no score (never NaN), and is never chosen
  const withDropped = pilotBudgets(effects.filter((e) => e.epochs <= 2), (e) => hours[e] ?? null, [16]);
  assert.deepEqual(withDropped.map((b) => [b.epochs, b.score === null, b.hours]), [[1, false, 3], [2, false, 6], [16, true, null]]);
  assert.equal(chosenPilotBudget(withDropped), 2);
});

test('pilotTrendLines: one line per pilot effect, its delta and verdict at each budget in epoch order', () => {
  const pilotRow = (id: string, paper: number, accs: number[]) => ({ ...row(id, paper, accs), table: 'pilot' });
  // 1 epoch: kernel 3 one point below on a spread of sqrt(2) per row (SE sqrt(2)): within seed spread;
  // 2 epochs: ten points below: reproduced. Patch 8 and – RandAug have no runs.
  const rows: RowStatus[] = [
    pilotRow('baseline-e2', 95, [60, 62]), pilotRow('k3-p1-e2', 93, [50, 52]),
    pilotRow('baseline-e1', 95, [50, 52]), pilotRow('k3-p1-e1', 93, [49, 51]),
  ];
  const effects = pilotEffects(rows, [2, 1]);
  assert.deepEqual(pilotTrendLines(effects, ['k3']), ['kernel 3 < kernel 9 (paper -2.00): 1 epoch -1.00 (within seed spread); 2 epochs -10.00 (reproduced)']);
  const all = pilotTrendLines(effects);
  assert.equal(all.length, 3);
  assert.equal(all[1], 'patch 8 << patch 1 (paper –): 1 epoch not run; 2 epochs not run');
});

test('effectResults: per-seed differences pair the seeds both rows finished', () => {
  const withRuns = (id: string, scores: Array<number | null>): RowStatus => {
    const r = row(id, 90, scores.filter((x): x is number => x !== null).map((x) => 100 * x));
    const runs = scores.map((score, seed) => ({ table: 't', row: id, seed, profile: 'quick' as const, runId: `${id}-s${seed}`, state: score === null ? 'missing' as const : 'finished' as const, testAcc: score, score, epochsDone: 1, epochs: 1, reason: null, record: null }));
    return { ...r, runs };
  };
  const rows = [withRuns('base', [0.5, 0.52, 0.40]), withRuns('a', [0.45, 0.50, null])];
  const [r] = effectResults([{ id: 'a', claim: 'a', a: { table: 't', row: 'a' }, b: { table: 't', row: 'base' } }], rows);
  assert.equal(r!.seedDeltas.length, 2);
  assert.ok(Math.abs(r!.seedDeltas[0]! + 5) < 1e-9 && Math.abs(r!.seedDeltas[1]! + 2) < 1e-9);
});
