// One timm-style model registry over the families of this suite: ConvMixer (convmixer.ts) and the comparison models of the
// paper's Tables 1 and 2: ResNet (resnet.ts), DeiT / ViT (vit.ts), MLP-Mixer / ResMLP (mlpMixer.ts), Swin (swin.ts); and the segmentation
// models of seed 000: U-Net (unet.ts) and ConvMixer-Unet (convmixerUnet.ts); and seed 000's detector, YOLO-ConvMixer
// (yoloConvMixer.ts). Every registered name
// has a default config (input size, mean/std, crop_pct, interpolation, classes, weight-key layout) like timm's
// pretrained_cfg, so the CLI reads preprocessing from here instead of guessing it from the number of classes.
// createModel builds classification models (logits [N, classes]), createSegmentationModel segmentation ones (NHWC logits
// [N, H, W, classes]), createDetectionModel detection ones (YOLOv1 grids [N, S, S, C + 5B]), buildModel any (for counting
// variables or loading weights).
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/augment.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/classNames.ts';
import { CIFAR_MODELS, IMAGENET_MODELS, MODELS as CONVMIXER_MODELS, createModel as createConvMixer, paramCount as convMixerParamCount,
  registryName, resolveConfig, type ConvMixerConfig } from './convmixer.ts';
import { CONVMIXER_UNET_MODELS, convMixerUnetParamCount, createConvMixerUnet, resolveConvMixerUnetConfig, type ConvMixerUnetConfig } from './convmixerUnet.ts';
import type { DefaultCfg, ModelFamily, ModelTask } from './family.ts';
import type { ImageModel, InitOptions } from './layers.ts';
import { MIXER_MODELS, createMixer, mixerParamCount, resolveMixerConfig, type MixerConfig } from './mlpMixer.ts';
import { RESNET_MODELS, createResNet, resnetParamCount, resolveResNetConfig, type ResNetConfig } from './resnet.ts';
import { SWIN_MODELS, createSwin, resolveSwinConfig, swinParamCount, type SwinConfig } from './swin.ts';
import { UNET_MODELS, createUnet, resolveUnetConfig, unetParamCount, type UnetConfig } from './unet.ts';
import { VIT_MODELS, createViT, resolveViTConfig, vitParamCount, type ViTConfig } from './vit.ts';
import { YOLO_CONVMIXER_MODELS, createYoloConvMixer, resolveYoloConvMixerConfig, yoloConvMixerParamCount, type YoloConvMixerConfig,
  type YoloConvMixerModel } from './yoloConvMixer.ts';

export type { DefaultCfg, ModelFamily, ModelTask, WeightLayout } from './family.ts';
export type { ImageModel, InitOptions } from './layers.ts';

/** timm's IMAGENET_INCEPTION_MEAN / _STD (ViT augreg and Mixer weights). */
const INCEPTION_MEAN = [0.5, 0.5, 0.5] as const, INCEPTION_STD = [0.5, 0.5, 0.5] as const;

const imagenetCfg = (size: number, cfg: Omit<DefaultCfg, 'inputSize' | 'numClasses'>, numClasses: number): DefaultCfg =>
  ({ inputSize: [3, size, size], numClasses, ...cfg });

const convmixerFamily: ModelFamily<ConvMixerConfig> = {
  family: 'convmixer',
  task: 'classification',
  models: CONVMIXER_MODELS,
  resolve: (base, overrides = {}) => resolveConfig(base, overrides as Partial<ConvMixerConfig>),
  // ConvMixer keeps its own init (PyTorch defaults); init 'zeros' is not offered there.
  create: (config, opts = {}) => createConvMixer(config, undefined, { seed: opts.seed }),
  paramCount: convMixerParamCount,
  defaultCfg(name, c) {
    const cfg = { interpolation: 'bicubic' as const, weightLayout: 'timm-convmixer' as const };
    if (name in IMAGENET_MODELS) {
      // timm convmixer.py _cfg: input 224, crop_pct 0.96, bicubic, IMAGENET_DEFAULT_MEAN/STD.
      return imagenetCfg(224, { ...cfg, mean: IMAGENET_MEAN, std: IMAGENET_STD, cropPct: 0.96, source: 'timm convmixer _cfg' }, c.numClasses);
    }
    if (name in CIFAR_MODELS) {
      return { ...cfg, inputSize: [c.inChannels, 32, 32], numClasses: c.numClasses, mean: CIFAR10_MEAN, std: CIFAR10_STD, cropPct: 1,
        source: 'CIFAR-10 (lib/data/augment.ts CIFAR10_MEAN/STD), 32x32, no crop margin' };
    }
    throw new Error(`no default_cfg for ConvMixer '${name}'`);
  },
  describe: (c) => `ConvMixer-${c.dim}/${c.depth} k${c.kernelSize} p${c.patchSize}, ${c.numClasses} classes, ${c.activation}, ${c.norm}`
    + `${c.residualDepthwise ? '' : ', no residual in Eq. 2'}${c.residualPointwise ? ', residual in Eq. 3' : ''}`,
};

