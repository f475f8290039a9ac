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
import sharp from 'sharp';
import { createDetectionModel } from '../models/registry.ts';
import { loadYoloWeights } from '../models/yoloConvMixer.ts';
import { readStretched, resizedBoxToImage, VOC_CLASSES, type Box } from '../data/voc.ts';
import { normalizeInto } from '../data/augment.ts';
import { detectYolo } from '../train/yoloLoss.ts';
import { drawBoxes, PREDICTION_GREEN } from '../views/boxes.ts';
import { atomicWrite, underFlag } from '../io.ts';

const HELP = `usage: convmixer predict --model NAME --weights FILE.safetensors [--top K] [--json] IMAGE...
       convmixer predict --model yolo_convmixer_256_8 --weights FILE.safetensors [--threshold 0.2] [--out FILE.png] [--json] IMAGE...

Prints the top-K (default 5) classes of each image. Weights: a PyTorch ConvMixer state dict saved as safetensors,
in timm's key layout (stem/blocks/head) or the paper's nn.Sequential one (0.weight, 2.*, 3+i.*, ...); for the
comparison models (resnet50, deit_small_patch16_224, mixer_b16_224, resmlp_big_24_224, ...) timm's state dict.
Images are preprocessed with the model's default cfg (timm's eval transform: input size, crop_pct, mean/std).

${MODEL_FLAGS_HELP}
  --weights FILE          safetensors checkpoint (required)
  --top K                 how many classes to print (default 5)
  --json                  print [{image, top: [{index, name, prob}]}] as JSON

Detection models (yolo_convmixer_*; weights as convmixer eval detection / training write them): each image stretched
to the model's input size, its YOLO grid decoded (score = box confidence x class score), class-wise NMS at IoU 0.5;
the boxes are printed in the image's own 1-based pixel coordinates (VOC's convention).
  --threshold T           keep boxes with score above T (default 0.2)
  --out FILE.png          draw the boxes in green on the image (one IMAGE only)
  --json                  print [{image, detections: [{cls, name, score, box}]}] as JSON`;

export { preprocessFor, loadImage, type Preprocess } from '../data/evalTransform.ts';

/** The eval transform of a ConvMixer config from the CLI flags (its registry default cfg; see convMixerDefaultCfg). */
export function preprocessForConfig(config: ConvMixerConfig, name?: string): Preprocess {
  return preprocessFor(convMixerDefaultCfg(config, name));
}

export const command: Command = {
  summary: 'top-5 classes of images with given weights',
  async run(argv) {
    const { values, positionals, help } = parseFlags<ModelFlagValues & { weights?: string; top?: string; json?: boolean; threshold?: string; out?: string }>(
      argv, { ...MODEL_FLAGS, weights: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' }, threshold: { type: 'string' }, out: { type: 'string' } }, true);
    if (help) {
      console.log(HELP);
      return 0;
    }
    if (!values.weights) throw new UserError('--weights FILE.safetensors is required');
    if (positionals.length === 0) throw new UserError('give at least one IMAGE file');
    if (values.model !== undefined && isRegistered(values.model) && modelFamily(values.model) === 'yolo_convmixer') {
      return predictDetection(values.model, values.weights, positionals, { threshold: values.threshold, out: values.out, json: values.json });
    }
    if (values.out !== undefined || values.threshold !== undefined) throw new UserError(`--${values.out !== undefined ? 'out' : 'threshold'} applies to detection models (yolo_convmixer_*) only`);
    const other = values.model !== undefined && isRegistered(values.model) && modelFamily(values.model) !== 'convmixer';
    let model: { apply(x: tf.Tensor4D): tf.Tensor2D; dispose(): void };
    let numClasses: number, pre: Preprocess, title: string, top: number;
    const topFlag = (n: number): number => numberFlag('top', values.top, { int: true, min: 1, max: n }) ?? Math.min(5, n);
    if (other) {
      // ResNet / DeiT / ViT / Mixer / ResMLP / Swin: timm-layout weights, the model's default cfg; --classes is the only override.
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

/** Detections of a YOLO-ConvMixer on image files, boxes in each image's 1-based pixels; --out draws them on the image. */
async function predictDetection(name: string, weights: string, images: string[], opts: { threshold?: string; out?: string; json?: boolean }): Promise<number> {
  const threshold = numberFlag('threshold', opts.threshold, { min: 0, max: 1 }) ?? 0.2;
  if (opts.out !== undefined && images.length !== 1) throw new UserError(`--out draws one image; got ${images.length} IMAGE files`);
  if (opts.out !== undefined && !/\.png$/i.test(opts.out)) throw new UserError(`--out ${opts.out}: expected a .png file name`);
  await initBackend();
  const model = createDetectionModel(name, {}, { init: 'zeros' });
  const results: Array<{ image: string; detections: Array<{ cls: number; name: string; score: number; box: Box }> }> = [];
  try {
    loadYoloWeights(model, weights);
    const c = model.config, size = c.inputSize, { mean, std } = model.defaultCfg;
    for (const image of images) {
      const { rgb, width, height } = await readStretched(image, size);
      const x = new Float32Array(size * size * 3);
      normalizeInto(rgb, x, 0, mean, std);
      const pred = tf.tidy(() => model.apply(tf.tensor4d(x, [1, size, size, 3]), { training: false }));
      const found = detectYolo(pred, { S: c.gridSize, B: c.boxesPerCell, C: c.numClasses, imageSize: size, confThreshold: threshold, iouThreshold: 0.5 })[0]!;
      pred.dispose();
      const detections = found.map((d) => ({ cls: d.cls, name: VOC_CLASSES[d.cls] ?? `class ${d.cls}`, score: d.score, box: resizedBoxToImage(d.box, width, height, size) }));
      results.push({ image, detections });
      if (opts.out !== undefined) {
        // Drawn on the original pixels: a VOC box [x0, y0, x1, y1] (1-based, inclusive) covers [x0 - 1, x1) x [y0 - 1, y1).
        const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
        const thick = Math.max(2, Math.round(Math.min(info.width, info.height) / 150));
        const drawn = drawBoxes(new Uint8Array(data), info.width, info.height,
          detections.map((d) => ({ box: [d.box[0] - 1, d.box[1] - 1, d.box[2], d.box[3]] as Box, color: PREDICTION_GREEN })), thick);
        const png = await sharp(Buffer.from(drawn), { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();
        underFlag('--out', opts.out, () => atomicWrite(opts.out!, png));
      }
    }
  } finally {
    model.dispose();
  }
  if (opts.json) {
    console.log(JSON.stringify(results, null, 2));
    return 0;
  }
  console.log(`${name}: ${modelInfo(name).description}; weights ${weights}; score > ${threshold}`);
  for (const r of results) {
    console.log(`\n${r.image}: ${r.detections.length} box${r.detections.length === 1 ? '' : 'es'}`);
    for (const d of r.detections) console.log(`  ${d.score.toFixed(3)}  ${d.name.padEnd(12)} [${d.box.map((v) => v.toFixed(1)).join(', ')}]`);
  }
  if (opts.out !== undefined) console.log(`\nboxes drawn: ${opts.out}`);
  return 0;
}
