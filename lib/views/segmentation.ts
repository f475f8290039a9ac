// What notebook 04-segmentation shows: seed 000's Unet vs ConvMixer-Unet table next to this suite's runs (training
// records of the 'segmentation' experiment table, and their `convmixer eval segmentation` records for inference speed
// and the prediction pictures), the seed's five claims checked one by one, curves, per-class IoU and a picture grid.
import sharp from 'sharp';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../io.ts';
import { loadRunRecords, RESULTS_DIR, type Profile, type RunRecord } from '../runRecord.ts';
import { modelInfo } from '../models/registry.ts';
import { CAMVID_PALETTE, CITYSCAPES_PALETTE } from '../data/segmentation.ts';
import { SEED000_SEGMENTATION } from '../paper/seed000.ts';
import { SEGMENTATION_EXPERIMENT } from '../experiments/segmentation.ts';
import { tableStatus, type RowStatus } from '../experiments/runner.ts';
import { readLabelMapPng } from '../eval/segmentation.ts';
import { barFigure, epochSeries, lineFigure, type Figure } from './plots.ts';

export interface SegRowView {
  id: string;
  label: string;
  /** Seed 000's model name for this row (its printed values are SEED000_SEGMENTATION's). */
  seedModel: 'unet' | 'convmixer_unet';
  status: RowStatus;
  /** Seed 0's finished training record and its eval record, where they exist; a stale record (trained under an earlier
   * protocol) is shown too, with `stale` saying what changed. */
  train: RunRecord | null;
  eval: RunRecord | null;
  /** Why seed 0's record is not this profile's current recipe ('epochs 5, now 15'), or null. */
  stale: string | null;
}

export interface SegmentationView {
  profile: Profile;
  protocol: string;
  rows: SegRowView[];
}

