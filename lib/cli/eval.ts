// `convmixer eval imagenet`: top-1 / top-5 accuracy of a registry model with given weights on the ImageNet validation
// set (either standard layout; see lib/eval/imagenet.ts), preprocessed with the model's default cfg. Writes a run record
// (kind 'eval') naming the model, the weights file (and its sha256), the data folder, --limit and the accuracies.
// `convmixer eval voc` (detection AP on Pascal VOC) lives in lib/cli/evalVoc.ts; run() hands it over.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { numberFlag, parseFlags, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { BACKEND_CHOICES, initBackend } from '../backend/index.ts';
import { modelInfo } from '../models/registry.ts';
import { createModelWithWeights } from '../models/timmWeights.ts';
import { preprocessFor } from '../data/evalTransform.ts';
import { evalProgressPrinter, evaluate, findValSet, readLabels } from '../eval/imagenet.ts';
import { finishRunRecord, newRunRecord, saveRunRecord, RESULTS_DIR } from '../runRecord.ts';

const HELP = `usage: convmixer eval imagenet --model NAME --weights FILE.safetensors --data DIR
                              [--labels FILE] [--ground-truth FILE] [--limit N] [--batch 32] [--classes C]
                              [--backend ${BACKEND_CHOICES.join('|')}] [--results-dir DIR] [--json]

Top-1 and top-5 accuracy of a registry model (convmixer_1536_20, resnet50, deit_small_patch16_224, ...) with the given
weights (timm state dict as safetensors; ConvMixers also in the paper's nn.Sequential layout) on ImageNet's validation set.

Data (--data DIR), either layout:
  DIR/val/<wnid>/*.JPEG or DIR/<wnid>/*.JPEG   ImageFolder layout; classes = the sorted folder names
  DIR/ILSVRC2012_val_00000001.JPEG ...          flat layout, with the devkit's ILSVRC2012_validation_ground_truth.txt
                                                (in DIR, or --ground-truth FILE) and --labels
  --labels FILE   one wnid per line in ILSVRC2012_ID order (line i = ID i; from the devkit's meta.mat); class index =
                  position in the sorted wnids (the standard order of timm/torchvision weights). Needed for the flat
                  layout, and for a folder layout holding fewer classes than the model has
Class index order is always the sorted wnids (torchvision ImageFolder order).

Preprocessing: the model's default cfg (timm's eval transform): resize the shorter side to floor(size / crop_pct)
(bicubic: libvips' cubic kernel via sharp, close to but not bit-identical with Pillow's), center crop, mean/std.

  --limit N       evaluate the first N images in sorted file order only (stated in the run record)
  --batch B       images per forward pass (default 32)
  --classes C     override the model's class count (e.g. a 10-class ConvMixer)
  --results-dir   where the run record goes (default reports/results)
  --json          print one JSON object instead of text

convmixer eval voc --help: per-class AP and mAP of detections on Pascal VOC
convmixer eval segmentation --help: mIoU and inference speed of finished segmentation runs
convmixer eval detection --help: train/test mAP and inference speed of finished detection runs`;

