// U-Net (Ronneberger et al. 2015) as milesial/Pytorch-UNet builds it, the torch.hub Unet seed 000 compares ConvMixer-Unet
// with (hubconf.py: UNet(n_channels=3, n_classes, bilinear=False)): DoubleConv = (3x3 conv pad 1 no bias -> BatchNorm -> ReLU) x2;
// inc = DoubleConv(in, w); down1..4 = MaxPool2d(2) + DoubleConv (w -> 2w -> 4w -> 8w -> 16w); up1..4 = ConvTranspose2d(c, c/2,
// k2 s2, bias) -> pad to the skip's size -> concat([skip, up]) -> DoubleConv(c, c/2); outc = 1x1 conv with bias. w = 64: 31.0M.
// Keys are that repo's state_dict keys (without num_batches_tracked), tfjs layouts: conv HWIO; the transposed conv's filter
// is tf.conv2dTranspose's [kh, kw, out, in] (PyTorch stores [in, out, kh, kw]: permute (2, 3, 1, 0) to port weights).
// Input sizes: any H, W >= 16. Like milesial, an upsampled map smaller than its skip (odd sizes floor in the max pools)
// is zero-padded to the skip's size (floor(diff/2) before, the rest after), so e.g. CamVid's 360x480 works unpadded.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseConfig } from './family.ts';
import { ParamStore, bn, disposeAll, type ImageModel, type InitOptions } from './layers.ts';

export interface UnetConfig {
  inChannels: number;
  numClasses: number;
  /** Channels of `inc`; each of the 4 downsamplings doubles them (milesial: 64, so 64 -> 1024). */
  baseWidth: number;
}

const posInt = z.number().int().positive();
export const unetSchema = z.object({ inChannels: posInt, numClasses: posInt, baseWidth: posInt }).strict();

/** The seed's Cityscapes setting (256x512, 20 classes: its 19 train ids + 'unlabelled' as class 0) and CamVid (11 classes). */
export const UNET_MODELS: Record<string, UnetConfig> = {
  unet: { inChannels: 3, numClasses: 20, baseWidth: 64 },
  unet_camvid: { inChannels: 3, numClasses: 11, baseWidth: 64 },
};

/** Max-pool halvings between `inc` and the bottleneck. */
const LEVELS = 4;

export function resolveUnetConfig(base: UnetConfig, overrides: Record<string, unknown> = {}): UnetConfig {
  return parseConfig(unetSchema, base, overrides, 'unet') as UnetConfig;
}

/** Channels of inc, down1..down4: w, 2w, 4w, 8w, 16w. */
const widths = (c: UnetConfig): number[] => Array.from({ length: LEVELS + 1 }, (_, i) => c.baseWidth * 2 ** i);

/** DoubleConv(in, out): two bias-free 3x3 convs and two BatchNorms (weight + bias). */
const doubleConvParams = (cin: number, cout: number): number => 9 * cin * cout + 9 * cout * cout + 4 * cout;

/** Trainable parameters by formula. */
export function unetParamCount(c: UnetConfig): number {
  const w = widths(c);
  let total = doubleConvParams(c.inChannels, w[0]!);
  for (let i = 1; i <= LEVELS; i++) total += doubleConvParams(w[i - 1]!, w[i]!);
  for (let i = LEVELS; i >= 1; i--) {
    const cin = w[i]!, cout = w[i - 1]!;
    total += 4 * cin * (cin / 2) + cin / 2; // transposed conv 2x2 with bias
    total += doubleConvParams(cin, cout); // on concat([skip (cout), up (cin/2)]) = cin channels
  }
  return total + w[0]! * c.numClasses + c.numClasses;
}

/** Spatial sizes of the levels for an input of h x w (PyTorch's MaxPool2d(2) floors, as tfjs 'valid' does). */
function levelSizes(h: number, w: number): Array<[number, number]> {
  const sizes: Array<[number, number]> = [[h, w]];
  for (let i = 1; i <= LEVELS; i++) sizes.push([Math.floor(sizes[i - 1]![0] / 2), Math.floor(sizes[i - 1]![1] / 2)]);
  return sizes;
}

/** Forward multiply-adds of the convolutions (3x3, transposed, 1x1 head) for one h x w image; BN/ReLU/pooling not counted. */
export function unetMacs(c: UnetConfig, h: number, w: number): number {
  const ch = widths(c), sizes = levelSizes(h, w);
  const px = (i: number): number => sizes[i]![0] * sizes[i]![1];
  const doubleConv = (i: number, cin: number, cout: number): number => px(i) * 9 * (cin * cout + cout * cout);
  let total = doubleConv(0, c.inChannels, ch[0]!);
  for (let i = 1; i <= LEVELS; i++) total += doubleConv(i, ch[i - 1]!, ch[i]!);
  for (let i = LEVELS; i >= 1; i--) total += px(i) * 4 * ch[i]! * (ch[i]! / 2) + doubleConv(i - 1, ch[i]!, ch[i - 1]!);
  return total + px(0) * ch[0]! * c.numClasses;
}

