// Vision Transformer as timm's VisionTransformer builds DeiT and ViT (Dosovitskiy et al. 2021, Touvron et al. 2021):
// patch-embedding conv, a class token, learned position embeddings over class token + patches, `depth` pre-norm blocks
// x + attn(norm1(x)), x + mlp(norm2(x)) (LayerNorm eps 1e-6, qkv with bias, MLP ratio 4, GELU), final norm, head on the
// class token. Keys are timm's (patch_embed.proj, cls_token, pos_embed, blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2},
// norm, head). DeiT (non-distilled) and ViT share the architecture; they differ in width/depth/heads and in default_cfg.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseConfig } from './family.ts';
import { ParamStore, type InitOptions, disposeAll, layerNorm, linear, mlp, patchEmbed, type ImageModel } from './layers.ts';

export interface ViTConfig {
  patchSize: number; embedDim: number; depth: number; numHeads: number; mlpRatio: number;
  /** Input side in pixels; fixes the number of position embeddings ((imgSize / patchSize)^2 + 1). */
  imgSize: number;
  numClasses: number; inChannels: number;
}

const posInt = z.number().int().positive();
export const vitSchema = z.object({
  patchSize: posInt, embedDim: posInt, depth: z.number().int().nonnegative(), numHeads: posInt, mlpRatio: z.number().positive(),
  imgSize: posInt, numClasses: posInt, inChannels: posInt,
}).strict().refine((c) => c.embedDim % c.numHeads === 0, { message: 'embedDim must be divisible by numHeads', path: ['numHeads'] })
  .refine((c) => c.imgSize % c.patchSize === 0, { message: 'imgSize must be divisible by patchSize', path: ['imgSize'] });

const vit = (patchSize: number, embedDim: number, depth: number, numHeads: number): ViTConfig =>
  ({ patchSize, embedDim, depth, numHeads, mlpRatio: 4, imgSize: 224, numClasses: 1000, inChannels: 3 });

/**
 * timm deit_{tiny,small,base}_patch16_224 (embed 192/384/768, heads 3/6/12, depth 12) and vit_base_patch16_224 (= DeiT-B's
 * architecture). The `_patch7_224` models are NOT in timm: the paper's DeiT-Ti/S/B with 7x7 patches at 224 (Table 2 †,
 * throughput only), i.e. 32 x 32 = 1024 patches + the class token.
 */
export const VIT_MODELS: Record<string, ViTConfig> = {
  deit_tiny_patch16_224: vit(16, 192, 12, 3),
  deit_small_patch16_224: vit(16, 384, 12, 6),
  deit_base_patch16_224: vit(16, 768, 12, 12),
  deit_tiny_patch7_224: vit(7, 192, 12, 3),
  deit_small_patch7_224: vit(7, 384, 12, 6),
  deit_base_patch7_224: vit(7, 768, 12, 12),
  vit_base_patch16_224: vit(16, 768, 12, 12),
};

export function resolveViTConfig(base: ViTConfig, overrides: Record<string, unknown> = {}): ViTConfig {
  return parseConfig(vitSchema as unknown as z.ZodType<ViTConfig>, base, overrides, 'vit');
}

const numPatches = (c: ViTConfig): number => (c.imgSize / c.patchSize) ** 2;

/** Trainable parameters: patch embed + cls token + pos embed + depth * block + final norm + head. */
export function vitParamCount(c: ViTConfig): number {
  const d = c.embedDim, h = Math.floor(d * c.mlpRatio);
  const block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) + (h * d + d);
  return c.inChannels * c.patchSize ** 2 * d + d + d + (numPatches(c) + 1) * d + c.depth * block + 2 * d + d * c.numClasses + c.numClasses;
}

/** Builds a ViT with timm's init ('jax'-free default): trunc-normal(0.02) Linear weights and pos_embed, zero biases, cls_token N(0, 1e-6). */
export function createViT(config: ViTConfig, opts: InitOptions = {}): ImageModel<ViTConfig> {
  const { patchSize: ps, embedDim: d, depth, numHeads, inChannels: ci, numClasses: nc } = config;
  const hidden = Math.floor(d * config.mlpRatio), tokens = numPatches(config) + 1, headDim = d / numHeads;
  const s = new ParamStore(opts);
  const lin = (key: string, i: number, o: number): void => {
    s.normal(`${key}.weight`, [i, o], 0.02);
    s.fill(`${key}.bias`, [o], 0);
  };
  s.uniform('patch_embed.proj.weight', [ps, ps, ci, d], ci * ps * ps);
  s.uniform('patch_embed.proj.bias', [d], ci * ps * ps);
  s.normal('cls_token', [1, 1, d], 1e-6);
  s.normal('pos_embed', [1, tokens, d], 0.02);
  for (let i = 0; i < depth; i++) {
    s.layerNorm(`blocks.${i}.norm1`, d);
    lin(`blocks.${i}.attn.qkv`, d, 3 * d);
    lin(`blocks.${i}.attn.proj`, d, d);
    s.layerNorm(`blocks.${i}.norm2`, d);
    lin(`blocks.${i}.mlp.fc1`, d, hidden);
    lin(`blocks.${i}.mlp.fc2`, hidden, d);
  }
  s.layerNorm('norm', d);
  lin('head', d, nc);

  const p = s.params;
  const ln = (x: tf.Tensor, key: string): tf.Tensor => layerNorm(x, p[`${key}.weight`]!, p[`${key}.bias`]!, 1e-6);
  const attention = (x: tf.Tensor, key: string): tf.Tensor => {
    const [b, l] = x.shape as [number, number, number];
    const qkv = tf.transpose(tf.reshape(linear(x, p[`${key}.qkv.weight`]!, p[`${key}.qkv.bias`]), [b, l, 3, numHeads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)));
    const out = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [b, l, d]);
    return linear(out, p[`${key}.proj.weight`]!, p[`${key}.proj.bias`]);
  };
  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor2D => {
    void o; // no dropout / BatchNorm: training and eval forwards are the same
    if (x.shape[1] !== config.imgSize || x.shape[2] !== config.imgSize) {
      throw new UserError(`ViT expects ${config.imgSize}x${config.imgSize} inputs (fixed position embeddings), got ${x.shape[1]}x${x.shape[2]}`);
    }
    return tf.tidy(() => {
      const b = x.shape[0];
      const patches = patchEmbed(x, p['patch_embed.proj.weight']!, p['patch_embed.proj.bias']!, ps);
      let h: tf.Tensor = tf.add(tf.concat([tf.tile(p['cls_token']!, [b, 1, 1]), patches], 1), p['pos_embed']!);
      // One tidy per block: in inference a block's intermediates (the b x heads x L x L attention maps: 400 MB each for
      // DeiT-B at patch 7, batch 8) are freed before the next block instead of at the end (the whole forward ran out of
      // 24 GB); under a gradient tape the tensors the backward needs are kept by tfjs as before.
      for (let i = 0; i < depth; i++) {
        const input = h;
        h = tf.tidy(() => {
          const a = tf.add(input, attention(ln(input, `blocks.${i}.norm1`), `blocks.${i}.attn`));
          return tf.add(a, mlp(ln(a, `blocks.${i}.norm2`), p, `blocks.${i}.mlp`));
        });
      }
      const cls = tf.reshape(tf.slice(ln(h, 'norm'), [0, 0, 0], [b, 1, d]), [b, d]);
      return linear(cls, p['head.weight']!, p['head.bias']) as tf.Tensor2D;
    });
  };
  return { config, params: p, buffers: s.buffers, apply, dispose: () => disposeAll(s) };
}
