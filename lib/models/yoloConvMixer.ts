// YOLO-ConvMixer (seed 000, sections II and IV): YOLOv1 with its CNN backbone replaced by a ConvMixer. The ConvMixer's
// classifier (global pool, flatten, linear) is cut off and a YOLOv1 head put in its place:
//   features = ConvMixer stem + blocks (NHWC [N, H/p, W/p, dim])
//   pooled   = AdaptiveAvgPool2d(P x P), flattened in PyTorch's (channel, row, column) order   [N, dim * P * P]
//   hidden   = LeakyReLU_0.1(pooled @ fc1 + b1)                                               [N, hidden]
//   out      = hidden @ fc2 + b2, reshaped row-major to [N, S, S, C + 5B]
// Choices, and where they come from:
// - P = 9: the seed's text ("I changed 1x1 Global Average Pooling to 9x9"). The seed author's public script
//   (github.com/AlfaranoAndrea/ConvMixer_extensions-, "object detection/ConvMixerDetection.py", ConvMixerModule) pools
//   to 8x8 instead; pooledSize is a config field, so that variant is an override away.
// - hidden = 496 and LeakyReLU(0.1) between the two linear layers: the seed's script (Linear(hdim*64, 496), Dropout(0.0),
//   LeakyReLU(0.1), Linear(496, S*S*(C+B*5))); the text does not give the width. Dropout 0 is left out.
// - Output layout, per cell, as the seed's script and its loss read it (aladdinpersson's YOLOv1 layout):
//   channels [0, C) class scores, then for each box b < B: C + 5b = confidence, C + 5b + 1..4 = x, y, w, h.
//   x, y: the box centre relative to the cell's top-left corner in cell units; w, h: box size in cell units (image / S).
//   With S = 7, B = 2, C = 20: 20 classes, conf1, x1, y1, w1, h1, conf2, x2, y2, w2, h2 (30 channels).
// - Backbone: the ConvMixer of the paper (residual around the depthwise part only, BatchNorm), under timm's key names
//   (stem.0, stem.2, blocks.i.0.fn.0, blocks.i.0.fn.2, blocks.i.1, blocks.i.3) so timm's convmixer_768_32 safetensors
//   load into it (loadBackboneWeights); the head's keys are yolo_head.fc1 / yolo_head.fc2 (tfjs layout [in, out]).
//   The flatten order is PyTorch's, so the seed's trained head (its Sequential's Linear layers) maps onto fc1/fc2 by a
//   transpose only.
// Native engine: the backbone goes through ops.ts's fused BatchNorm ops like convmixer.ts; adaptive pooling is a
// transpose and one matmul with a fixed pooling matrix (native Transpose + BatchMatMul, forward and backward); the
// linear layers are native BatchMatMul + Add; LeakyReLU is ops.ts leakyRelu: the native LeakyRelu kernel forward and
// dy * step(x, alpha) backward (native Step + Multiply) instead of tfjs's Greater + Select.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseConfig } from './family.ts';
import { ParamStore, disposeAll, type ImageModel, type InitOptions } from './layers.ts';
import { biasActBatchNorm, depthwiseActBatchNorm, leakyRelu, type BatchNormState } from './ops.ts';
import { readSafetensors, type StoredTensor } from './safetensors.ts';
import { toTfjsPerm, toTimmKeys, toTorchPerm } from './weights.ts';

export interface YoloConvMixerConfig {
  /** Backbone ConvMixer: width, blocks, depthwise kernel, patch size, activation (ConvMixer-768/32: ReLU, k7, p7). */
  dim: number;
  depth: number;
  kernelSize: number;
  patchSize: number;
  activation: 'gelu' | 'relu';
  inChannels: number;
  /** Adaptive average pooling output size P (seed text: 9). */
  pooledSize: number;
  /** Width of the hidden linear layer (seed code: 496). */
  hiddenWidth: number;
  /** YOLOv1 grid S, boxes per cell B, classes C. */
  gridSize: number;
  boxesPerCell: number;
  numClasses: number;
  /** The input size the model is meant for (square; the seed: 448). apply takes any size of at least one patch. */
  inputSize: number;
}

