// MLP-Mixer (Tolstikhin et al. 2021) and ResMLP (Touvron et al. 2021) as timm's MlpMixer class builds them
// (timm/models/mlp_mixer.py): a patch-embedding conv `stem.proj`, `depth` residual blocks over tokens [N, L, D], a final
// norm, mean over tokens, Linear `head`.
//   Mixer block:  x + mlp_tokens(norm1(x)^T)^T, x + mlp_channels(norm2(x)); LayerNorm eps 1e-6; token MLP L -> int(0.5 D) -> L,
//                 channel MLP D -> 4D -> D (timm mlp_ratio (0.5, 4.0)).
//   ResMLP block: x + ls1 * linear_tokens(norm1(x)^T)^T, x + ls2 * mlp_channels(norm2(x)); norm = Affine (alpha * x + beta,
//                 alpha/beta of shape [1, 1, D] as in timm), linear_tokens L -> L, channel MLP D -> 4D -> D, LayerScale ls1/ls2 [D].
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseConfig } from './family.ts';
import { ParamStore, type InitOptions, disposeAll, layerNorm, linear, mlp, patchEmbed, type ImageModel } from './layers.ts';

export interface MixerConfig {
  kind: 'mixer' | 'resmlp';
  patchSize: number; embedDim: number; depth: number;
  /** Input side in pixels; fixes the token count L = (imgSize / patchSize)^2 that the token-mixing layers act on. */
  imgSize: number;
  /** Mixer only: token-MLP hidden width = int(tokenMlpRatio * embedDim) (timm: 0.5). */
  tokenMlpRatio: number;
  /** Channel-MLP hidden width = int(channelMlpRatio * embedDim) (4 for both). */
  channelMlpRatio: number;
  /** ResMLP only: LayerScale init value (timm: 1e-4 for 12 blocks, 1e-5 for 24, 1e-6 for 36 and big-24); not a size. */
  initValues: number;
  numClasses: number; inChannels: number;
}

const posInt = z.number().int().positive();
export const mixerSchema = z.object({
  kind: z.enum(['mixer', 'resmlp']), patchSize: posInt, embedDim: posInt, depth: z.number().int().nonnegative(), imgSize: posInt,
  tokenMlpRatio: z.number().positive(), channelMlpRatio: z.number().positive(), initValues: z.number().positive(),
  numClasses: posInt, inChannels: posInt,
}).strict().refine((c) => c.imgSize % c.patchSize === 0, { message: 'imgSize must be divisible by patchSize', path: ['imgSize'] });

const mixer = (patchSize: number, embedDim: number, depth: number): MixerConfig =>
  ({ kind: 'mixer', patchSize, embedDim, depth, imgSize: 224, tokenMlpRatio: 0.5, channelMlpRatio: 4, initValues: 1e-4, numClasses: 1000, inChannels: 3 });
const resmlp = (patchSize: number, embedDim: number, depth: number, initValues: number): MixerConfig =>
  ({ ...mixer(patchSize, embedDim, depth), kind: 'resmlp', initValues });

/**
 * timm mixer_b16_224 (Mixer-B/16), resmlp_12_224 (ResMLP-S12, patch 16), resmlp_24_224 (ResMLP-S24), resmlp_big_24_224
 * (ResMLP-B24/8: patch 8, embed 768). NOT in timm, named here for the paper's Table 2 rows: resmlp_12_patch8_224
 * (ResMLP-S12/8) and resmlp_big_24_patch16_224 (ResMLP-B24 with 16x16 patches).
 */
export const MIXER_MODELS: Record<string, MixerConfig> = {
  mixer_b16_224: mixer(16, 768, 12),
  resmlp_12_224: resmlp(16, 384, 12, 1e-4),
  resmlp_24_224: resmlp(16, 384, 24, 1e-5),
  resmlp_big_24_224: resmlp(8, 768, 24, 1e-6),
  resmlp_12_patch8_224: resmlp(8, 384, 12, 1e-4),
  resmlp_big_24_patch16_224: resmlp(16, 768, 24, 1e-6),
};

export function resolveMixerConfig(base: MixerConfig, overrides: Record<string, unknown> = {}): MixerConfig {
  return parseConfig(mixerSchema as unknown as z.ZodType<MixerConfig>, base, overrides, base.kind);
}

const numTokens = (c: MixerConfig): number => (c.imgSize / c.patchSize) ** 2;

