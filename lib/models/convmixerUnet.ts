// ConvMixer-Unet (seed 000, sections III, V, VI): a U-shaped net made only of ConvMixers and depth-to-space reshapes.
// Every ConvMixer ("stage") is a full one: patch-embedding conv (k = stride = 2) -> GELU -> BN, then `depth` blocks of
// residual(depthwise k9 'same' -> GELU -> BN) -> pointwise 1x1 -> GELU -> BN (seed: "2x2 patches, kernel size 9 and depth 8
// for all the blocks"), so each stage halves the resolution, the decoder's too. The UpSample-reshape block (depth-to-space,
// C x H x W -> C/n^2 x nH x nW) makes up for that: by 2 after the encoder, by 4 after each decoder stage ("a double increase
// of resolution"). With p = patch size and x at H x W:
//   x1 = convmix1(x) [H/2, w1]   x2 = convmix2(x1) [H/4, w2]   x3 = convmix3(x2) [H/8, w3]
//   x4 = convmix4(concat[d2s(x3, 2), x2]) [H/8, wd]   x5 = convmix5(concat[d2s(x4, 4), x1]) [H/4, 16 K]   logits = d2s(x5, 4) [H, K]
// There is no 1x1 head: the last reshape turns convmix5's 16 K channels into the K class maps (the logits are the output of
// its last BatchNorm), and the upsampled tensor comes before the skip in each concat, all as in the seed's code.
//
// Widths (the seed's text does not give them): w1, w2, w3 = 64, 256, 1024 and wd = 1024, as in the seed author's own script
// (github.com/AlfaranoAndrea/ConvMixer_extensions-, obj_segmentation/script012345.py, class ConvMixerUnet), with 20 classes
// (its utils.py: Cityscapes' 19 train ids + 'unlabelled' as class 0). That is 23,408,256 parameters: the seed's 23.4M, and
// exactly the "93.633 MB" (4 bytes a parameter) its notebook's Lightning summary prints. Only K changes with the dataset.
//
// Keys: the seed's nn.Sequential indices, convmix{s}.0 (stem conv), .2 (BN), .{3+i}.0.fn.0 (depthwise), .{3+i}.0.fn.2,
// .{3+i}.1 (pointwise), .{3+i}.3; tfjs layouts. The depth-to-space here is TF's DCR order, the seed's einops reshape is
// PyTorch's CRD order (see ops.ts depthToSpace): seed weights would need their channel order permuted before a reshape.
// The blocks go through ops.ts's fused BN(GELU(conv + bias)) and depthwise-block ops (native forward and backward).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseConfig } from './family.ts';
import { ParamStore, disposeAll, type ImageModel, type InitOptions } from './layers.ts';
import { biasActBatchNorm, depthToSpace, depthwiseActBatchNorm, type BatchNormState } from './ops.ts';

export interface ConvMixerUnetConfig {
  inChannels: number;
  numClasses: number;
  /** Widths of the three encoder ConvMixers (seed code: 64, 256, 1024). */
  encoderWidths: [number, number, number];
  /** Width of the first decoder ConvMixer (seed code: 1024); the second one's is numClasses * patchSize^4. */
  decoderWidth: number;
  /** Blocks per ConvMixer (seed: 8). */
  depth: number;
  /** Depthwise kernel (seed: 9). */
  kernelSize: number;
  /** Patch size of every patch embedding (seed: 2). */
  patchSize: number;
}

const posInt = z.number().int().positive();
export const convMixerUnetSchema = z.object({
  inChannels: posInt, numClasses: posInt, encoderWidths: z.tuple([posInt, posInt, posInt]), decoderWidth: posInt,
  depth: z.number().int().nonnegative(), kernelSize: posInt, patchSize: z.number().int().min(2),
}).strict()
  .refine((c) => c.encoderWidths[2] % c.patchSize ** 2 === 0, { message: 'encoderWidths[2] must be divisible by patchSize^2', path: ['encoderWidths'] })
  .refine((c) => c.decoderWidth % c.patchSize ** 4 === 0, { message: 'decoderWidth must be divisible by patchSize^4', path: ['decoderWidth'] });

const seed = (numClasses: number): ConvMixerUnetConfig =>
  ({ inChannels: 3, numClasses, encoderWidths: [64, 256, 1024], decoderWidth: 1024, depth: 8, kernelSize: 9, patchSize: 2 });

/** The seed's Cityscapes setting (256x512, 20 classes) and CamVid (11 classes). */
export const CONVMIXER_UNET_MODELS: Record<string, ConvMixerUnetConfig> = {
  convmixer_unet: seed(20),
  convmixer_unet_camvid: seed(11),
};

export function resolveConvMixerUnetConfig(base: ConvMixerUnetConfig, overrides: Record<string, unknown> = {}): ConvMixerUnetConfig {
  return parseConfig(convMixerUnetSchema, base, overrides, 'convmixer_unet') as ConvMixerUnetConfig;
}

interface Stage { name: string; inChannels: number; dim: number }

/** The five ConvMixers in forward order, with the channels each one's patch embedding sees. */
export function convMixerUnetStages(c: ConvMixerUnetConfig): Stage[] {
  const [w1, w2, w3] = c.encoderWidths, p2 = c.patchSize ** 2;
  return [
    { name: 'convmix1', inChannels: c.inChannels, dim: w1 },
    { name: 'convmix2', inChannels: w1, dim: w2 },
    { name: 'convmix3', inChannels: w2, dim: w3 },
    { name: 'convmix4', inChannels: w3 / p2 + w2, dim: c.decoderWidth },
    { name: 'convmix5', inChannels: c.decoderWidth / (p2 * p2) + w1, dim: c.numClasses * p2 * p2 },
  ];
}