const posInt = z.number().int().positive();
export const yoloConvMixerSchema = z.object({
  dim: posInt, depth: z.number().int().nonnegative(), kernelSize: posInt, patchSize: posInt, activation: z.enum(['gelu', 'relu']),
  inChannels: posInt, pooledSize: posInt, hiddenWidth: posInt, gridSize: posInt, boxesPerCell: posInt, numClasses: posInt, inputSize: posInt,
}).strict().refine((c) => c.inputSize >= c.patchSize, { message: 'inputSize must be at least patchSize', path: ['inputSize'] });

/** The YOLOv1 head of the seed: pool 9, hidden 496, S 7, B 2, C 20 (VOC). */
const SEED_HEAD = { pooledSize: 9, hiddenWidth: 496, gridSize: 7, boxesPerCell: 2, numClasses: 20, inChannels: 3 } as const;

/**
 * yolo_convmixer_768_32: the seed's model, ConvMixer-768/32 k7 p7 ReLU (timm convmixer_768_32's architecture, whose
 * ImageNet weights the seed started from) at 448 x 448.
 * yolo_convmixer_256_8: a quick configuration (not in the seed) for 2 CPU cores: ConvMixer-256/8 k7 ReLU with a patch
 * of 14 at 224 x 224, so its feature map is 16 x 16 (a patch of 7 gives 32 x 32 and trained 4.6x slower here at batch 16:
 * 1.3 vs 6.0 img/s, timed one after the other beside another training), pooled to the seed's 9 x 9; no pretrained backbone exists for it, so it trains from scratch.
 */
export const YOLO_CONVMIXER_MODELS: Record<string, YoloConvMixerConfig> = {
  yolo_convmixer_768_32: { dim: 768, depth: 32, kernelSize: 7, patchSize: 7, activation: 'relu', ...SEED_HEAD, inputSize: 448 },
  yolo_convmixer_256_8: { dim: 256, depth: 8, kernelSize: 7, patchSize: 14, activation: 'relu', ...SEED_HEAD, inputSize: 224 },
};

export function resolveYoloConvMixerConfig(base: YoloConvMixerConfig, overrides: Record<string, unknown> = {}): YoloConvMixerConfig {
  return parseConfig(yoloConvMixerSchema, base, overrides, 'yolo_convmixer') as YoloConvMixerConfig;
}

/** Channels per grid cell: C class scores + B x (confidence, x, y, w, h). */
export const cellChannels = (c: Pick<YoloConvMixerConfig, 'numClasses' | 'boxesPerCell'>): number => c.numClasses + 5 * c.boxesPerCell;

/** Backbone parameters: paper Eq. 4 without the classifier, d[depth(k^2 + d + 6) + c p^2 + 3]. */
export function yoloBackboneParamCount(c: YoloConvMixerConfig): number {
  return c.dim * (c.depth * (c.kernelSize ** 2 + c.dim + 6) + c.inChannels * c.patchSize ** 2 + 3);
}

/** All trainable parameters: backbone + fc1 (dim P^2 -> hidden, with bias) + fc2 (hidden -> S^2 (C + 5B), with bias). */
export function yoloConvMixerParamCount(c: YoloConvMixerConfig): number {
  const out = c.gridSize ** 2 * cellChannels(c);
  return yoloBackboneParamCount(c) + (c.dim * c.pooledSize ** 2 + 1) * c.hiddenWidth + (c.hiddenWidth + 1) * out;
}

/** PyTorch AdaptiveAvgPool window of output index i: [floor(i In / Out), ceil((i + 1) In / Out)). */
export function adaptiveWindow(i: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)];
}