/** Trainable parameters: stem conv + depth * block + final norm + head. */
export function mixerParamCount(c: MixerConfig): number {
  const d = c.embedDim, l = numTokens(c), ch = Math.floor(c.channelMlpRatio * d);
  const channelMlp = d * ch + ch + ch * d + d;
  let block: number;
  if (c.kind === 'mixer') {
    const t = Math.floor(c.tokenMlpRatio * d);
    block = 2 * d + (l * t + t + t * l + l) + 2 * d + channelMlp;
  } else {
    block = 2 * d + (l * l + l) + d + 2 * d + channelMlp + d;
  }
  return c.inChannels * c.patchSize ** 2 * d + d + c.depth * block + 2 * d + d * c.numClasses + c.numClasses;
}

/** Builds a Mixer / ResMLP with timm-like init: xavier-uniform Linear weights, zero biases, zero head, default conv stem. */
export function createMixer(config: MixerConfig, opts: InitOptions = {}): ImageModel<MixerConfig> {
  const { patchSize: ps, embedDim: d, depth, inChannels: ci, numClasses: nc } = config;
  const l = numTokens(config), ch = Math.floor(config.channelMlpRatio * d), t = Math.floor(config.tokenMlpRatio * d);
  const s = new ParamStore(opts);
  const lin = (key: string, i: number, o: number): void => {
    s.xavier(`${key}.weight`, [i, o], i, o);
    s.fill(`${key}.bias`, [o], 0);
  };
  const affine = (key: string): void => {
    s.fill(`${key}.alpha`, [1, 1, d], 1);
    s.fill(`${key}.beta`, [1, 1, d], 0);
  };
  const norm = (key: string): void => (config.kind === 'mixer' ? s.layerNorm(key, d) : affine(key));
  s.uniform('stem.proj.weight', [ps, ps, ci, d], ci * ps * ps);
  s.uniform('stem.proj.bias', [d], ci * ps * ps);
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}`;
    norm(`${b}.norm1`);
    if (config.kind === 'mixer') {
      lin(`${b}.mlp_tokens.fc1`, l, t);
      lin(`${b}.mlp_tokens.fc2`, t, l);
    } else {
      lin(`${b}.linear_tokens`, l, l);
    }
    norm(`${b}.norm2`);
    lin(`${b}.mlp_channels.fc1`, d, ch);
    lin(`${b}.mlp_channels.fc2`, ch, d);
    if (config.kind === 'resmlp') {
      s.fill(`${b}.ls1`, [d], config.initValues);
      s.fill(`${b}.ls2`, [d], config.initValues);
    }
  }
  norm('norm');
  s.fill('head.weight', [d, nc], 0);
  s.fill('head.bias', [nc], 0);

  const p = s.params;
  const applyNorm = (x: tf.Tensor, key: string): tf.Tensor => (config.kind === 'mixer'
    ? layerNorm(x, p[`${key}.weight`]!, p[`${key}.bias`]!, 1e-6)
    : tf.add(tf.mul(x, p[`${key}.alpha`]!), p[`${key}.beta`]!));
  /** Applies f to the token axis: [N, L, D] -> [N, D, L] -> f -> back. */
  const overTokens = (x: tf.Tensor, f: (y: tf.Tensor) => tf.Tensor): tf.Tensor => tf.transpose(f(tf.transpose(x, [0, 2, 1])), [0, 2, 1]);
  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor2D => {
    void o; // no dropout / BatchNorm: training and eval forwards are the same
    if (x.shape[1] !== config.imgSize || x.shape[2] !== config.imgSize) {
      throw new UserError(`${config.kind === 'mixer' ? 'MLP-Mixer' : 'ResMLP'} expects ${config.imgSize}x${config.imgSize} inputs (token mixing is over a fixed token count), got ${x.shape[1]}x${x.shape[2]}`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = patchEmbed(x, p['stem.proj.weight']!, p['stem.proj.bias']!, ps);
      for (let i = 0; i < depth; i++) {
        const b = `blocks.${i}`;
        if (config.kind === 'mixer') {
          h = tf.add(h, overTokens(applyNorm(h, `${b}.norm1`), (y) => mlp(y, p, `${b}.mlp_tokens`)));
          h = tf.add(h, mlp(applyNorm(h, `${b}.norm2`), p, `${b}.mlp_channels`));
        } else {
          h = tf.add(h, tf.mul(p[`${b}.ls1`]!, overTokens(applyNorm(h, `${b}.norm1`), (y) => linear(y, p[`${b}.linear_tokens.weight`]!, p[`${b}.linear_tokens.bias`]))));
          h = tf.add(h, tf.mul(p[`${b}.ls2`]!, mlp(applyNorm(h, `${b}.norm2`), p, `${b}.mlp_channels`)));
        }
      }
      const pooled = tf.mean(applyNorm(h, 'norm'), 1);
      return linear(pooled, p['head.weight']!, p['head.bias']) as tf.Tensor2D;
    });
  };
  return { config, params: p, buffers: s.buffers, apply, dispose: () => disposeAll(s) };
}
