// ResNet-50/101/152 (He et al. 2016) as timm's `resnet50` etc. build it (= torchvision's layout): 7x7/2 stem conv + BN + ReLU +
// 3x3/2 max pool, four stages of Bottleneck blocks (1x1 -> 3x3 with the stride -> 1x1 x4, BN after each, no conv biases,
// 1x1/stride conv + BN shortcut where the stride or channel count changes), global average pooling, Linear `fc`.
// Keys are timm's (conv1, bn1, layer{s}.{b}.conv1 ..., downsample.0/1, fc). The paper's Tables 1 and 2 compare against them.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { parseConfig } from './family.ts';
import { ParamStore, type InitOptions, bn, disposeAll, type ImageModel } from './layers.ts';

export interface ResNetConfig {
  /** Bottleneck blocks per stage. */
  layers: [number, number, number, number];
  /** Bottleneck width of each stage (output channels = 4x); timm's `channels` argument, (64, 128, 256, 512). */
  channels: [number, number, number, number];
  /** Output channels of the 7x7 stem conv; timm's `stem_width`, 64. */
  stemWidth: number;
  numClasses: number;
  inChannels: number;
}

const posInt = z.number().int().positive();
export const resnetSchema = z.object({
  layers: z.tuple([posInt, posInt, posInt, posInt]), channels: z.tuple([posInt, posInt, posInt, posInt]), stemWidth: posInt,
  numClasses: posInt, inChannels: posInt,
}).strict();

const resnet = (layers: [number, number, number, number]): ResNetConfig =>
  ({ layers, channels: [64, 128, 256, 512], stemWidth: 64, numClasses: 1000, inChannels: 3 });

/** timm `resnet50` / `resnet101` / `resnet152`: block=Bottleneck, layers (3,4,6,3) / (3,4,23,3) / (3,8,36,3). */
export const RESNET_MODELS: Record<string, ResNetConfig> = {
  resnet50: resnet([3, 4, 6, 3]),
  resnet101: resnet([3, 4, 23, 3]),
  resnet152: resnet([3, 8, 36, 3]),
};

const EXPANSION = 4;

export function resolveResNetConfig(base: ResNetConfig, overrides: Record<string, unknown> = {}): ResNetConfig {
  return parseConfig(resnetSchema, base, overrides, 'resnet') as ResNetConfig;
}

/** Trainable parameters by formula (convs without bias, BN weight+bias, fc with bias). */
export function resnetParamCount(c: ResNetConfig): number {
  let total = 7 * 7 * c.inChannels * c.stemWidth + 2 * c.stemWidth;
  let inplanes = c.stemWidth;
  c.layers.forEach((blocks, s) => {
    const w = c.channels[s]!, out = w * EXPANSION;
    for (let b = 0; b < blocks; b++) {
      total += inplanes * w + 2 * w + 9 * w * w + 2 * w + w * out + 2 * out;
      if (b === 0 && (s > 0 || inplanes !== out)) total += inplanes * out + 2 * out; // downsample: stride or channels change
      inplanes = out;
    }
  });
  return total + inplanes * c.numClasses + c.numClasses;
}

/** Builds a ResNet with timm's init: kaiming-normal (fan_out, ReLU) convs, BN 1/0 with the last BN of each block zeroed, default Linear. */
export function createResNet(config: ResNetConfig, opts: InitOptions = {}): ImageModel<ResNetConfig> {
  const s = new ParamStore(opts);
  const conv = (key: string, k: number, cin: number, cout: number): void => {
    s.normal(`${key}.weight`, [k, k, cin, cout], Math.sqrt(2 / (cout * k * k)));
  };
  conv('conv1', 7, config.inChannels, config.stemWidth);
  s.batchNorm('bn1', config.stemWidth);
  const blocks: Array<{ prefix: string; stride: number; downsample: boolean }> = [];
  let inplanes = config.stemWidth;
  config.layers.forEach((n, si) => {
    const w = config.channels[si]!, out = w * EXPANSION;
    for (let b = 0; b < n; b++) {
      const prefix = `layer${si + 1}.${b}`;
      conv(`${prefix}.conv1`, 1, inplanes, w);
      s.batchNorm(`${prefix}.bn1`, w);
      conv(`${prefix}.conv2`, 3, w, w);
      s.batchNorm(`${prefix}.bn2`, w);
      conv(`${prefix}.conv3`, 1, w, out);
      s.batchNorm(`${prefix}.bn3`, out, 0);
      const stride = b === 0 && si > 0 ? 2 : 1, downsample = b === 0 && (stride !== 1 || inplanes !== out);
      if (downsample) {
        conv(`${prefix}.downsample.0`, 1, inplanes, out);
        s.batchNorm(`${prefix}.downsample.1`, out);
      }
      blocks.push({ prefix, stride, downsample });
      inplanes = out;
    }
  });
  s.uniform('fc.weight', [inplanes, config.numClasses], inplanes);
  s.uniform('fc.bias', [config.numClasses], inplanes);

  const { params: p, buffers } = s;
  const w4 = (key: string): tf.Tensor4D => p[`${key}.weight`] as tf.Tensor4D;
  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor2D => tf.tidy(() => {
    const training = o.training === true;
    // PyTorch pads symmetrically (padding=3 for the 7x7/2 stem, 1 for 3x3 convs and the max pool); tfjs 'same' would not for stride 2.
    let h = tf.relu(bn(tf.conv2d(x, w4('conv1'), 2, 3), p, buffers, 'bn1', training));
    h = tf.maxPool(h, 3, 2, 1);
    for (const blk of blocks) {
      const a = tf.relu(bn(tf.conv2d(h, w4(`${blk.prefix}.conv1`), 1, 'valid'), p, buffers, `${blk.prefix}.bn1`, training));
      const m = tf.relu(bn(tf.conv2d(a, w4(`${blk.prefix}.conv2`), blk.stride, 1), p, buffers, `${blk.prefix}.bn2`, training));
      const y = bn(tf.conv2d(m, w4(`${blk.prefix}.conv3`), 1, 'valid'), p, buffers, `${blk.prefix}.bn3`, training);
      const shortcut = blk.downsample
        ? bn(tf.conv2d(h, w4(`${blk.prefix}.downsample.0`), blk.stride, 'valid'), p, buffers, `${blk.prefix}.downsample.1`, training)
        : h;
      h = tf.relu(tf.add(y, shortcut) as tf.Tensor4D);
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, p['fc.weight'] as tf.Tensor2D), p['fc.bias']!);
  });
  return { config, params: p, buffers, apply, dispose: () => disposeAll(s) };
}