/**
 * The [H W, P P] matrix M with pooled[(oh, ow)] = sum over pixels (h, w) of x[h, w] M[h W + w, oh P + ow]: each output
 * the mean over its row window x column window (PyTorch's AdaptiveAvgPool2d; windows overlap when In is not a multiple).
 */
export function adaptivePoolMatrix(height: number, width: number, outSize: number): Float32Array {
  const m = new Float32Array(height * width * outSize * outSize);
  for (let oh = 0; oh < outSize; oh++) {
    const [h0, h1] = adaptiveWindow(oh, height, outSize);
    for (let ow = 0; ow < outSize; ow++) {
      const [w0, w1] = adaptiveWindow(ow, width, outSize);
      const weight = 1 / ((h1 - h0) * (w1 - w0)), col = oh * outSize + ow;
      for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) m[(h * width + w) * outSize * outSize + col] = weight;
    }
  }
  return m;
}

/**
 * AdaptiveAvgPool2d(P) of NHWC x, then flattened as PyTorch's nn.Flatten does after it: [N, C * P * P] in (c, oh, ow)
 * order. One transpose to [N, C, H, W] and one [N C, H W] x [H W, P P] matmul with `poolMatrix` (adaptivePoolMatrix).
 */
export function adaptiveAvgPoolFlat(x: tf.Tensor4D, poolMatrix: tf.Tensor2D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const pp = poolMatrix.shape[1];
  if (poolMatrix.shape[0] !== h * w) throw new Error(`adaptiveAvgPoolFlat: pooling matrix is for ${poolMatrix.shape[0]} pixels, input has ${h}x${w}`);
  return tf.tidy(() => {
    const channelsFirst = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h * w]);
    return tf.reshape(tf.matMul(channelsFirst, poolMatrix), [n, c * pp]);
  });
}

/** Key prefixes of the two head layers (the backbone uses timm's ConvMixer keys). */
export const HEAD_FC1 = 'yolo_head.fc1', HEAD_FC2 = 'yolo_head.fc2';

export interface YoloConvMixerModel extends ImageModel<YoloConvMixerConfig, tf.Tensor4D> {
  /** The backbone's feature map, NHWC [N, H/p, W/p, dim] (what the head pools). */
  features(x: tf.Tensor4D, opts?: { training?: boolean }): tf.Tensor4D;
}

