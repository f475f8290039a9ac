// The CIFAR-10 demo (not a paper table): one small real training run per profile, ConvMixer-128/4 with patch 2 and
// kernel 5 on the profile's recipe. Owned by notebooks/01-architecture.ipynb, which shows its learning curves.
import type { Profile } from '../runRecord.ts';
import { ensureRecords, type EnsureResult } from './ensure.ts';

export const CIFAR10_DEMO = 'cifar10-demo';

const MODEL = ['--model', 'convmixer_128_4', '--patch', '2', '--kernel', '5'];

/** `convmixer train` arguments of the demo at each profile (the caller adds --profile). */
export const CIFAR10_DEMO_ARGS: Record<Profile, string[]> = {
  // seconds: the smoke profile's 256 / 200 images, 2 epochs
  smoke: ['train', '--experiment', CIFAR10_DEMO, ...MODEL, '--epochs', '2', '--seed', '0', '--quiet'],
  // ~2 min on 2 cores: a class-balanced 5,000-image subset, 5 epochs, 1,000 test images (the README's example)
  quick: ['train', '--experiment', CIFAR10_DEMO, ...MODEL, '--epochs', '5', '--train-subset', '5000', '--test-subset', '1000', '--seed', '0', '--quiet'],
  // the full 50k / 10k splits on the paper recipe, 10 epochs (a GPU job)
  paper: ['train', '--experiment', CIFAR10_DEMO, ...MODEL, '--epochs', '10', '--train-subset', '0', '--test-subset', '0', '--seed', '0', '--quiet'],
};

/** The demo's finished records at `profile`, training one first when there is none or `rerun` is true. */
export function ensureCifar10Demo(profile: Profile, opts: { rerun?: boolean; resultsDir?: string } = {}): EnsureResult {
  return ensureRecords({ experiment: CIFAR10_DEMO, profile, rerun: opts.rerun ?? false, cliArgs: CIFAR10_DEMO_ARGS[profile], resultsDir: opts.resultsDir });
}