const doubleConvPrefix = (level: number): string => (level === 0 ? 'inc' : `down${level}.maxpool_conv.1`);
const upPrefix = (level: number): string => `up${LEVELS + 1 - level}`; // up1 takes the bottleneck (level 4) up to level 3

/** Builds a U-Net with PyTorch's default init (U(+-1/sqrt(fan_in)) for convs and biases; BN weight 1, bias 0), seeded. */
export function createUnet(config: UnetConfig, opts: InitOptions = {}): ImageModel<UnetConfig, tf.Tensor4D> {
  const s = new ParamStore(opts);
  const ch = widths(config);
  const doubleConv = (prefix: string, cin: number, cout: number): void => {
    s.uniform(`${prefix}.double_conv.0.weight`, [3, 3, cin, cout], 9 * cin);
    s.batchNorm(`${prefix}.double_conv.1`, cout);
    s.uniform(`${prefix}.double_conv.3.weight`, [3, 3, cout, cout], 9 * cout);
    s.batchNorm(`${prefix}.double_conv.4`, cout);
  };
  doubleConv(doubleConvPrefix(0), config.inChannels, ch[0]!);
  for (let i = 1; i <= LEVELS; i++) doubleConv(doubleConvPrefix(i), ch[i - 1]!, ch[i]!);
  for (let i = LEVELS; i >= 1; i--) {
    const cin = ch[i]!, half = cin / 2, up = upPrefix(i);
    // PyTorch computes a ConvTranspose2d's fan_in from weight dim 1 (its out channels): out * kh * kw.
    s.uniform(`${up}.up.weight`, [2, 2, half, cin], half * 4);
    s.uniform(`${up}.up.bias`, [half], half * 4);
    doubleConv(`${up}.conv`, cin, ch[i - 1]!);
  }
  s.uniform('outc.conv.weight', [1, 1, ch[0]!, config.numClasses], ch[0]!);
  s.uniform('outc.conv.bias', [config.numClasses], ch[0]!);

  const { params: p, buffers } = s;
  const w4 = (key: string): tf.Tensor4D => p[key] as tf.Tensor4D;
  /** (conv3x3 pad 1 -> BN -> ReLU) x2; a tidy per block frees its intermediates (a gradient tape keeps what it needs). */
  const runDoubleConv = (x: tf.Tensor4D, prefix: string, training: boolean): tf.Tensor4D => tf.tidy(() => {
    const a = tf.relu(bn(tf.conv2d(x, w4(`${prefix}.double_conv.0.weight`), 1, 1), p, buffers, `${prefix}.double_conv.1`, training));
    return tf.relu(bn(tf.conv2d(a, w4(`${prefix}.double_conv.3.weight`), 1, 1), p, buffers, `${prefix}.double_conv.4`, training));
  });
  /** up(x) padded to the skip's size, concat([skip, up(x)]) on channels, DoubleConv. */
  const runUp = (x: tf.Tensor4D, skip: tf.Tensor4D, level: number, training: boolean): tf.Tensor4D => tf.tidy(() => {
    const prefix = upPrefix(level), [n, h, w] = x.shape, half = ch[level]! / 2;
    let up: tf.Tensor4D = tf.add(tf.conv2dTranspose(x, w4(`${prefix}.up.weight`), [n, 2 * h, 2 * w, half], 2, 'valid'), p[`${prefix}.up.bias`]!);
    const dy = skip.shape[1] - up.shape[1], dx = skip.shape[2] - up.shape[2];
    if (dy > 0 || dx > 0) up = tf.pad(up, [[0, 0], [Math.floor(dy / 2), dy - Math.floor(dy / 2)], [Math.floor(dx / 2), dx - Math.floor(dx / 2)], [0, 0]]);
    return runDoubleConv(tf.concat([skip, up], 3), `${prefix}.conv`, training);
  });

  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor4D => {
    const [, h, w] = x.shape;
    if (h < 2 ** LEVELS || w < 2 ** LEVELS) throw new UserError(`unet: input ${h}x${w} is smaller than 16x16 (4 max-pool halvings)`);
    return tf.tidy(() => {
      const training = o.training === true;
      const skips: tf.Tensor4D[] = [runDoubleConv(x, doubleConvPrefix(0), training)];
      for (let i = 1; i <= LEVELS; i++) skips.push(runDoubleConv(tf.maxPool(skips[i - 1]!, 2, 2, 'valid'), doubleConvPrefix(i), training));
      let y = skips[LEVELS]!;
      for (let i = LEVELS; i >= 1; i--) y = runUp(y, skips[i - 1]!, i, training);
      return tf.add(tf.conv2d(y, w4('outc.conv.weight'), 1, 'valid'), p['outc.conv.bias']!) as tf.Tensor4D;
    });
  };
  return { config, params: p, buffers, apply, dispose: () => disposeAll(s) };
}
