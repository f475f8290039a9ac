// The quick protocol shared by Tables 3 and 4: the paper recipe with a smaller budget that every row shares. The
// budget is chosen by the pilot (pilot.ts) on this 2-core machine; README "Tables 3 and 4: the quick protocol" has
// the evidence. On the machine of the session that set it up (AVX2, no AVX-512: ConvMixer-256/8 k9 p1 trains at about
// 0.2 s/img on 2 cores) one epoch of 5,000 images is what fits all 64 runs of both tables with 2 seeds into about
// 20 hours; the pilot (1 vs 2 epochs) measures what that budget costs in effect size relative to the seed spread.
import type { Protocol } from './table.ts';

export const QUICK_CIFAR_PROTOCOL: Protocol = {
  trainSubset: 5000, testSubset: 2000, epochs: 1, batchSize: 32, evalBatchSize: 250,
  why: 'the paper recipe, shrunk for 2 CPU cores: 1 epoch over a class-balanced 5,000-image training subset at batch 32, evaluated on the same 2,000 test images for every row and seed',
};
