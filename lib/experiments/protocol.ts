// The quick protocol shared by Tables 3 and 4: the paper recipe with a smaller budget that every row shares. The
// budget is chosen by the pilot (pilot.ts) on this 2-core machine; README "Tables 3 and 4: the quick protocol" has
// the evidence. Until the pilot has run at every budget, the value below is the pilot's provisional choice.
import type { Protocol } from './table.ts';

export const QUICK_CIFAR_PROTOCOL: Protocol = {
  trainSubset: 5000, testSubset: 2000, epochs: 2, batchSize: 32, evalBatchSize: 250,
  why: 'the paper recipe, shrunk for 2 CPU cores: a class-balanced 5,000-image training subset, 2 epochs at batch 32, the same 2,000 test images for every row and seed',
};