const resnetFamily: ModelFamily<ResNetConfig> = {
  family: 'resnet',
  task: 'classification',
  models: RESNET_MODELS,
  resolve: resolveResNetConfig,
  create: createResNet,
  paramCount: resnetParamCount,
  // timm resnet.py: the default (first) pretrained tags resnet50.a1_in1k / resnet101.a1h_in1k / resnet152.a1h_in1k use _rcfg:
  // input 224, crop_pct 0.95, bicubic, ImageNet default mean/std (test_input_size 288 not modeled here).
  defaultCfg: (name, c) => imagenetCfg(224, { mean: IMAGENET_MEAN, std: IMAGENET_STD, cropPct: 0.95, interpolation: 'bicubic',
    weightLayout: 'timm-resnet', source: `timm ${name}.${name === 'resnet50' ? 'a1_in1k' : 'a1h_in1k'} (_rcfg)` }, c.numClasses),
  describe: (c) => `ResNet (Bottleneck, layers [${c.layers.join(',')}]), ${c.numClasses} classes`,
};

const vitFamily: ModelFamily<ViTConfig> = {
  family: 'vit',
  task: 'classification',
  models: VIT_MODELS,
  resolve: resolveViTConfig,
  create: createViT,
  paramCount: vitParamCount,
  defaultCfg(name, c) {
    // timm deit.py _cfg: crop_pct 0.9, bicubic, IMAGENET_DEFAULT_MEAN/STD. vision_transformer.py _cfg (vit_base_patch16_224.augreg2_in21k_ft_in1k):
    // crop_pct 0.9, bicubic, IMAGENET_INCEPTION_MEAN/STD (0.5). The patch-7 DeiTs are not in timm; they take DeiT's cfg.
    const deit = name.startsWith('deit_');
    return {
      inputSize: [c.inChannels, c.imgSize, c.imgSize], numClasses: c.numClasses,
      mean: deit ? IMAGENET_MEAN : INCEPTION_MEAN, std: deit ? IMAGENET_STD : INCEPTION_STD, cropPct: 0.9, interpolation: 'bicubic',
      weightLayout: 'timm-vit', source: deit ? `timm deit _cfg${c.patchSize === 7 ? ' (patch-7 model not in timm)' : ''}` : 'timm vision_transformer _cfg',
    };
  },
  describe: (c) => `ViT/DeiT embed ${c.embedDim}, depth ${c.depth}, ${c.numHeads} heads, patch ${c.patchSize}, ${c.imgSize}px, ${c.numClasses} classes`,
};

const mixerFamily: ModelFamily<MixerConfig> = {
  family: 'mixer',
  task: 'classification',
  models: MIXER_MODELS,
  resolve: resolveMixerConfig,
  create: createMixer,
  paramCount: mixerParamCount,
  // timm mlp_mixer.py _cfg: input 224, crop_pct 0.875, bicubic, mean/std 0.5 (Mixer, goog_in21k_ft_in1k); the ResMLP tags
  // override mean/std with IMAGENET_DEFAULT_MEAN/STD.
  defaultCfg: (name, c) => ({
    inputSize: [c.inChannels, c.imgSize, c.imgSize], numClasses: c.numClasses,
    mean: c.kind === 'mixer' ? INCEPTION_MEAN : IMAGENET_MEAN, std: c.kind === 'mixer' ? INCEPTION_STD : IMAGENET_STD,
    cropPct: 0.875, interpolation: 'bicubic', weightLayout: c.kind === 'mixer' ? 'timm-mixer' : 'timm-resmlp',
    source: `timm mlp_mixer _cfg${c.kind === 'resmlp' ? ' with ResMLP mean/std' : ''}${name.includes('_patch') ? ' (model not in timm)' : ''}`,
  }),
  describe: (c) => `${c.kind === 'mixer' ? 'MLP-Mixer' : 'ResMLP'} embed ${c.embedDim}, depth ${c.depth}, patch ${c.patchSize}, ${c.imgSize}px, ${c.numClasses} classes`,
};