/** One ConvMixer's trainable parameters: stem conv + bias + BN, and depth x (depthwise + bias + BN + pointwise + bias + BN). */
const stageParams = (s: Stage, c: ConvMixerUnetConfig): number =>
  s.dim * (s.inChannels * c.patchSize ** 2 + 3) + c.depth * s.dim * (c.kernelSize ** 2 + s.dim + 6);

export function convMixerUnetParamCount(c: ConvMixerUnetConfig): number {
  return convMixerUnetStages(c).reduce((sum, s) => sum + stageParams(s, c), 0);
}

/** Forward multiply-adds of the convolutions (patch embeddings, depthwise, pointwise) for one h x w image (h, w divisible by p^3). */
export function convMixerUnetMacs(c: ConvMixerUnetConfig, h: number, w: number): number {
  const p = c.patchSize;
  const outPixels = [p, p ** 2, p ** 3, p ** 3, p ** 2].map((f) => (h / f) * (w / f)); // each stage's output resolution
  return convMixerUnetStages(c).reduce((sum, s, i) =>
    sum + outPixels[i]! * (p * p * s.inChannels * s.dim + c.depth * (c.kernelSize ** 2 * s.dim + s.dim * s.dim)), 0);
}

/** Builds a ConvMixer-Unet with PyTorch's default init (U(+-1/sqrt(fan_in)) for convs and biases; BN weight 1, bias 0), seeded. */
export function createConvMixerUnet(config: ConvMixerUnetConfig, opts: InitOptions = {}): ImageModel<ConvMixerUnetConfig, tf.Tensor4D> {
  const s = new ParamStore(opts);
  const { patchSize: p, kernelSize: k, depth } = config;
  const stages = convMixerUnetStages(config);
  for (const st of stages) {
    s.uniform(`${st.name}.0.weight`, [p, p, st.inChannels, st.dim], st.inChannels * p * p);
    s.uniform(`${st.name}.0.bias`, [st.dim], st.inChannels * p * p);
    s.batchNorm(`${st.name}.2`, st.dim);
    for (let i = 0; i < depth; i++) {
      const blk = `${st.name}.${3 + i}`;
      s.uniform(`${blk}.0.fn.0.weight`, [k, k, st.dim, 1], k * k); // depthwise: fan_in = 1 channel * k * k
      s.uniform(`${blk}.0.fn.0.bias`, [st.dim], k * k);
      s.batchNorm(`${blk}.0.fn.2`, st.dim);
      s.uniform(`${blk}.1.weight`, [1, 1, st.dim, st.dim], st.dim);
      s.uniform(`${blk}.1.bias`, [st.dim], st.dim);
      s.batchNorm(`${blk}.3`, st.dim);
    }
  }

  const { params, buffers } = s;
  const w4 = (key: string): tf.Tensor4D => params[key] as tf.Tensor4D;
  const b = (key: string): tf.Tensor1D => params[key] as tf.Tensor1D;
  const bnState = (name: string): BatchNormState =>
    ({ weight: b(`${name}.weight`), bias: b(`${name}.bias`), runningMean: buffers[`${name}.running_mean`]!, runningVar: buffers[`${name}.running_var`]! });

  /** One ConvMixer; each activation is disposed once the next layer has consumed it (a gradient tape keeps its own references). */
  const runStage = (x: tf.Tensor4D, name: string, training: boolean): tf.Tensor4D => tf.tidy(() => {
    const stem = tf.conv2d(x, w4(`${name}.0.weight`), p, 'valid');
    let h = biasActBatchNorm(stem, b(`${name}.0.bias`), bnState(`${name}.2`), 'gelu', training);
    stem.dispose();
    for (let i = 0; i < depth; i++) {
      const blk = `${name}.${3 + i}`;
      const mixed = depthwiseActBatchNorm(h, w4(`${blk}.0.fn.0.weight`), b(`${blk}.0.fn.0.bias`), bnState(`${blk}.0.fn.2`), 'gelu', training, true);
      const pw = tf.conv2d(mixed, w4(`${blk}.1.weight`), 1, 'valid');
      const next = biasActBatchNorm(pw, b(`${blk}.1.bias`), bnState(`${blk}.3`), 'gelu', training);
      tf.dispose([h, mixed, pw]);
      h = next;
    }
    return h;
  });
  /** UpSample-reshape by r, then the skip concatenated after it on channels (the seed's order). */
  const upConcat = (x: tf.Tensor4D, r: number, skip: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => tf.concat([depthToSpace(x, r), skip], 3));

  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor4D => {
    const [, h, w] = x.shape, f = p ** 3;
    if (h % f !== 0 || w % f !== 0) throw new UserError(`convmixer_unet: input ${h}x${w} is not divisible by ${f} (three ${p}x${p} patch embeddings deep)`);
    return tf.tidy(() => {
      const training = o.training === true;
      const x1 = runStage(x, 'convmix1', training);
      const x2 = runStage(x1, 'convmix2', training);
      const x3 = runStage(x2, 'convmix3', training);
      const x4 = runStage(upConcat(x3, p, x2), 'convmix4', training);
      const x5 = runStage(upConcat(x4, p * p, x1), 'convmix5', training);
      return depthToSpace(x5, p * p);
    });
  };
  return { config, params, buffers, apply, dispose: () => disposeAll(s) };
}