/** Builds a YOLO-ConvMixer with PyTorch's default init (U(+-1/sqrt(fan_in)) for convs, linears and their biases; BN 1/0), seeded. */
export function createYoloConvMixer(config: YoloConvMixerConfig, opts: InitOptions = {}): YoloConvMixerModel {
  const s = new ParamStore(opts);
  const { dim: d, depth, kernelSize: k, patchSize: p, inChannels: ci, pooledSize: pool, hiddenWidth: hidden, gridSize: grid } = config;
  const channels = cellChannels(config);
  s.uniform('stem.0.weight', [p, p, ci, d], ci * p * p);
  s.uniform('stem.0.bias', [d], ci * p * p);
  s.batchNorm('stem.2', d);
  for (let i = 0; i < depth; i++) {
    s.uniform(`blocks.${i}.0.fn.0.weight`, [k, k, d, 1], k * k); // depthwise: fan_in = 1 channel * k * k
    s.uniform(`blocks.${i}.0.fn.0.bias`, [d], k * k);
    s.batchNorm(`blocks.${i}.0.fn.2`, d);
    s.uniform(`blocks.${i}.1.weight`, [1, 1, d, d], d);
    s.uniform(`blocks.${i}.1.bias`, [d], d);
    s.batchNorm(`blocks.${i}.3`, d);
  }
  const pooledWidth = d * pool * pool;
  s.uniform(`${HEAD_FC1}.weight`, [pooledWidth, hidden], pooledWidth);
  s.uniform(`${HEAD_FC1}.bias`, [hidden], pooledWidth);
  s.uniform(`${HEAD_FC2}.weight`, [hidden, grid * grid * channels], hidden);
  s.uniform(`${HEAD_FC2}.bias`, [grid * grid * channels], hidden);

  const { params, buffers } = s;
  const w4 = (key: string): tf.Tensor4D => params[key] as tf.Tensor4D;
  const b = (key: string): tf.Tensor1D => params[key] as tf.Tensor1D;
  const bnState = (name: string): BatchNormState =>
    ({ weight: b(`${name}.weight`), bias: b(`${name}.bias`), runningMean: buffers[`${name}.running_mean`]!, runningVar: buffers[`${name}.running_var`]! });

  // One pooling matrix per feature-map size, kept until the model is disposed.
  const poolMatrices = new Map<string, tf.Tensor2D>();
  const poolMatrix = (h: number, w: number): tf.Tensor2D => {
    const key = `${h}x${w}`;
    let m = poolMatrices.get(key);
    if (!m) {
      m = tf.keep(tf.tensor2d(adaptivePoolMatrix(h, w, pool), [h * w, pool * pool]));
      poolMatrices.set(key, m);
    }
    return m;
  };

  const features = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor4D => {
    const [, h, w] = x.shape;
    if (h < p || w < p) throw new UserError(`yolo_convmixer: input ${h}x${w} is smaller than one ${p}x${p} patch`);
    return tf.tidy(() => {
      const training = o.training === true;
      // Each activation is disposed once the next layer has consumed it (a gradient tape keeps its own references).
      const stem = tf.conv2d(x, w4('stem.0.weight'), p, 'valid');
      let act = biasActBatchNorm(stem, b('stem.0.bias'), bnState('stem.2'), config.activation, training);
      stem.dispose();
      for (let i = 0; i < depth; i++) {
        const mixed = depthwiseActBatchNorm(act, w4(`blocks.${i}.0.fn.0.weight`), b(`blocks.${i}.0.fn.0.bias`), bnState(`blocks.${i}.0.fn.2`),
          config.activation, training, true);
        const pw = tf.conv2d(mixed, w4(`blocks.${i}.1.weight`), 1, 'valid');
        const next = biasActBatchNorm(pw, b(`blocks.${i}.1.bias`), bnState(`blocks.${i}.3`), config.activation, training);
        tf.dispose([act, mixed, pw]);
        act = next;
      }
      return act;
    });
  };

  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor4D => tf.tidy(() => {
    const f = features(x, o);
    const pooled = adaptiveAvgPoolFlat(f, poolMatrix(f.shape[1], f.shape[2]));
    const hiddenAct = leakyRelu(tf.add(tf.matMul(pooled, params[`${HEAD_FC1}.weight`] as tf.Tensor2D), b(`${HEAD_FC1}.bias`)), 0.1);
    const out = tf.add(tf.matMul(hiddenAct, params[`${HEAD_FC2}.weight`] as tf.Tensor2D), b(`${HEAD_FC2}.bias`));
    return tf.reshape(out, [x.shape[0], grid, grid, channels]);
  });

  return {
    config, params, buffers, apply, features,
    dispose() {
      disposeAll(s);
      for (const m of poolMatrices.values()) m.dispose();
      poolMatrices.clear();
    },
  };
}

/** Whether a key belongs to the backbone (timm ConvMixer keys) rather than the YOLO head. */
const isHeadKey = (key: string): boolean => key.startsWith('yolo_head.');

function describe(c: YoloConvMixerConfig): string {
  return `yolo_convmixer backbone ConvMixer-${c.dim}/${c.depth} k${c.kernelSize} p${c.patchSize}`;
}