interface EvalFlags {
  model?: string; weights?: string; data?: string; labels?: string; 'ground-truth'?: string; limit?: string; batch?: string;
  classes?: string; backend?: string; 'results-dir'?: string; json?: boolean;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const command: Command = {
  summary: 'top-1 / top-5 accuracy on ImageNet (eval imagenet); detection AP / mAP on Pascal VOC (eval voc); mIoU and inference speed of segmentation runs (eval segmentation); mAP of detection runs (eval detection)',
  async run(argv) {
    if (argv[0] === 'voc') return (await import('./evalVoc.ts')).runEvalVoc(argv.slice(1));
    if (argv[0] === 'segmentation') return (await import('./evalSegmentation.ts')).runEvalSegmentation(argv.slice(1));
    if (argv[0] === 'detection') return (await import('./evalDetection.ts')).runEvalDetection(argv.slice(1));
    const { values, positionals, help } = parseFlags<EvalFlags>(argv, {
      model: { type: 'string' }, weights: { type: 'string' }, data: { type: 'string' }, labels: { type: 'string' },
      'ground-truth': { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' }, classes: { type: 'string' },
      backend: { type: 'string' }, 'results-dir': { type: 'string' }, json: { type: 'boolean' },
    }, true);
    if (help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'imagenet') throw new UserError(`expected the dataset 'imagenet' or 'voc' first, got '${positionals.join(' ')}'`);
    if (!values.model) throw new UserError('--model NAME is required');
    if (!values.weights) throw new UserError('--weights FILE.safetensors is required');
    if (!values.data) throw new UserError('--data DIR is required');
    if (!existsSync(values.weights)) throw new UserError(`--weights: no such file ${values.weights}`);
    const limit = numberFlag('limit', values.limit, { int: true, min: 1 });
    const batch = numberFlag('batch', values.batch, { int: true, min: 1 }) ?? 32;
    const numClasses = numberFlag('classes', values.classes, { int: true, min: 1 });
    const info = modelInfo(values.model, numClasses !== undefined ? { numClasses } : {});
    const pre = preprocessFor(info.defaultCfg);
    const labels = values.labels !== undefined ? readLabels(values.labels) : undefined;
    if (values['ground-truth'] !== undefined && !existsSync(values['ground-truth'])) throw new UserError(`--ground-truth: no such file ${values['ground-truth']}`);
    const set = findValSet(values.data, { labels, groundTruth: values['ground-truth'] });
    const classes = info.defaultCfg.numClasses;
    if (set.classes.length !== classes) {
      throw new UserError(`${set.root}: ${set.classes.length} classes (${labels ? '--labels' : 'class folders'}) but ${info.name} has ${classes}`
        + `${labels ? '' : '; give --labels FILE with all the wnids to evaluate on a subset of the classes'}`);
    }
    const images = limit !== undefined ? set.images.slice(0, limit) : set.images;

    const backend = await initBackend(values.backend);
    const model = createModelWithWeights(info, values.weights);
    const weightsSha256 = sha256File(values.weights);
    const log = (s: string): void => {
      if (!values.json) console.log(s);
    };
    log(`${info.name}: ${info.description}; weights ${values.weights}`);
    log(`${set.layout} layout at ${set.root}: ${images.length}${limit !== undefined ? ` of ${set.images.length} (--limit ${limit})` : ''} images, `
      + `${set.classes.length} classes; ${pre.resizeTo} -> ${pre.size} crop; backend ${backend.description}`);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let record = newRunRecord({
      id: `eval-imagenet-${info.name}-${stamp}`, kind: 'eval', experiment: 'imagenet-eval', profile: limit !== undefined ? 'quick' : 'paper', seed: 0,
      config: {
        model: info.name, family: info.family, modelConfig: info.config as Record<string, unknown>, weights: resolve(values.weights), weightsSha256,
        data: resolve(values.data), layout: set.layout, labels: values.labels ? resolve(values.labels) : null, limit: limit ?? null,
        limitRule: limit !== undefined ? `first ${limit} images in sorted file order` : null, imagesAvailable: set.images.length, batch,
        preprocess: { inputSize: pre.size, resizeShorterTo: pre.resizeTo, cropPct: info.defaultCfg.cropPct, interpolation: 'libvips cubic (sharp)', mean: [...pre.mean], std: [...pre.std] },
      },
      backend: backend.description,
    });
    const dir = values['results-dir'] ? resolve(values['results-dir']) : RESULTS_DIR;
    const progress = evalProgressPrinter();
    let result;
    try {
      result = await evaluate(model, images, pre, { batch, onProgress: (p) => progress.update(p) });
    } catch (err) {
      progress.clear();
      saveRunRecord(finishRunRecord(record, { error: (err as Error).message.split('\n')[0]! }, 'failed'), dir);
      throw err;
    } finally {
      model.dispose();
    }
    progress.clear();
    record = finishRunRecord(record, { images: result.images, top1: result.top1, top5: result.top5, correct1: result.correct1, correct5: result.correct5, topK: result.k, seconds: result.seconds });
    const path = saveRunRecord(record, dir);
    if (values.json) {
      console.log(JSON.stringify({ model: info.name, weights: values.weights, weights_sha256: weightsSha256, data: values.data, layout: set.layout,
        limit: limit ?? null, images: result.images, top1: result.top1, top5: result.top5, correct1: result.correct1, correct5: result.correct5,
        predictions: result.predictions, record: path }));
    } else {
      log(`top-1 ${result.top1.toFixed(2)}%  top-5 ${result.top5.toFixed(2)}%  (${result.correct1}/${result.correct5} of ${result.images}${result.k < 5 ? `; top-${result.k}: the model has ${result.k} classes` : ''})`);
      log(`run record: ${path}`);
    }
    return 0;
  },
};
