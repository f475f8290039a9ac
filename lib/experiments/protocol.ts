// The quick protocol shared by Tables 3 and 4: the paper recipe with a smaller budget that every row shares. The
// budget was chosen by the pilot (pilot.ts) with the rule of pilotBudgets (lib/views/cifar.ts), fixed before the
// pilot's last runs: 1, 2, 4 and 8 epochs over the same 5,000 images, 3 seeds each, scored mean |effect| / SE 2.84,
// 3.40, 3.27 and 6.59, estimated at 2.5, 5.1, 10.2 and 20.4 h for Tables 3+4 with 2 seeds on the 2-core Zen 5 machine.
// 8 epochs is over the 20 hours (narrowly); 4 is within 10% of the best affordable score and the larger budget, so it wins.
// README "The quick protocol and its pilot" and notebook 02's last section have the evidence.
import type { Protocol } from './table.ts';

export const QUICK_CIFAR_PROTOCOL: Protocol = {
  trainSubset: 5000, testSubset: 2000, epochs: 4, batchSize: 32, evalBatchSize: 250,
  why: 'the paper recipe, shrunk for 2 CPU cores: 4 epochs over a class-balanced 5,000-image training subset at batch 32, evaluated on the same 2,000 test images for every row and seed',
};