const swinFamily: ModelFamily<SwinConfig> = {
  family: 'swin',
  task: 'classification',
  models: SWIN_MODELS,
  resolve: resolveSwinConfig,
  create: createSwin,
  paramCount: swinParamCount,
  // timm swin_transformer.py _cfg (swin_{tiny,small}_patch4_window7_224.ms_in1k): input 224, crop_pct 0.9, bicubic,
  // IMAGENET_DEFAULT_MEAN/STD (torchvision's Swin_T/S_Weights resize to 232 / 246 with bicubic instead; timm's is used).
  defaultCfg: (name, c) => imagenetCfg(224, { mean: IMAGENET_MEAN, std: IMAGENET_STD, cropPct: 0.9, interpolation: 'bicubic', weightLayout: 'timm-swin',
    source: `timm ${name}.ms_in1k (_cfg)` }, c.numClasses),
  describe: (c) => `Swin embed ${c.embedDim}, depths [${c.depths.join(',')}], heads [${c.numHeads.join(',')}], window ${c.windowSize}, patch ${c.patchSize}, `
    + `${c.numClasses} classes`,
};

/**
 * Segmentation cfg: the whole image resized (no crop) to inputSize with bilinear interpolation (albumentations' A.Resize
 * default, as the seed used) and ImageNet mean/std (the seed's A.Normalize). Names without a suffix are the seed's
 * Cityscapes setting, 256x512; `_camvid` ones CamVid's 360x480 frames (training may override size and classes).
 */
const segmentationCfg = (name: string, numClasses: number, weightLayout: 'milesial-unet' | 'convmixer-unet', source: string): DefaultCfg => {
  const camvid = name.endsWith('_camvid');
  return {
    inputSize: camvid ? [3, 360, 480] : [3, 256, 512], numClasses, mean: IMAGENET_MEAN, std: IMAGENET_STD, cropPct: 1, interpolation: 'bilinear',
    weightLayout, source: `${source}; ${camvid ? 'CamVid SegNet frames 360x480' : 'seed 000 Cityscapes setting: resize to 256x512, ImageNet normalize'}`,
  };
};

const unetFamily: ModelFamily<UnetConfig, tf.Tensor4D> = {
  family: 'unet',
  task: 'segmentation',
  models: UNET_MODELS,
  resolve: resolveUnetConfig,
  create: createUnet,
  paramCount: unetParamCount,
  defaultCfg: (name, c) => segmentationCfg(name, c.numClasses, 'milesial-unet', 'milesial/Pytorch-UNet UNet(bilinear=False), the torch.hub Unet of seed 000'),
  describe: (c) => `U-Net (milesial, transposed-conv upsampling), widths ${c.baseWidth}..${c.baseWidth * 16}, ${c.numClasses} classes`,
};

const convMixerUnetFamily: ModelFamily<ConvMixerUnetConfig, tf.Tensor4D> = {
  family: 'convmixer_unet',
  task: 'segmentation',
  models: CONVMIXER_UNET_MODELS,
  resolve: resolveConvMixerUnetConfig,
  create: createConvMixerUnet,
  paramCount: convMixerUnetParamCount,
  defaultCfg: (name, c) => segmentationCfg(name, c.numClasses, 'convmixer-unet', 'seed 000 ConvMixer-Unet (widths of the seed author\'s script)'),
  describe: (c) => `ConvMixer-Unet encoder ${c.encoderWidths.join('/')}, decoder ${c.decoderWidth}/${c.numClasses * c.patchSize ** 4}, `
    + `depth ${c.depth}, k${c.kernelSize} p${c.patchSize}, ${c.numClasses} classes`,
};

