// Seed 000's segmentation comparison as an experiment table: Unet and ConvMixer-Unet trained under equal conditions
// (same data, epochs, batch, optimizer, schedule, Dice loss and flip augmentation); the rows differ only in the model.
// The seed's values (params, minutes per epoch, inference speed, Dice loss, IoU) are in lib/paper/seed000.ts.
import type { Profile } from '../runRecord.ts';
import { buildSegRecipe, type SegRecipe } from '../train/segConfig.ts';
import type { ExperimentRow, ExperimentTable, Protocol } from './table.ts';

/** Smoke: the same architectures, narrowed so a row trains in seconds (its numbers test the plumbing only); per model family
 * (also `convmixer bench --seg-profile smoke`). */
export const SEG_SMOKE_OVERRIDES: Record<'unet' | 'convmixer_unet', Record<string, unknown>> = {
  unet: { baseWidth: 4 },
  convmixer_unet: { encoderWidths: [4, 8, 16], decoderWidth: 16, depth: 1 },
};
const SMOKE_MODELS: Record<string, Record<string, unknown>> = {
  unet_camvid: SEG_SMOKE_OVERRIDES.unet,
  convmixer_unet_camvid: SEG_SMOKE_OVERRIDES.convmixer_unet,
};

const PROTOCOLS: Record<Profile, Protocol> = {
  smoke: { trainSubset: 8, testSubset: 4, epochs: 1, batchSize: 4, evalBatchSize: 4,
    why: 'seconds per row for tests and CI: both models narrowed (Unet width 4, ConvMixer-Unet widths 4/8/16, depth 1), 32x48 frames, 8 training and 4 test frames, 1 epoch; the numbers mean nothing' },
  // Measured here (AVX2, 2 threads, batch 8 at 96x128): an epoch with its test evaluation takes about 12 min for Unet and
  // 9.3 for ConvMixer-Unet, so 15 epochs are about 3.0 and 2.3 hours, the "plateau within about 3 CPU-hours each".
  // 5 epochs (the protocol until 2026-12-02) were not a plateau: ConvMixer-Unet's test mIoU still rose 0.8 points in the last.
  quick: { trainSubset: 0, testSubset: 0, epochs: 15, batchSize: 8, evalBatchSize: 16,
    why: 'CamVid (SegNet split) at 96x128 on 2 CPU cores: all 367 training frames, evaluated on the 233 test frames after every epoch, 15 epochs at batch 8 (lr 1e-3 for the first 8, then 2e-4: the seed\'s step schedule), the full-size models; planned within the issue\'s budget of about 3 CPU-hours per model here (each run\'s minutes per epoch are in its record, below), resumable across sessions' },
  paper: { trainSubset: 0, testSubset: 0, epochs: 20, batchSize: 24, evalBatchSize: 24,
    why: "the seed: Cityscapes at 256x512, 20 epochs, batch 24 (a GPU job; the suite's Cityscapes loader reads the official layout)" },
};

const rows: ExperimentRow[] = [
  { id: 'unet', label: 'Unet', group: 'seed 000 comparison', model: 'unet_camvid', paper: null,
    note: "milesial/Pytorch-UNet (torch.hub, bilinear=False), the seed's baseline" },
  { id: 'convmixer-unet', label: 'ConvMixer-Unet', group: 'seed 000 comparison', model: 'convmixer_unet_camvid', paper: null,
    note: "widths from the seed author's code (encoder 64/256/1024, decoder 1024 and 16 x classes), depth 8, kernel 9, patch 2" },
];

function segRowRecipe(row: ExperimentRow, profile: Profile, seed: number): SegRecipe {
  const p = PROTOCOLS[profile];
  return buildSegRecipe(profile, row.model, {
    experiment: 'segmentation', seed, trainSubset: p.trainSubset, testSubset: p.testSubset, epochs: p.epochs,
    batchSize: p.batchSize, evalBatchSize: p.evalBatchSize, model: profile === 'smoke' ? SMOKE_MODELS[row.model] : undefined,
  });
}

export const SEGMENTATION_EXPERIMENT: ExperimentTable = {
  id: 'segmentation',
  title: 'Unet vs ConvMixer-Unet (seed 000, section VI)',
  source: 'seed 000, section VI: both models under equal conditions; CamVid stands in for Cityscapes (quick profile)',
  rows,
  protocols: PROTOCOLS,
  primary: 'testMIoU',
  recipe: segRowRecipe,
};