/** Converts `tensors` (PyTorch layouts) onto the model's variables of `keys`; every key must be there with its shape; all-or-nothing. */
function assignTorchTensors(model: YoloConvMixerModel, tensors: Record<string, StoredTensor>, keys: string[], where: string): void {
  const variables: Record<string, tf.Variable> = { ...model.params, ...model.buffers };
  const converted: Array<[tf.Variable, tf.Tensor]> = [];
  try {
    for (const key of keys) {
      const variable = variables[key]!, t = tensors[key];
      if (!t) throw new UserError(`${where}: missing key '${key}' for ${describe(model.config)}`);
      const perm = toTfjsPerm(key, t.shape.length);
      const shape = perm ? perm.map((axis) => t.shape[axis]!) : t.shape;
      if (shape.join() !== variable.shape.join()) {
        const torchPerm = toTorchPerm(key, variable.shape.length);
        const expected = torchPerm ? torchPerm.map((axis) => variable.shape[axis]!) : variable.shape;
        throw new UserError(`${where}: '${key}' has shape [${t.shape}], expected [${expected}] for ${describe(model.config)}`);
      }
      converted.push([variable, tf.tidy(() => (perm ? tf.transpose(tf.tensor(t.data, t.shape), perm) : tf.tensor(t.data, t.shape)))]);
    }
    for (const [variable, value] of converted) variable.assign(value);
  } finally {
    tf.dispose(converted.map(([, value]) => value));
  }
}

/**
 * Loads a ConvMixer ImageNet checkpoint (a safetensors path or tensors already read; timm's keys, e.g. timm's
 * convmixer_768_32, or the paper's nn.Sequential keys) into the backbone: every backbone parameter and BatchNorm buffer
 * must be there with its shape; the classifier (`head.*`) is ignored and the YOLO head keeps its init. A missing key,
 * an unexpected key or a shape mismatch is a one-line UserError, and the model is untouched then.
 */
export function loadBackboneWeights(model: YoloConvMixerModel, source: string | Record<string, StoredTensor>): void {
  const where = typeof source === 'string' ? source : 'checkpoint';
  const tensors = toTimmKeys(typeof source === 'string' ? readSafetensors(source) : source, model.config.depth, where);
  const backboneKeys = Object.keys({ ...model.params, ...model.buffers }).filter((key) => !isHeadKey(key));
  const known = new Set(backboneKeys);
  for (const key of Object.keys(tensors)) {
    if (!key.startsWith('head.') && !known.has(key)) throw new UserError(`${where}: unexpected key '${key}' (not in ${describe(model.config)})`);
  }
  assignTorchTensors(model, tensors, backboneKeys, where);
}

/** The whole model's parameters and buffers in PyTorch layouts (backbone under timm's keys, head as yolo_head.fc1/fc2 [out, in]). */
export function yoloStateDict(model: YoloConvMixerModel): Record<string, StoredTensor> {
  const out: Record<string, StoredTensor> = {};
  for (const [key, v] of Object.entries({ ...model.params, ...model.buffers })) {
    const perm = toTorchPerm(key, v.rank);
    const data = tf.tidy(() => (perm ? tf.transpose(v, perm) : v).dataSync() as Float32Array);
    out[key] = { dtype: 'F32', shape: perm ? perm.map((axis) => v.shape[axis]!) : [...v.shape], data: Float32Array.from(data) };
  }
  return out;
}

/** Loads a whole YOLO-ConvMixer state dict (what yoloStateDict gives; `module.` and num_batches_tracked are dropped). */
export function loadYoloWeights(model: YoloConvMixerModel, source: string | Record<string, StoredTensor>): void {
  const where = typeof source === 'string' ? source : 'checkpoint';
  const raw = typeof source === 'string' ? readSafetensors(source) : source;
  const tensors: Record<string, StoredTensor> = {};
  for (const [key, t] of Object.entries(raw)) if (!key.endsWith('num_batches_tracked')) tensors[key.replace(/^module\./, '')] = t;
  const keys = Object.keys({ ...model.params, ...model.buffers });
  const known = new Set(keys);
  for (const key of Object.keys(tensors)) if (!known.has(key)) throw new UserError(`${where}: unexpected key '${key}' (not in ${describe(model.config)})`);
  assignTorchTensors(model, tensors, keys, where);
}
