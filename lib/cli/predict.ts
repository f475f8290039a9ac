// `convmixer predict`: top-k classes of image files under a ConvMixer with given (PyTorch safetensors) weights.
// Preprocessing is the model's default cfg from the registry (lib/models/registry.ts), timm's eval transform: resize the
// shorter side to floor(size / crop_pct) (bicubic), center-crop size x size, normalize with mean/std. ImageNet ConvMixers:
// 224 / 0.96 = 233 -> 224, ImageNet mean/std; CIFAR-10 ConvMixers: 32 (crop_pct 1), CIFAR-10 mean/std.
import * as tf from '@tensorflow/tfjs';
import { parseFlags, numberFlag, type Command } from './args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, configFromFlags, describeConfig, type ModelFlagValues } from './modelFlags.ts';
import { UserError } from '../errors.ts';
import { initBackend } from '../backend/index.ts';
import { createModel, type ConvMixerConfig } from '../models/convmixer.ts';
import { loadWeights } from '../models/weights.ts';
import { classNamesFor } from '../data/classNames.ts';
import { convMixerDefaultCfg, isRegistered, modelFamily, modelInfo } from '../models/registry.ts';
import { createModelWithWeights } from '../models/timmWeights.ts';
import { preprocessFor, loadImage, type Preprocess } from '../data/evalTransform.ts';

const HELP = `usage: convmixer predict --model NAME --weights FILE.safetensors [--top K] [--json] IMAGE...

Prints the top-K (default 5) classes of each image. Weights: a PyTorch ConvMixer state dict saved as safetensors,
in timm's key layout (stem/blocks/head) or the paper's nn.Sequential one (0.weight, 2.*, 3+i.*, ...); for the
comparison models (resnet50, deit_small_patch16_224, mixer_b16_224, resmlp_big_24_224, ...) timm's state dict.
Images are preprocessed with the model's default cfg (timm's eval transform: input size, crop_pct, mean/std).

${MODEL_FLAGS_HELP}
  --weights FILE          safetensors checkpoint (required)
  --top K                 how many classes to print (default 5)
  --json                  print [{image, top: [{index, name, prob}]}] as JSON`;

export { preprocessFor, loadImage, type Preprocess } from '../data/evalTransform.ts';

/** The eval transform of a ConvMixer config from the CLI flags (its registry default cfg; see convMixerDefaultCfg). */
export function preprocessForConfig(config: ConvMixerConfig, name?: string): Preprocess {
  return preprocessFor(convMixerDefaultCfg(config, name));
}

export const command: Command = {
  summary: 'top-5 classes of images with given weights',
  async run(argv) {
    const { values, positionals, help } = parseFlags<ModelFlagValues & { weights?: string; top?: string; json?: boolean }>(
      argv, { ...MODEL_FLAGS, weights: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (help) {
      console.log(HELP);
      return 0;
    }
    if (!values.weights) throw new UserError('--weights FILE.safetensors is required');
    if (positionals.length === 0) throw new UserError('give at least one IMAGE file');
    const other = values.model !== undefined && isRegistered(values.model) && modelFamily(values.model) !== 'convmixer';
    let model: { apply(x: tf.Tensor4D): tf.Tensor2D; dispose(): void };
    let numClasses: number, pre: Preprocess, title: string, top: number;
    const topFlag = (n: number): number => numberFlag('top', values.top, { int: true, min: 1, max: n }) ?? Math.min(5, n);
    if (other) {
      // ResNet / DeiT / ViT / Mixer / ResMLP: timm-layout weights, the model's default cfg; --classes is the only override.
      const convMixerOnly = (['dim', 'depth', 'kernel', 'patch', 'activation', 'norm'] as const).filter((f) => values[f] !== undefined);
      if (convMixerOnly.length) throw new UserError(`--${convMixerOnly[0]} applies to ConvMixer models only (${values.model} is a ${modelFamily(values.model!)} model)`);
      const info = modelInfo(values.model!, { numClasses: numberFlag('classes', values.classes, { int: true, min: 1 }) });
      numClasses = info.defaultCfg.numClasses;
      pre = preprocessFor(info.defaultCfg);
      title = `${info.name}: ${info.description}`;
      top = topFlag(numClasses);
      await initBackend();
      model = createModelWithWeights(info, values.weights);
    } else {
      const config = configFromFlags(values);
      numClasses = config.numClasses;
      top = topFlag(numClasses);
      pre = preprocessForConfig(config, values.model);
      title = describeConfig(config, values.model);
      await initBackend();
      const built = createModel(config);
      loadWeights(built, values.weights);
      model = built;
    }
    const names = classNamesFor(numClasses);
    const results: Array<{ image: string; top: Array<{ index: number; name: string; prob: number }> }> = [];
    for (const image of positionals) {
      const x = await loadImage(image, pre);
      const probs = tf.tidy(() => tf.softmax(model.apply(tf.tensor4d(x, [1, pre.size, pre.size, 3]))).dataSync());
      const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!).slice(0, top);
      results.push({ image, top: order.map((index) => ({ index, name: names[index]!, prob: probs[index]! })) });
    }
    model.dispose();
    if (values.json) {
      console.log(JSON.stringify(results, null, 2));
      return 0;
    }
    console.log(`${title}; weights ${values.weights}`);
    for (const r of results) {
      console.log(`\n${r.image}`);
      r.top.forEach((t, i) => console.log(`  ${i + 1}. ${(100 * t.prob).toFixed(2).padStart(6)}%  ${t.name} (class ${t.index})`));
    }
    return 0;
  },
};