export function segmentationView(profile: Profile, seeds = 1, resultsDir = RESULTS_DIR): SegmentationView {
  const table = SEGMENTATION_EXPERIMENT;
  const status = tableStatus(table, profile, seeds, { resultsDir });
  const evals = new Map(loadRunRecords({ kind: 'eval', experiment: 'segmentation-eval' }, resultsDir).map((r) => [r.id, r]));
  const rows = status.map((s) => {
    const run = s.runs[0]!;
    const train = run.state === 'finished' || run.state === 'stale' ? run.record : null;
    // An eval record of an earlier training of the same run id (its final weights since replaced) is not this run's.
    const ev = train ? evals.get(`eval-${run.runId}`) ?? null : null;
    return {
      id: s.id, label: s.label, seedModel: (s.id === 'unet' ? 'unet' : 'convmixer_unet') as SegRowView['seedModel'], status: s, train,
      eval: ev && train && ev.startedAt >= (train.finishedAt ?? '') ? ev : null, stale: run.state === 'stale' ? run.reason : null,
    };
  });
  return { profile, protocol: table.protocols[profile].why, rows };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Training minutes per epoch (without the evaluation), the mean over a record's epochs. */
export function trainMinutesPerEpoch(record: RunRecord | null): number | null {
  const n = num(record?.config['trainImages']);
  const epochs = record?.epochs ?? [];
  if (!n || !epochs.length) return null;
  return epochs.reduce((s, e) => s + n / e['imgPerSec']!, 0) / epochs.length / 60;
}

export interface SegClaim {
  column: string;
  claim: string;
  /** Seed's printed values (reference data). */
  seedConvMixerUnet: number;
  seedUnet: number;
  hereConvMixerUnet: number | null;
  hereUnet: number | null;
  /** Whether the seed's direction held here; 'not run' without both values; 'not comparable' when the two rows' records
   * were trained under different protocols (one of them stale). */
  verdict: 'held' | 'did not hold' | 'not run' | 'not comparable';
  note: string;
}

/** The seed's table, column by column, with this suite's values and whether the seed's claim held. */
export function segClaims(view: SegmentationView): SegClaim[] {
  const cmu = view.rows.find((r) => r.seedModel === 'convmixer_unet')!, unet = view.rows.find((r) => r.seedModel === 'unet')!;
  const seedC = SEED000_SEGMENTATION.find((r) => r.model === 'convmixer_unet')!, seedU = SEED000_SEGMENTATION.find((r) => r.model === 'unet')!;
  const verdict = (c: number | null, u: number | null, cmuShouldBe: 'lower' | 'higher'): SegClaim['verdict'] =>
    c === null || u === null ? 'not run' : (cmuShouldBe === 'lower' ? c < u : c > u) ? 'held' : 'did not hold';
  // seeds with a finished record, current or stale (a stale one is shown, marked)
  const seeds = (r: SegRowView) => r.status.runs.filter((x) => x.state === 'finished' || x.state === 'stale').length;
  const paramsC = num(cmu.train?.config['params']) ?? modelInfo('convmixer_unet_camvid').paramCount;
  const paramsU = num(unet.train?.config['params']) ?? modelInfo('unet_camvid').paramCount;
  const minC = trainMinutesPerEpoch(cmu.train), minU = trainMinutesPerEpoch(unet.train);
  const infC = num(cmu.eval?.metrics['inferImgPerSec']), infU = num(unet.eval?.metrics['inferImgPerSec']);
  const diceC = num(cmu.train?.metrics['testLoss']), diceU = num(unet.train?.metrics['testLoss']);
  const iouC = num(cmu.train?.metrics['testMIoU']), iouU = num(unet.train?.metrics['testMIoU']);
  // Equal conditions are the seed's point: training results of one row under an earlier protocol are not compared.
  const unequal = !!cmu.train && !!unet.train && (cmu.stale === null) !== (unet.stale === null);
  const trained = (v: SegClaim['verdict']): SegClaim['verdict'] => (unequal && v !== 'not run' ? 'not comparable' : v);
  const oneSeed = `${seeds(cmu)} and ${seeds(unet)} finished seed(s): no spread estimate, a difference smaller than run-to-run variation cannot be told apart`;
  return [
    { column: '#params (M)', claim: 'ConvMixer-Unet has fewer parameters', seedConvMixerUnet: seedC.paramsM, seedUnet: seedU.paramsM,
      hereConvMixerUnet: paramsC / 1e6, hereUnet: paramsU / 1e6, verdict: verdict(paramsC, paramsU, 'lower'),
      note: `exact counts for ${num(cmu.train?.config['model'] && (cmu.train.config['model'] as Record<string, unknown>)['numClasses']) ?? 11} classes; at the seed's 20 classes: ${(modelInfo('convmixer_unet').paramCount / 1e6).toFixed(2)}M vs ${(modelInfo('unet').paramCount / 1e6).toFixed(2)}M` },
    { column: 'minutes / epoch', claim: 'ConvMixer-Unet is slower to train', seedConvMixerUnet: seedC.minutesPerEpoch, seedUnet: seedU.minutesPerEpoch,
      hereConvMixerUnet: minC, hereUnet: minU, verdict: trained(verdict(minC, minU, 'higher')),
      note: 'training time per epoch without evaluation, from the training records (same machine, one after the other); the seed: Cityscapes 256x512 on its GPU, here CamVid at the profile\'s size on 2 CPU cores: compare the ratio, not the minutes' },
    { column: 'inference (img/s)', claim: 'ConvMixer-Unet is slower at inference', seedConvMixerUnet: seedC.inferImgPerSec, seedUnet: seedU.inferImgPerSec,
      hereConvMixerUnet: infC, hereUnet: infU, verdict: trained(verdict(infC, infU, 'lower')),
      note: 'forward passes over the evaluation split, both models timed in one `convmixer eval segmentation` process' },
    { column: 'Dice loss', claim: 'ConvMixer-Unet has the lower Dice loss', seedConvMixerUnet: seedC.diceLoss, seedUnet: seedU.diceLoss,
      hereConvMixerUnet: diceC, hereUnet: diceU, verdict: trained(verdict(diceC, diceU, 'lower')),
      note: `soft Dice loss on the evaluation split after the last epoch (lib/train/segLoss.ts); ${oneSeed}` },
    { column: 'IoU', claim: 'ConvMixer-Unet has the higher IoU', seedConvMixerUnet: seedC.iou, seedUnet: seedU.iou,
      hereConvMixerUnet: iouC, hereUnet: iouU, verdict: trained(verdict(iouC, iouU, 'higher')),
      note: `mean IoU over classes from the confusion matrix, void ignored (the seed does not say how its IoU was averaged); ${oneSeed}` },
  ];
}

/** A run is at its plateau when its best test mIoU of the last PLATEAU_EPOCHS epochs beats the best before them by less
 * than PLATEAU_GAIN_POINTS (percentage points): more epochs of the same schedule would not change the comparison. */
export const PLATEAU_EPOCHS = 3;
export const PLATEAU_GAIN_POINTS = 1;

export interface SegPlateau {
  label: string;
  epochs: number;
  /** Best test mIoU (%) before the last PLATEAU_EPOCHS epochs, and within them; their difference in points. */
  bestBefore: number;
  bestLast: number;
  gain: number;
  plateau: boolean;
}

/** Each row's seed-0 run checked against the plateau rule (rows without a record of more than PLATEAU_EPOCHS epochs are left out). */
export function segPlateau(view: SegmentationView): SegPlateau[] {
  const out: SegPlateau[] = [];
  for (const r of view.rows) {
    const series = (r.train?.epochs ?? []).map((e) => num(e['testMIoU'])).filter((v): v is number => v !== null).map((v) => 100 * v);
    if (series.length <= PLATEAU_EPOCHS) continue;
    const bestBefore = Math.max(...series.slice(0, -PLATEAU_EPOCHS)), bestLast = Math.max(...series.slice(-PLATEAU_EPOCHS));
    const gain = bestLast - bestBefore;
    out.push({ label: r.label, epochs: series.length, bestBefore, bestLast, gain, plateau: gain < PLATEAU_GAIN_POINTS });
  }
  return out;
}

/** The plateau rule as a sentence from the constants, so the notebook's text cannot drift from the code. */
export function plateauRule(): string {
  return `a run is at its plateau when its best test mIoU of the last ${PLATEAU_EPOCHS} epochs beats its best before them by less than ${PLATEAU_GAIN_POINTS} point`;
}

/** Per-epoch test mIoU and train / test Dice loss of both rows' seed-0 runs. */
export function segCurveFigures(view: SegmentationView): { miou: Figure; loss: Figure } {
  const series = (key: string, scale = 1) => epochSeries(view.rows, key, scale);
  return {
    miou: lineFigure(series('testMIoU', 100), { title: 'Test mIoU per epoch', xTitle: 'epoch', yTitle: 'mIoU (%)' }),
    loss: lineFigure([
      ...series('trainLoss').map((s) => ({ ...s, name: `${s.name} (train)` })),
      ...series('testLoss').map((s) => ({ ...s, name: `${s.name} (test)` })),
    ], { title: 'Dice loss per epoch', xTitle: 'epoch', yTitle: 'soft Dice loss' }),
  };
}

/** Per-class test IoU of both rows (final model). */
export function segPerClassFigure(view: SegmentationView): Figure | null {
  const done = view.rows.filter((r) => r.train);
  if (!done.length) return null;
  const classes = Object.keys(done[0]!.train!.metrics).filter((k) => k.startsWith('testIoU.')).map((k) => k.slice('testIoU.'.length));
  return barFigure(classes, done.map((r) => ({ name: r.label, y: classes.map((c) => { const v = num(r.train!.metrics[`testIoU.${c}`]); return v === null ? null : 100 * v; }) })),
    { title: 'Per-class IoU on the evaluation split', yTitle: 'IoU (%)' });
}

function paint(labels: Uint8Array, palette: [number, number, number][]): Uint8Array {
  const out = new Uint8Array(labels.length * 3);
  for (let i = 0; i < labels.length; i++) {
    const c = palette[labels[i]!] ?? [0, 0, 0]; // void / ignored: black
    out[3 * i] = c[0]; out[3 * i + 1] = c[1]; out[3 * i + 2] = c[2];
  }
  return out;
}

/**
 * One PNG: a row per kept test frame with the frame, its ground truth and each model's prediction in the dataset's
 * palette (void black), from the eval records' files. Null until both rows have an eval record with pictures.
 */
export async function segPredictionGrid(view: SegmentationView): Promise<{ png: Uint8Array; columns: string[]; frameIds: string } | null> {
  const withEval = view.rows.filter((r) => r.eval && typeof r.eval.metrics['predictionsFile'] === 'string');
  if (withEval.length < view.rows.length) return null;
  const file = (r: RunRecord, key: string) => resolve(REPO_ROOT, String(r.metrics[key]));
  const first = withEval[0]!.eval!;
  if (![first.metrics['framesFile'], first.metrics['truthFile']].every((f) => typeof f === 'string' && existsSync(resolve(REPO_ROOT, f)))) return null;
  const palette = first.config['dataset'] === 'cityscapes' ? CITYSCAPES_PALETTE : CAMVID_PALETTE;
  const frames = await sharp(file(first, 'framesFile')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const w = frames.info.width, total = frames.info.height;
  const panels = [new Uint8Array(frames.data), paint((await readLabelMapPng(file(first, 'truthFile'))).labels, palette)];
  for (const r of withEval) panels.push(paint((await readLabelMapPng(file(r.eval!, 'predictionsFile'))).labels, palette));
  const gap = 4, width = panels.length * w + (panels.length - 1) * gap;
  const out = new Uint8Array(width * total * 3).fill(255);
  for (let y = 0; y < total; y++) for (const [p, panel] of panels.entries()) {
    out.set(panel.subarray(y * w * 3, (y + 1) * w * 3), (y * width + p * (w + gap)) * 3);
  }
  // Twice the size, nearest neighbour: the frames are small (the training resolution) and labels must stay crisp.
  const png = new Uint8Array(await sharp(Buffer.from(out), { raw: { width, height: total, channels: 3 } })
    .resize({ width: 2 * width, height: 2 * total, kernel: 'nearest' }).png().toBuffer());
  return { png, columns: ['frame', 'ground truth', ...withEval.map((r) => r.label)], frameIds: String(first.metrics['frameIds'] ?? '') };
}

/** Where `convmixer eval segmentation` writes its pictures (for the notebook's text). */
export const PREDICTIONS_DIR = join(REPO_ROOT, 'reports', 'predictions');

/** One model's training-step benchmark (`convmixer bench train --model <row model> --vs torch`), newest record per model. */
export interface SegBenchRow {
  label: string;
  model: string;
  size: string;
  batch: number;
  threads: number | null;
  msPerImg: number;
  torchMsPerImg: number | null;
  /** This engine's ms/img over PyTorch's, timed in the same run. */
  ratio: number | null;
  recordId: string;
  machine: string;
}

/** The newest `bench train --vs torch` record of each row's model at the profile's frame size (both engines, same run). */
export function segBenchRows(view: SegmentationView, resultsDir = RESULTS_DIR): SegBenchRow[] {
  const bench = loadRunRecords({ kind: 'bench' }, resultsDir).filter((r) => r.config['mode'] === 'train' && r.config['vs'] === 'torch');
  const out: SegBenchRow[] = [];
  for (const row of view.rows) {
    const model = SEGMENTATION_EXPERIMENT.rows.find((r) => r.id === row.id)!.model;
    const mine = bench.filter((r) => (r.config['model'] as { name?: string } | undefined)?.name === model && r.config['segProfile'] === view.profile)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    const rec = mine[0];
    if (!rec) continue;
    out.push({
      label: row.label, model, size: `${String(rec.config['height'])}x${String(rec.config['width'])}`, batch: Number(rec.config['batch']),
      threads: num(rec.config['threads']), msPerImg: rec.metrics['msPerImg'] as number, torchMsPerImg: num(rec.metrics['torchMsPerImg']),
      ratio: num(rec.metrics['ratio']), recordId: rec.id, machine: `${rec.machine.cpuModel} (${String(rec.backend)})`,
    });
  }
  return out;
}
