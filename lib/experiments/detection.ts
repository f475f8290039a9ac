// Seed 000's YOLO-ConvMixer as an experiment table. The seed trained one model (ConvMixer-768/32 from ImageNet weights
// at 448 on VOC2012) and reported no mAP, only that it "dramatically overfitted"; its table of other detectors is
// literature (lib/paper/seed000.ts), not something this suite trains. Rows here are the measured YOLO-ConvMixers.
import type { Profile } from '../runRecord.ts';
import { buildDetRecipe, type DetRecipe } from '../train/detConfig.ts';
import type { ExperimentRow, ExperimentTable, Protocol } from './table.ts';

/** Per profile: the backbone the row trains (the seed's at paper, a from-scratch ConvMixer-256/8 at quick) and its size. */
const MODEL_OF: Record<Profile, { model: string; overrides?: Record<string, unknown>; backboneWeights: string | null }> = {
  // The same architecture narrowed so a row trains in seconds (its numbers test the plumbing only).
  smoke: { model: 'yolo_convmixer_256_8', overrides: { dim: 8, depth: 1, hiddenWidth: 16, inputSize: 56 }, backboneWeights: null },
  quick: { model: 'yolo_convmixer_256_8', backboneWeights: null },
  // timm's convmixer_768_32 ImageNet-1k weights (model.safetensors of timm/convmixer_768_32.in1k), which a user puts here.
  paper: { model: 'yolo_convmixer_768_32', backboneWeights: 'data/weights/convmixer_768_32.in1k.safetensors' },
};

const PROTOCOLS: Record<Profile, Protocol> = {
  smoke: { trainSubset: 8, testSubset: 4, epochs: 1, batchSize: 4, evalBatchSize: 4,
    why: 'seconds per row for tests and CI: ConvMixer-8/1 backbone, hidden 16, 56x56 inputs, 8 training and 4 test images, 1 epoch; the numbers mean nothing' },
  // Measured here (AVX2, 2 threads, beside another training): 6 img/s training, 45 img/s inference at batch 16, so an
  // epoch with both evaluations takes about a minute alone and 30 epochs fit half an hour.
  quick: { trainSubset: 0, testSubset: 0, epochs: 30, batchSize: 16, evalBatchSize: 32,
    why: 'the VOC2007 subset (765 trainval / 400 test images) at 224x224 on 2 CPU cores: ConvMixer-256/8 k7 p14 (a 16x16 feature map) from scratch (no ImageNet weights exist here for it) with the seed head (pool 9, hidden 496, S 7, B 2), Adam lr 1e-4 without schedule, no augmentation, batch 16, 30 epochs; train and test mAP@0.5 after every epoch' },
  paper: { trainSubset: 0, testSubset: 0, epochs: 20, batchSize: 3, evalBatchSize: 16,
    why: "the seed: ConvMixer-768/32 from timm's ImageNet-1k weights at 448x448, Adam without schedule, 20 epochs, batch 3, VOC2012 train, evaluated on VOC2012 val (a GPU job)" },
};

const rows: ExperimentRow[] = [
  { id: 'yolo-convmixer', label: 'YOLO-ConvMixer', group: 'seed 000 detection', model: 'yolo_convmixer_256_8', paper: null,
    note: "the seed's head (9x9 pool, Linear-LeakyReLU(0.1)-Linear to 7x7x30) and YOLOv1 loss; backbone per profile" },
];

function detRowRecipe(_row: ExperimentRow, profile: Profile, seed: number): DetRecipe {
  const p = PROTOCOLS[profile];
  const m = MODEL_OF[profile];
  return buildDetRecipe(profile, m.model, {
    experiment: 'detection', seed, trainSubset: p.trainSubset, testSubset: p.testSubset, epochs: p.epochs,
    batchSize: p.batchSize, evalBatchSize: p.evalBatchSize, model: m.overrides, backboneWeights: m.backboneWeights,
  });
}

export const DETECTION_EXPERIMENT: ExperimentTable = {
  id: 'detection',
  title: 'YOLO-ConvMixer on Pascal VOC (seed 000, sections II and IV)',
  source: 'seed 000, sections II and IV: the seed reports no mAP; the VOC2007 subset stands in for VOC2012 (quick profile)',
  rows,
  protocols: PROTOCOLS,
  primary: 'testMAP',
  recipe: detRowRecipe,
};
