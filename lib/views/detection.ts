// What notebook 05-detection shows: seed 000's YOLO-ConvMixer next to this suite's runs of the 'detection' experiment
// table (training records with train and test mAP per epoch, and their `convmixer eval detection` records for inference
// speed, per-class AP and the kept boxes), the seed's one claim about its run (dramatic overfitting) checked with
// numbers, curves, per-class AP and test images with boxes (ground truth red, predictions green, as the seed's figure).
import sharp from 'sharp';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../io.ts';
import { loadRunRecords, RESULTS_DIR, type Profile, type RunRecord } from '../runRecord.ts';
import { VOC_CLASSES, type Box } from '../data/voc.ts';
import { DETECTION_EXPERIMENT } from '../experiments/detection.ts';
import { tableStatus, type RowStatus } from '../experiments/runner.ts';
import { barFigure, epochSeries, lineFigure, type Figure } from './plots.ts';
import { drawBoxes, GROUND_TRUTH_RED, PREDICTION_GREEN } from './boxes.ts';
import { trainMinutesPerEpoch } from './segmentation.ts';

export interface DetRowView {
  id: string;
  label: string;
  status: RowStatus;
  /** Seed 0's finished training record and its eval record, where they exist. */
  train: RunRecord | null;
  eval: RunRecord | null;
}

export interface DetectionView { profile: Profile; protocol: string; rows: DetRowView[] }