const yoloConvMixerFamily: ModelFamily<YoloConvMixerConfig, tf.Tensor4D> = {
  family: 'yolo_convmixer',
  task: 'detection',
  models: YOLO_CONVMIXER_MODELS,
  resolve: resolveYoloConvMixerConfig,
  create: createYoloConvMixer,
  paramCount: yoloConvMixerParamCount,
  // The seed's VOC transform: torchvision Resize((448, 448)) (bilinear, the whole image stretched) and ImageNet Normalize.
  defaultCfg: (name, c) => ({
    inputSize: [c.inChannels, c.inputSize, c.inputSize], numClasses: c.numClasses, mean: IMAGENET_MEAN, std: IMAGENET_STD, cropPct: 1,
    interpolation: 'bilinear', weightLayout: 'yolo-convmixer',
    source: `seed 000 YOLO-ConvMixer: resize to ${c.inputSize}x${c.inputSize}, ImageNet normalize${name === 'yolo_convmixer_768_32' ? '' : ' (quick configuration, not in the seed)'}`,
  }),
  describe: (c) => `YOLO-ConvMixer: ConvMixer-${c.dim}/${c.depth} k${c.kernelSize} p${c.patchSize} ${c.activation}, pool ${c.pooledSize}x${c.pooledSize}, `
    + `hidden ${c.hiddenWidth}, S ${c.gridSize} B ${c.boxesPerCell} C ${c.numClasses}, ${c.inputSize}px`,
};

const FAMILIES: ReadonlyArray<ModelFamily<any, tf.Tensor>> = [convmixerFamily, resnetFamily, vitFamily, mixerFamily, swinFamily, unetFamily,
  convMixerUnetFamily, yoloConvMixerFamily];

/** timm names that are spelled differently here. */
export const ALIASES: Record<string, string> = { convmixer_1024_20_ks9_p14: 'convmixer_1024_20_p14' };

/** Registered names that timm does not have (paper-only configurations); every other name is a timm model name. */
const NOT_IN_TIMM = new Set([
  ...Object.keys(CONVMIXER_MODELS).filter((n) => !['convmixer_1536_20', 'convmixer_768_32', 'convmixer_1024_20_p14'].includes(n)),
  'deit_tiny_patch7_224', 'deit_small_patch7_224', 'deit_base_patch7_224', 'resmlp_12_patch8_224', 'resmlp_big_24_patch16_224',
  ...Object.keys(UNET_MODELS), ...Object.keys(CONVMIXER_UNET_MODELS), ...Object.keys(YOLO_CONVMIXER_MODELS),
]);

const index = new Map<string, ModelFamily<unknown, tf.Tensor>>();
for (const f of FAMILIES) for (const name of Object.keys(f.models)) {
  if (index.has(name)) throw new Error(`model '${name}' registered twice`);
  index.set(name, f);
}

/** Registered model names, in family order (ConvMixer, ResNet, ViT/DeiT, Mixer/ResMLP, Swin, U-Net, ConvMixer-Unet, YOLO-ConvMixer); optionally one family. */
export function listModels(family?: string): string[] {
  return [...index].filter(([, f]) => !family || f.family === family).map(([n]) => n);
}

export function listFamilies(): string[] {
  return FAMILIES.map((f) => f.family);
}

export interface ModelInfo<C = unknown> {
  name: string;
  family: string;
  task: ModelTask;
  /** True when timm registers a model of this name and architecture (aliases resolved). */
  inTimm: boolean;
  config: C;
  defaultCfg: DefaultCfg;
  /** Trainable parameters, by formula (= the sum of the built model's params). */
  paramCount: number;
  description: string;
}

function lookup(name: string): [string, ModelFamily<unknown, tf.Tensor>] {
  const canonical = ALIASES[name] ?? name;
  const family = index.get(canonical);
  if (!family) throw new UserError(`unknown model '${name}' (registered: ${listModels().join(', ')})`);
  return [canonical, family];
}

/** Whether a name (or timm alias) is registered. */
export function isRegistered(name: string): boolean {
  return index.has(ALIASES[name] ?? name);
}

