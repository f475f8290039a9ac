// Paper Table 3 (Appendix B): ablations of ConvMixer-256/8 (kernel 9, patch 1) on CIFAR-10. Architectural rows are
// registry models; training-recipe rows are changes relative to the paper recipe, so each is a real change at every
// profile (e.g. "- Mixup and CutMix" turns off mixup and CutMix that the recipe has on).
import { TABLE3 } from '../paper/tables.ts';
import type { RecipeOverrides } from '../train/config.ts';
import { PAPER_PROTOCOL, SMOKE_PROTOCOL, type ExperimentRow, type ExperimentTable } from './table.ts';
import { QUICK_CIFAR_PROTOCOL } from './protocol.ts';

/** Row id and recipe change for each of the paper's recipe ablations. */
const RECIPE_CHANGES: Record<NonNullable<(typeof TABLE3)[number]['recipeChange']>, { id: string; recipe: RecipeOverrides; note: string }> = {
  'no-mixup-cutmix': { id: 'no-mixup-cutmix', recipe: { augment: { mixupAlpha: 0, cutmixAlpha: 0 } }, note: 'mixup and CutMix alphas 0 (label smoothing stays)' },
  'no-random-erasing': { id: 'no-random-erasing', recipe: { augment: { reprob: 0 } }, note: 'random-erasing probability 0' },
  'no-randaugment': { id: 'no-randaug', recipe: { augment: { randAugment: null } }, note: 'no RandAugment' },
  // timm's "random scaling" for CIFAR: the random-resized crop's scale range (0.75, 1); scale 1 leaves the image whole.
  'no-random-scaling': { id: 'no-random-scaling', recipe: { augment: { scaleMin: 1 } }, note: 'random-resized-crop scale range (1, 1): no crop' },
  'no-grad-clip': { id: 'no-grad-clip', recipe: { clipNorm: 0 }, note: 'no gradient-norm clipping' },
};

const ARCH_IDS: Record<string, string> = {
  convmixer_256_8: 'baseline', convmixer_256_8_no_res_eq2: 'no-residual-eq2', convmixer_256_8_res_eq3: 'residual-eq3',
  convmixer_256_8_layernorm: 'layernorm', convmixer_256_8_relu: 'relu',
};

export const TABLE3_EXPERIMENT: ExperimentTable = {
  id: 'table3',
  title: 'Table 3: ablation of ConvMixer-256/8 on CIFAR-10',
  source: 'paper Table 3 (Appendix B)',
  rows: TABLE3.map((r): ExperimentRow => {
    if (r.recipeChange) {
      const c = RECIPE_CHANGES[r.recipeChange];
      return { id: c.id, label: r.ablation, group: 'training recipe', model: 'convmixer_256_8', recipe: c.recipe, paper: { accuracy: r.accuracy }, note: c.note };
    }
    const baseline = r.ablation === 'Baseline';
    return { id: ARCH_IDS[r.model!]!, label: r.ablation, group: baseline ? 'baseline' : 'architecture', model: r.model!, paper: { accuracy: r.accuracy }, ...(baseline ? { keepWeights: true } : {}) };
  }),
  protocols: { smoke: SMOKE_PROTOCOL, quick: QUICK_CIFAR_PROTOCOL, paper: PAPER_PROTOCOL },
};
