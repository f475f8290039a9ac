// fp32 vs bf16 mixed precision (issue: "choose per profile whether bf16 is the default, from evidence"): the paper's
// CIFAR-10 recipe and model (ConvMixer-256/8 k9 p1, batch 128, the workload of Tables 3 and 4) trained twice per
// seed, once with fp32 GEMMs and once with bf16 operands (lib/backend setPrecision), nothing else changed. bf16 becomes
// a profile's default only if its accuracy stays within the seed spread of fp32's at a lower cost per image. Outcome
// (README "Profiles"): accuracy within the spread, cost lower only on CPUs with avx512_bf16 and only for k9 p1, so fp32
// stays the default.
import { PAPER_PROTOCOL, SMOKE_PROTOCOL, type ExperimentTable } from './table.ts';

export const PRECISION_EXPERIMENT: ExperimentTable = {
  id: 'precision',
  title: 'fp32 vs bf16 mixed precision: accuracy and time per epoch on the paper recipe (chooses the default precision)',
  source: 'not a paper table: the paper trained with mixed precision on GPUs (Appendix B); this compares both on this engine',
  rows: [
    { id: 'fp32', label: 'fp32 (convolutions and matmuls in fp32)', group: 'precision', model: 'convmixer_256_8', recipe: { precision: 'fp32' }, paper: null },
    { id: 'bf16', label: 'bf16 operands, fp32 accumulation (autocast)', group: 'precision', model: 'convmixer_256_8', recipe: { precision: 'bf16' }, paper: null },
  ],
  protocols: {
    smoke: SMOKE_PROTOCOL,
    quick: {
      trainSubset: 5000, testSubset: 2000, epochs: 3, batchSize: 128, evalBatchSize: 250,
      why: 'the paper recipe and model at the paper\'s batch 128 on a class-balanced 5,000-image training subset, 3 epochs, '
        + 'evaluated on the same 2,000 test images: both precisions see the same images, augmentations and initial weights per seed',
    },
    paper: PAPER_PROTOCOL,
  },
};
