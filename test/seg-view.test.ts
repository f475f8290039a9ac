// Notebook 04's view over synthetic segmentation records: the seed's claims decided from the records' values, the
// plateau rule, and records trained under an earlier protocol (stale) shown but not compared with current ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishRunRecord, newRunRecord, saveRunRecord } from '../lib/runRecord.ts';
import { SEGMENTATION_EXPERIMENT } from '../lib/experiments/segmentation.ts';
import { tableRowRecipe } from '../lib/experiments/table.ts';
import { PLATEAU_EPOCHS, plateauRule, segClaims, segmentationView, segPlateau } from '../lib/views/segmentation.ts';

const root = mkdtempSync(join(tmpdir(), 'cm-segview-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, String(n++));

/** A finished quick-profile training record of a row with the table's current recipe (or `epochs` changed), its test
 * mIoU per epoch, test Dice loss and training speed; then its eval record (inference img/s). */
function saveRow(dir: string, rowId: 'unet' | 'convmixer-unet', o: { miou: number[]; dice: number; imgPerSec: number; params: number; infer: number; epochs?: number }): void {
  const row = SEGMENTATION_EXPERIMENT.rows.find((r) => r.id === rowId)!;
  const recipe = tableRowRecipe(SEGMENTATION_EXPERIMENT, row, 'quick', 0);
  const runId = `segmentation-${rowId}-quick-s0`;
  let train = newRunRecord({ id: runId, kind: 'train', experiment: 'segmentation', table: 'segmentation', row: rowId, profile: 'quick', seed: 0, backend: 'test',
    config: { ...recipe, epochs: o.epochs ?? recipe.epochs, trainImages: 367, params: o.params } });
  const epochs = o.miou.map((m, i) => ({ epoch: i + 1, lr: 1e-3, trainLoss: 0.5, testLoss: o.dice, testMIoU: m, imgPerSec: o.imgPerSec, seconds: 1 }));
  train = finishRunRecord({ ...train, epochs }, { testMIoU: o.miou.at(-1)!, testLoss: o.dice });
  saveRunRecord(train, dir);
  const ev = finishRunRecord(newRunRecord({ id: `eval-${runId}`, kind: 'eval', experiment: 'segmentation-eval', profile: 'quick', seed: 0, backend: 'test', config: {} }), { inferImgPerSec: o.infer });
  saveRunRecord(ev, dir);
}

const flat = (k: number, v: number) => Array.from({ length: k }, () => v);

test('segmentation view: the seed\'s five claims decided from the records, both ways', () => {
  const dir = freshDir();
  // ConvMixer-Unet: fewer params, slower training (367 / 0.5 img/s = 12.2 min vs 6.1), faster inference, lower Dice, higher IoU
  saveRow(dir, 'convmixer-unet', { miou: flat(15, 0.40), dice: 0.5, imgPerSec: 0.5, params: 22e6, infer: 5 });
  saveRow(dir, 'unet', { miou: flat(15, 0.30), dice: 0.6, imgPerSec: 1, params: 31e6, infer: 4 });
  const claims = segClaims(segmentationView('quick', 1, dir));
  assert.deepEqual(claims.map((c) => [c.column, c.verdict]), [
    ['#params (M)', 'held'], ['minutes / epoch', 'held'], ['inference (img/s)', 'did not hold'], ['Dice loss', 'held'], ['IoU', 'held'],
  ]);
  const minutes = claims[1]!;
  assert.ok(Math.abs(minutes.hereConvMixerUnet! - 367 / 0.5 / 60) < 1e-9 && Math.abs(minutes.hereUnet! - 367 / 60) < 1e-9);
  assert.deepEqual([claims[3]!.hereConvMixerUnet, claims[4]!.hereUnet], [0.5, 0.3]);
});

test('segPlateau: the best test mIoU of the last epochs against the best before them, in points', () => {
  const dir = freshDir();
  // still rising by 2 points per epoch: the last 3 epochs' best (44) beats the best before (38) by 6 points
  saveRow(dir, 'unet', { miou: [0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42, 0.44], dice: 0.6, imgPerSec: 1, params: 31e6, infer: 4 });
  // flat at the end: +0.5 point
  saveRow(dir, 'convmixer-unet', { miou: [0.20, 0.30, 0.35, 0.36, 0.365, 0.362, 0.364], dice: 0.5, imgPerSec: 1, params: 22e6, infer: 4 });
  const p = segPlateau(segmentationView('quick', 1, dir));
  const rounded = p.map((r) => ({ ...r, bestBefore: +r.bestBefore.toFixed(6), bestLast: +r.bestLast.toFixed(6), gain: +r.gain.toFixed(6) }));
  assert.deepEqual(rounded, [
    { label: 'Unet', epochs: 8, bestBefore: 38, bestLast: 44, gain: 6, plateau: false },
    { label: 'ConvMixer-Unet', epochs: 7, bestBefore: 36, bestLast: 36.5, gain: 0.5, plateau: true },
  ]);
  assert.equal(PLATEAU_EPOCHS, 3);
  assert.match(plateauRule(), /last 3 epochs .* less than 1 point/);
});

test('segmentation view: a record trained under an earlier protocol is shown as stale, and not compared with a current one', () => {
  const dir = freshDir();
  const current = SEGMENTATION_EXPERIMENT.protocols.quick.epochs;
  saveRow(dir, 'unet', { miou: flat(current, 0.30), dice: 0.6, imgPerSec: 1, params: 31e6, infer: 4 });
  saveRow(dir, 'convmixer-unet', { miou: flat(5, 0.40), dice: 0.5, imgPerSec: 0.5, params: 22e6, infer: 5, epochs: 5 });
  const view = segmentationView('quick', 1, dir);
  assert.deepEqual(view.rows.map((r) => [r.label, r.status.runs[0]!.state, r.stale]), [
    ['Unet', 'finished', null], ['ConvMixer-Unet', 'stale', `trained with epochs 5, now ${current}`],
  ]);
  assert.ok(view.rows.every((r) => r.train !== null), 'both records are still shown');
  // parameters do not depend on training; every trained column waits for equal conditions
  assert.deepEqual(segClaims(view).map((c) => c.verdict), ['held', 'not comparable', 'not comparable', 'not comparable', 'not comparable']);
  assert.match(segClaims(view)[4]!.note, /1 and 1 finished seed\(s\)/, 'a stale record counts as the seed it is');
});

test('segmentation view: an eval record older than its training record belongs to an earlier training and is not shown', () => {
  const dir = freshDir();
  saveRow(dir, 'unet', { miou: flat(4, 0.30), dice: 0.6, imgPerSec: 1, params: 31e6, infer: 4 });
  const row = segmentationView('quick', 1, dir).rows.find((r) => r.id === 'unet')!;
  assert.ok(row.eval !== null);
  // train again after that eval: same run id, newer finishedAt
  const rec = { ...row.train!, finishedAt: new Date(Date.now() + 60_000).toISOString() };
  saveRunRecord(rec, dir);
  assert.equal(segmentationView('quick', 1, dir).rows.find((r) => r.id === 'unet')!.eval, null);
});