export function detectionView(profile: Profile, seeds = 1, resultsDir = RESULTS_DIR): DetectionView {
  const table = DETECTION_EXPERIMENT;
  const status = tableStatus(table, profile, seeds, { resultsDir });
  const evals = new Map(loadRunRecords({ kind: 'eval', experiment: 'detection-eval' }, resultsDir).map((r) => [r.id, r]));
  const rows = status.map((s) => {
    const run = s.runs[0]!;
    const train = run.state === 'finished' ? run.record : null;
    return { id: s.id, label: s.label, status: s, train, eval: train ? evals.get(`eval-${run.runId}`) ?? null : null };
  });
  return { profile, protocol: table.protocols[profile].why, rows };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const pct = (v: number | null): number | null => (v === null ? null : Math.round(10000 * v) / 100);

/** The measured row of the notebook's table: params, train / test mAP@0.5, images/s, minutes per epoch. */
export interface DetMeasuredRow {
  label: string;
  model: string;
  params: number | null;
  epochs: number | null;
  trainMAP: number | null;
  testMAP: number | null;
  testMAPAll: number | null;
  bestTestMAP: number | null;
  bestEpoch: number | null;
  inferImgPerSec: number | null;
  trainMinutesPerEpoch: number | null;
}

export function detMeasuredRows(view: DetectionView): DetMeasuredRow[] {
  return view.rows.filter((r) => r.train).map((r) => {
    const m = r.train!.metrics, e = r.eval?.metrics ?? {};
    return {
      label: r.label, model: String(r.train!.config['modelName'] ?? ''), params: num(m['params']), epochs: r.train!.epochs?.length ?? null,
      trainMAP: num(e['trainMAP'] ?? m['trainMAP']), testMAP: num(e['testMAP'] ?? m['testMAP']), testMAPAll: num(e['testMAPAll'] ?? m['testMAPAll']),
      bestTestMAP: num(m['bestTestMAP']), bestEpoch: num(m['bestEpoch']), inferImgPerSec: num(e['inferImgPerSec']), trainMinutesPerEpoch: trainMinutesPerEpoch(r.train),
    };
  });
}

export interface DetClaim { claim: string; verdict: 'held' | 'did not hold' | 'not run'; detail: string }

/**
 * The seed's one statement about its trained model: it "dramatically overfitted" (no numbers). Here: held when the
 * final model's mAP@0.5 on its training images is at least twice its test mAP and at least 10 points higher.
 */
export function detClaims(view: DetectionView): DetClaim[] {
  const row = detMeasuredRows(view)[0];
  const claim = 'dramatic overfitting (train mAP far above test mAP)';
  if (!row || row.trainMAP === null || row.testMAP === null) return [{ claim, verdict: 'not run', detail: 'no finished run with train and test mAP at this profile' }];
  const held = row.trainMAP >= 2 * row.testMAP && row.trainMAP - row.testMAP >= 0.1;
  return [{
    claim, verdict: held ? 'held' : 'did not hold',
    detail: `train mAP@0.5 ${pct(row.trainMAP)}% vs test ${pct(row.testMAP)}% after ${row.epochs} epochs (criterion: train at least 2x test and 10 points above; one seed, from scratch, not the seed's ImageNet start)`,
  }];
}

/** Per-epoch train and test mAP@0.5, and train / test YOLO loss, of each row's seed-0 run. */
export function detCurveFigures(view: DetectionView): { map: Figure; loss: Figure } {
  const series = (key: string, scale = 1) => epochSeries(view.rows, key, scale);
  return {
    map: lineFigure([
      ...series('trainMAP', 100).map((s) => ({ ...s, name: `${s.name} (train images)` })),
      ...series('testMAP', 100).map((s) => ({ ...s, name: `${s.name} (test images)` })),
    ], { title: 'mAP@0.5 (VOC2007 11-point) per epoch', xTitle: 'epoch', yTitle: 'mAP@0.5 (%)' }),
    loss: lineFigure([
      ...series('trainLoss').map((s) => ({ ...s, name: `${s.name} (train)` })),
      ...series('testLoss').map((s) => ({ ...s, name: `${s.name} (test)` })),
    ], { title: 'YOLOv1 loss per epoch (per image)', xTitle: 'epoch', yTitle: 'loss' }),
  };
}

/** Per-class AP@0.5 on the test split and on the training images of the first row's final model (eval record, else training record). */
export function detPerClassFigure(view: DetectionView): Figure | null {
  const r = view.rows.find((x) => x.train);
  if (!r) return null;
  const m = r.eval?.metrics ?? r.train!.metrics;
  const series = [{ name: 'test', key: 'testAP' }, ...(r.eval ? [{ name: 'train images', key: 'trainAP' }] : [])];
  return barFigure([...VOC_CLASSES], series.map((s) => ({ name: `${r.label} (${s.name})`, y: VOC_CLASSES.map((c) => { const v = num(m[`${s.key}.${c}`]); return v === null ? null : 100 * v; }) })),
    { title: 'Per-class AP@0.5 (VOC2007 11-point)', yTitle: 'AP (%)' });
}

interface KeptBoxes { size: number; drawThreshold: number; images: { id: string; truth: { cls: string; box: number[] }[]; predicted: { cls: string; score: number; box: number[] }[] }[] }

/**
 * One PNG: the first kept test images of the first row's eval record side by side at the network's input size,
 * ground truth in red and predictions above the eval's drawing threshold in green. Null without an eval record.
 */
export async function detPictureGrid(view: DetectionView): Promise<{ png: Uint8Array; ids: string[]; drawThreshold: number; boxes: number } | null> {
  const r = view.rows.find((x) => x.eval && typeof x.eval.metrics['framesFile'] === 'string' && typeof x.eval.metrics['boxesFile'] === 'string');
  if (!r) return null;
  const framesFile = resolve(REPO_ROOT, String(r.eval!.metrics['framesFile'])), boxesFile = resolve(REPO_ROOT, String(r.eval!.metrics['boxesFile']));
  if (!existsSync(framesFile) || !existsSync(boxesFile)) return null;
  const kept = JSON.parse(readFileSync(boxesFile, 'utf8')) as KeptBoxes;
  const S = kept.size, n = kept.images.length;
  const frames = await sharp(framesFile).removeAlpha().raw().toBuffer();
  const gap = 6, width = n * S + (n - 1) * gap;
  const out = new Uint8Array(width * S * 3).fill(255);
  let drawn = 0;
  kept.images.forEach((img, i) => {
    const tile = new Uint8Array(frames.subarray(i * S * S * 3, (i + 1) * S * S * 3));
    const boxes = [...img.truth.map((t) => ({ box: t.box as Box, color: GROUND_TRUTH_RED })), ...img.predicted.map((p) => ({ box: p.box as Box, color: PREDICTION_GREEN }))];
    drawn += img.predicted.length;
    const painted = drawBoxes(tile, S, S, boxes, 2);
    for (let y = 0; y < S; y++) out.set(painted.subarray(y * S * 3, (y + 1) * S * 3), (y * width + i * (S + gap)) * 3);
  });
  const png = new Uint8Array(await sharp(Buffer.from(out), { raw: { width, height: S, channels: 3 } }).png().toBuffer());
  return { png, ids: kept.images.map((k) => k.id), drawThreshold: kept.drawThreshold, boxes: drawn };
}