/** The family of a registered name; a one-line UserError for unknown names. */
export function modelFamily(name: string): string {
  return lookup(name)[1].family;
}

/** Name, family, resolved config (with overrides), default_cfg and parameter count, without building anything. */
export function modelInfo(name: string, overrides: Record<string, unknown> = {}): ModelInfo {
  const [canonical, family] = lookup(name);
  const config = family.resolve(family.models[canonical], overrides);
  return {
    name: canonical, family: family.family, task: family.task, inTimm: !NOT_IN_TIMM.has(canonical), config,
    defaultCfg: family.defaultCfg(canonical, config), paramCount: family.paramCount(config), description: family.describe(config),
  };
}

export interface RegistryModel<C = unknown, Out extends tf.Tensor = tf.Tensor2D> extends ImageModel<C, Out> {
  name: string;
  family: string;
  task: ModelTask;
  defaultCfg: DefaultCfg;
}

/** Builds a registered model of any task (timm's create_model): seeded init, family-specific config overrides (e.g. {depth: 2, numClasses: 10}). */
export function buildModel(name: string, overrides: Record<string, unknown> = {}, opts: InitOptions = {}): RegistryModel<unknown, tf.Tensor> {
  const [canonical, family] = lookup(name);
  const info = modelInfo(canonical, overrides);
  const model = family.create(info.config, opts);
  return Object.assign(model, { name: canonical, family: family.family, task: family.task, defaultCfg: info.defaultCfg });
}

function requireTask(name: string, task: ModelTask): void {
  const [canonical, family] = lookup(name);
  if (family.task !== task) throw new UserError(`model '${canonical}' is a ${family.task} model; a ${task} model is needed here`);
}

/** Builds a registered classification model (apply gives logits [N, numClasses]); a one-line UserError for a segmentation or detection name. */
export function createModel(name: string, overrides: Record<string, unknown> = {}, opts: InitOptions = {}): RegistryModel {
  requireTask(name, 'classification');
  return buildModel(name, overrides, opts) as RegistryModel;
}

/** Builds a registered segmentation model (apply gives NHWC logits [N, H, W, numClasses]); a one-line UserError otherwise. */
export function createSegmentationModel(name: string, overrides: Record<string, unknown> = {}, opts: InitOptions = {}): RegistryModel<unknown, tf.Tensor4D> {
  requireTask(name, 'segmentation');
  return buildModel(name, overrides, opts) as RegistryModel<unknown, tf.Tensor4D>;
}

/** Builds a registered detection model (apply gives YOLOv1 grids [N, S, S, C + 5B]); a one-line UserError otherwise. */
export function createDetectionModel(name: string, overrides: Record<string, unknown> = {}, opts: InitOptions = {}): RegistryModel<YoloConvMixerConfig, tf.Tensor4D>
  & YoloConvMixerModel {
  requireTask(name, 'detection');
  return buildModel(name, overrides, opts) as RegistryModel<YoloConvMixerConfig, tf.Tensor4D> & YoloConvMixerModel;
}

/** Trainable parameters of a built model (sum of its trainable variables' sizes). */
export function countParams(model: { params: Record<string, { size: number }> }): number {
  return Object.values(model.params).reduce((s, v) => s + v.size, 0);
}

/**
 * The default cfg of a ConvMixer config from CLI flags: that of the model it was named from (`--model`, its overrides
 * applied), else that of the named model it equals. A config that is neither (only --dim/--depth/... flags) has no
 * registry cfg; it gets the ImageNet ConvMixer cfg when it has 1000 classes and the CIFAR-10 one otherwise (the one place
 * left that goes by the class count, and only for unnamed configs).
 */
export function convMixerDefaultCfg(config: ConvMixerConfig, name?: string): DefaultCfg {
  const named = name !== undefined && isRegistered(name) && modelFamily(name) === 'convmixer' ? lookup(name)[0] : registryName(config);
  if (named) return convmixerFamily.defaultCfg(named, config);
  const like = config.numClasses === 1000 ? 'convmixer_1536_20' : 'convmixer_256_8';
  return { ...convmixerFamily.defaultCfg(like, config), source: `unnamed ConvMixer config: ${like}'s cfg by class count (${config.numClasses})` };
}
