// The CIFAR-10 demo (not a paper table): one small real training run per profile, ConvMixer-128/4 with patch 2 and
// kernel 5 on the profile's recipe. Owned by notebooks/01-architecture.ipynb, which shows its learning curves.
import type { Profile } from '../runRecord.ts';
import { resolveConfig } from '../models/convmixer.ts';
import { buildRecipe, type Recipe } from '../train/config.ts';
import { ensureRecords, type EnsureResult } from './ensure.ts';

export const CIFAR10_DEMO = 'cifar10-demo';

/** What changes per profile; the rest is the profile's recipe. */
const BUDGET: Record<Profile, Pick<Recipe, 'epochs' | 'trainSubset' | 'testSubset'>> = {
  // seconds: the smoke profile's 256 / 200 images, 2 epochs
  smoke: { epochs: 2, trainSubset: 256, testSubset: 200 },
  // ~2 min on 2 cores (AVX-512 machine; about 3x that on an AVX2 one): a class-balanced 5,000-image subset, 5 epochs, 1,000 test images
  quick: { epochs: 5, trainSubset: 5000, testSubset: 1000 },
  // the full 50k / 10k splits on the paper recipe, 10 epochs (a GPU job)
  paper: { epochs: 10, trainSubset: 0, testSubset: 0 },
};

/** The demo's recipe at a profile. */
export function cifar10DemoRecipe(profile: Profile): Recipe {
  return buildRecipe(profile, { experiment: CIFAR10_DEMO, seed: 0, ...BUDGET[profile], model: resolveConfig('convmixer_128_4', { kernelSize: 5, patchSize: 2 }), modelName: null });
}

/** The demo's finished records at `profile`, training one first when there is none or `rerun` is true. */
export function ensureCifar10Demo(profile: Profile, opts: { rerun?: boolean; resultsDir?: string; dataRoot?: string } = {}): Promise<EnsureResult> {
  return ensureRecords({ recipe: cifar10DemoRecipe(profile), rerun: opts.rerun ?? false, resultsDir: opts.resultsDir, dataRoot: opts.dataRoot });
}
