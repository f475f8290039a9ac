// Swin Transformer (Liu et al. 2021) as timm's swin_transformer.py and torchvision's swin_t / swin_s build it (the two
// agree at the registered 224x224 input): a patch-embedding conv (kernel = stride = patch) + LayerNorm, then stages of
// pre-norm blocks x + attn(norm1(x)), x + mlp(norm2(x)) over NHWC feature maps, where attn is multi-head self-attention
// inside non-overlapping window x window windows, with a learned relative position bias (a ((2w-1)^2, heads) table read
// at the relative position index of each query/key pair), and every second block of a stage shifts the map by
// floor(window / 2) first (cyclic roll), masking attention between pixels that the roll brought together (-100 before
// the softmax, as timm and torchvision do). MLP ratio 4 with exact-erf GELU; LayerNorm eps 1e-5 (PyTorch's default).
// Between stages, patch merging: the 2x2 neighbours concatenated (x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
// x[1::2, 1::2]) -> LayerNorm(4C) -> Linear 4C -> 2C without bias. Final LayerNorm, global average pool, Linear head.
//
// Keys are timm's (timm >= 0.9): patch_embed.{proj,norm}, layers.{s}.downsample.{norm,reduction} (the merge that STARTS
// stage s >= 1), layers.{s}.blocks.{j}.{norm1, attn.relative_position_bias_table, attn.qkv, attn.proj, norm2, mlp.fc1,
// mlp.fc2}, norm, head.fc. The relative position index and the shift masks are not variables (timm keeps them as
// non-persistent buffers): they are constants built here. Checkpoints in torchvision's layout (features.N..., mlp.0/mlp.3)
// and in the original / pre-0.9 timm layout (downsample at the END of a stage, head.weight) are renamed to these keys
// by swinStateDictToTimm, which lib/models/timmWeights.ts applies when loading.
//
// Input sizes. timm builds these models for 224 only; torchvision takes any size, and this file follows torchvision
// (the network `bench models --vs torch` compares with): a feature map whose side is not a multiple of the window is
// zero-padded at the bottom/right before attention (the padded pixels take part in attention, as in torchvision), the
// shift is dropped along a side the window already covers (window >= padded side), and patch merging zero-pads an odd
// side. At 224 (maps 56, 28, 14, 7 with window 7) none of this happens and timm's and torchvision's forwards are the same.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { parseConfig } from './family.ts';
import { ParamStore, type InitOptions, disposeAll, layerNorm, linear, mlp, type ImageModel } from './layers.ts';
import { globalAvgPool, NORM_EPS } from './ops.ts';
import type { StoredTensor } from './safetensors.ts';

export interface SwinConfig {
  patchSize: number;
  /** Channels of stage 0; stage s has embedDim * 2^s. */
  embedDim: number;
  /** Blocks per stage (its length is the number of stages). */
  depths: number[];
  /** Attention heads per stage. */
  numHeads: number[];
  /** Side of the square attention windows (the shift is floor(windowSize / 2)). */
  windowSize: number;
  mlpRatio: number;
  numClasses: number;
  inChannels: number;
}

const posInt = z.number().int().positive();
export const swinSchema = z.object({
  patchSize: posInt, embedDim: posInt, depths: z.array(posInt).min(1), numHeads: z.array(posInt).min(1), windowSize: posInt,
  mlpRatio: z.number().positive(), numClasses: posInt, inChannels: posInt,
}).strict()
  .refine((c) => c.depths.length === c.numHeads.length, { message: 'depths and numHeads must have one entry per stage', path: ['numHeads'] })
  .refine((c) => c.numHeads.every((h, s) => (c.embedDim * 2 ** s) % h === 0), { message: 'each stage\'s width (embedDim * 2^stage) must be divisible by its numHeads', path: ['numHeads'] });

const swin = (depths: number[]): SwinConfig =>
  ({ patchSize: 4, embedDim: 96, depths, numHeads: [3, 6, 12, 24], windowSize: 7, mlpRatio: 4, numClasses: 1000, inChannels: 3 });

/** timm swin_tiny_patch4_window7_224 (Swin-T) and swin_small_patch4_window7_224 (Swin-S); = torchvision swin_t / swin_s. */
export const SWIN_MODELS: Record<string, SwinConfig> = {
  swin_tiny_patch4_window7_224: swin([2, 2, 6, 2]),
  swin_small_patch4_window7_224: swin([2, 2, 18, 2]),
};

export function resolveSwinConfig(base: SwinConfig, overrides: Record<string, unknown> = {}): SwinConfig {
  return parseConfig(swinSchema as unknown as z.ZodType<SwinConfig>, base, overrides, 'swin');
}

const stageDim = (c: SwinConfig, s: number): number => c.embedDim * 2 ** s;
const tableSize = (w: number): number => (2 * w - 1) ** 2;

/**
 * Trainable parameters: patch embed conv + norm; per block 2 norms, the bias table, qkv, proj, fc1, fc2; per merge (before
 * stages 1..) norm(4C) + reduction 4C x 2C; final norm; head.
 */
export function swinParamCount(c: SwinConfig): number {
  const d0 = c.embedDim;
  let total = c.inChannels * c.patchSize ** 2 * d0 + d0 + 2 * d0;
  c.depths.forEach((depth, s) => {
    const d = stageDim(c, s), h = Math.floor(d * c.mlpRatio);
    if (s > 0) total += 2 * (2 * d) + 2 * d * d; // merge from d/2: norm over 4 * d/2 = 2d channels, Linear 2d -> d
    const block = 2 * d + tableSize(c.windowSize) * c.numHeads[s]! + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) + (h * d + d);
    total += depth * block;
  });
  const df = stageDim(c, c.depths.length - 1);
  return total + 2 * df + df * c.numClasses + c.numClasses;
}

/**
 * The relative position index of a w x w window (torchvision's define_relative_position_index, timm's
 * get_relative_position_index): for query i = (hi, wi) and key j = (hj, wj) (row-major in the window),
 * (hi - hj + w - 1) * (2w - 1) + (wi - wj + w - 1); returned flat, entry i * w^2 + j.
 */
export function relativePositionIndex(w: number): Int32Array {
  const n = w * w;
  const out = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dh = Math.floor(i / w) - Math.floor(j / w), dw = (i % w) - (j % w);
      out[i * n + j] = (dh + w - 1) * (2 * w - 1) + (dw + w - 1);
    }
  }
  return out;
}

/**
 * Python's a[start:stop] bounds for a sequence of `len`: a negative index counts from the end, undefined is open. A zero
 * (torchvision writes -shift, which is 0 for a dropped shift) is 0, as in Python: a[-w:-0] is empty, a[-0:] is all of a.
 */
function pySlice(len: number, start: number, stop: number | undefined): [number, number] {
  const at = (v: number): number => (v < 0 ? Math.max(0, len + v) : Math.min(len, v));
  return [at(start), stop === undefined ? len : at(stop)];
}

/**
 * The shifted-window attention mask of a padded hp x wp map (torchvision's shifted_window_attention, timm's
 * get_attn_mask): pixels are labelled by the 3 x 3 regions (0:-w, -w:-shift, -shift:) of rows and columns, windows are
 * cut as in the partition, and a query/key pair of different labels gets -100. Returned as [nW, w^2, w^2] values, the
 * windows in row-major order. A zero shift along a side (torchvision drops it when the window covers that side) makes
 * its slices (-w:-0, -0:) cover nothing / everything, exactly as in Python.
 */
export function shiftedWindowMask(hp: number, wp: number, w: number, shiftH: number, shiftW: number): Float32Array {
  const label = new Float32Array(hp * wp);
  const hs: Array<[number, number | undefined]> = [[0, -w], [-w, -shiftH], [-shiftH, undefined]];
  const ws: Array<[number, number | undefined]> = [[0, -w], [-w, -shiftW], [-shiftW, undefined]];
  let count = 0;
  for (const [h0, h1] of hs) {
    for (const [w0, w1] of ws) {
      const [r0, r1] = pySlice(hp, h0, h1), [c0, c1] = pySlice(wp, w0, w1);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) label[r * wp + c] = count;
      count++;
    }
  }
  const nh = hp / w, nw = wp / w, n = w * w;
  const out = new Float32Array(nh * nw * n * n);
  for (let a = 0; a < nh; a++) {
    for (let b = 0; b < nw; b++) {
      const win = a * nw + b;
      const lab = (i: number): number => label[(a * w + Math.floor(i / w)) * wp + b * w + (i % w)]!;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[(win * n + i) * n + j] = lab(i) === lab(j) ? 0 : -100;
    }
  }
  return out;
}

/** torch.roll of NHWC x by (dh, dw) along H and W: out[h, w] = x[(h - dh) mod H, (w - dw) mod W] (slices + concat). */
function roll(x: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  const along = (t: tf.Tensor4D, axis: 1 | 2, d: number): tf.Tensor4D => {
    const n = t.shape[axis];
    const k = ((d % n) + n) % n;
    if (k === 0) return t;
    const [a, b] = tf.split(t, [n - k, k], axis) as [tf.Tensor4D, tf.Tensor4D];
    return tf.concat([b, a], axis);
  };
  return along(along(x, 1, dh), 2, dw);
}

/**
 * Builds a Swin Transformer with timm's init: trunc-normal(0.02) Linear weights and bias tables (no truncation at these
 * std values), zero biases, LayerNorms 1/0, PyTorch's default init for the patch-embedding conv. Layouts are tfjs ones
 * (conv HWIO, Linear [in, out]); the bias tables stay [(2w-1)^2, heads] as in PyTorch.
 */
export function createSwin(config: SwinConfig, opts: InitOptions = {}): ImageModel<SwinConfig> {
  const { patchSize: ps, embedDim: d0, depths, numHeads, windowSize: ws, inChannels: ci, numClasses: nc } = config;
  const s = new ParamStore(opts);
  const lin = (key: string, i: number, o: number, bias = true): void => {
    s.normal(`${key}.weight`, [i, o], 0.02);
    if (bias) s.fill(`${key}.bias`, [o], 0);
  };
  s.uniform('patch_embed.proj.weight', [ps, ps, ci, d0], ci * ps * ps);
  s.uniform('patch_embed.proj.bias', [d0], ci * ps * ps);
  s.layerNorm('patch_embed.norm', d0);
  depths.forEach((depth, st) => {
    const d = stageDim(config, st), hidden = Math.floor(d * config.mlpRatio);
    if (st > 0) {
      s.layerNorm(`layers.${st}.downsample.norm`, 2 * d);
      lin(`layers.${st}.downsample.reduction`, 2 * d, d, false);
    }
    for (let j = 0; j < depth; j++) {
      const b = `layers.${st}.blocks.${j}`;
      s.layerNorm(`${b}.norm1`, d);
      s.normal(`${b}.attn.relative_position_bias_table`, [tableSize(ws), numHeads[st]!], 0.02);
      lin(`${b}.attn.qkv`, d, 3 * d);
      lin(`${b}.attn.proj`, d, d);
      s.layerNorm(`${b}.norm2`, d);
      lin(`${b}.mlp.fc1`, d, hidden);
      lin(`${b}.mlp.fc2`, hidden, d);
    }
  });
  const df = stageDim(config, depths.length - 1);
  s.layerNorm('norm', df);
  lin('head.fc', df, nc);

  const p = s.params;
  const n = ws * ws;
  // The bias of window position pair (i, j) for head h is table[index[i * n + j], h]. Read as a matmul with a constant
  // one-hot [(2w-1)^2, n^2] matrix (exact: one product by 1 per entry), so forward and gradient are GEMMs, not a gather.
  const index = relativePositionIndex(ws);
  const oneHotData = new Float32Array(tableSize(ws) * n * n);
  index.forEach((t, k) => { oneHotData[t * n * n + k] = 1; });
  const oneHot = tf.tensor2d(oneHotData, [tableSize(ws), n * n]);
  /** Shift masks [1, nW, 1, n, n] per padded map size and shift, built once. */
  const masks = new Map<string, tf.Tensor>();
  const maskFor = (hp: number, wp: number, sh: number, sw: number): tf.Tensor => {
    const key = `${hp}x${wp}/${sh},${sw}`;
    let m = masks.get(key);
    if (!m) {
      m = tf.keep(tf.tensor(shiftedWindowMask(hp, wp, ws, sh, sw), [1, (hp / ws) * (wp / ws), 1, n, n]));
      masks.set(key, m);
    }
    return m;
  };

  const ln = (x: tf.Tensor, key: string): tf.Tensor => layerNorm(x, p[`${key}.weight`]!, p[`${key}.bias`]!, NORM_EPS);

  /** (Shifted) window attention of a block on NHWC x (already norm1-ed); same shape out. */
  const windowAttention = (x: tf.Tensor4D, key: string, heads: number, shifted: boolean): tf.Tensor4D => {
    const [b, h, w, c] = x.shape;
    const padB = (ws - (h % ws)) % ws, padR = (ws - (w % ws)) % ws;
    const hp = h + padB, wp = w + padR;
    let y: tf.Tensor4D = padB || padR ? tf.pad(x, [[0, 0], [0, padB], [0, padR], [0, 0]]) : x;
    // torchvision: no shift along a side the window already covers.
    const half = Math.floor(ws / 2);
    const sh = shifted && ws < hp ? half : 0, sw = shifted && ws < wp ? half : 0;
    if (sh || sw) y = roll(y, -sh, -sw);
    const nh = hp / ws, nw = wp / ws, nW = nh * nw, hd = c / heads;
    const windows = tf.reshape(tf.transpose(tf.reshape(y, [b, nh, ws, nw, ws, c]), [0, 1, 3, 2, 4, 5]), [b * nW, n, c]);
    const qkv = tf.transpose(tf.reshape(linear(windows, p[`${key}.qkv.weight`]!, p[`${key}.qkv.bias`]), [b * nW, n, 3, heads, hd]), [2, 0, 3, 1, 4]);
    // split (native SplitV, Concat gradient) rather than unstack (Unpack / Pack run in JS)
    const [q, k, v] = tf.split(qkv, 3, 0).map((t) => tf.reshape(t, [b * nW, heads, n, hd])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    // table^T [heads, T] x oneHot [T, n^2] -> [heads, n, n], broadcast over windows.
    const bias = tf.reshape(tf.matMul(p[`${key}.relative_position_bias_table`] as tf.Tensor2D, oneHot, true, false), [heads, n, n]);
    let attn: tf.Tensor = tf.add(tf.matMul(tf.mul(q, hd ** -0.5), k, false, true), bias);
    if (sh || sw) attn = tf.reshape(tf.add(tf.reshape(attn, [b, nW, heads, n, n]), maskFor(hp, wp, sh, sw)), [b * nW, heads, n, n]);
    const out = tf.reshape(tf.transpose(tf.matMul(tf.softmax(attn), v), [0, 2, 1, 3]), [b * nW, n, c]);
    const proj = linear(out, p[`${key}.proj.weight`]!, p[`${key}.proj.bias`]);
    let z = tf.reshape(tf.transpose(tf.reshape(proj, [b, nh, nw, ws, ws, c]), [0, 1, 3, 2, 4, 5]), [b, hp, wp, c]) as tf.Tensor4D;
    if (sh || sw) z = roll(z, sh, sw);
    return padB || padR ? tf.slice(z, [0, 0, 0, 0], [b, h, w, c]) : z;
  };

  /** Patch merging before stage st: NHWC [b, h, w, c] -> [b, ceil(h/2), ceil(w/2), 2c]. */
  const merge = (x: tf.Tensor4D, st: number): tf.Tensor4D => {
    const [b, h, w, c] = x.shape;
    const y = h % 2 || w % 2 ? tf.pad(x, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]]) : x;
    const h2 = (h + (h % 2)) / 2, w2 = (w + (w % 2)) / 2;
    // [b, h2, dh, w2, dw, c] -> [b, h2, w2, dw, dh, c]: channel blocks (dh, dw) = (0,0), (1,0), (0,1), (1,1) as torchvision's cat.
    const cat = tf.reshape(tf.transpose(tf.reshape(y, [b, h2, 2, w2, 2, c]), [0, 1, 3, 4, 2, 5]), [b, h2, w2, 4 * c]);
    return linear(ln(cat, `layers.${st}.downsample.norm`), p[`layers.${st}.downsample.reduction.weight`]!, undefined) as tf.Tensor4D;
  };

  const apply = (x: tf.Tensor4D, o: { training?: boolean } = {}): tf.Tensor2D => {
    void o; // no dropout / stochastic depth / BatchNorm here: training and eval forwards are the same
    return tf.tidy(() => {
      const e = tf.add(tf.conv2d(x, p['patch_embed.proj.weight'] as tf.Tensor4D, ps, 'valid'), p['patch_embed.proj.bias']!) as tf.Tensor4D;
      let h = ln(e, 'patch_embed.norm') as tf.Tensor4D;
      depths.forEach((depth, st) => {
        if (st > 0) h = merge(h, st);
        for (let j = 0; j < depth; j++) {
          const b = `layers.${st}.blocks.${j}`;
          h = tf.add(h, windowAttention(ln(h, `${b}.norm1`) as tf.Tensor4D, `${b}.attn`, numHeads[st]!, j % 2 === 1));
          h = tf.add(h, mlp(ln(h, `${b}.norm2`), p, `${b}.mlp`));
        }
      });
      const pooled = globalAvgPool(ln(h, 'norm') as tf.Tensor4D);
      return linear(pooled, p['head.fc.weight']!, p['head.fc.bias']) as tf.Tensor2D;
    });
  };
  const dispose = (): void => {
    disposeAll(s);
    oneHot.dispose();
    for (const m of masks.values()) m.dispose();
    masks.clear();
  };
  return { config, params: p, buffers: s.buffers, apply, dispose };
}

/**
 * A Swin state dict in timm's current key names, from torchvision's layout (features.0.0 conv, features.0.2 norm,
 * features.{2s+1}.{j} blocks with mlp.0 / mlp.3, features.{2s+2} the merge after stage s, head) or from the original
 * Microsoft / pre-0.9 timm layout (layers.{s}.downsample = the merge after stage s, head.weight); the relative position
 * indices and attention masks those store are dropped (timm's checkpoint_filter_fn does the same). Other state dicts
 * are returned unchanged.
 */
export function swinStateDictToTimm(tensors: Record<string, StoredTensor>): Record<string, StoredTensor> {
  const torchvision = 'features.0.0.weight' in tensors && 'features.1.0.attn.relative_position_bias_table' in tensors;
  const oldTimm = !torchvision && 'layers.0.blocks.0.attn.relative_position_bias_table' in tensors && !('head.fc.weight' in tensors);
  if (!torchvision && !oldTimm) return tensors;
  const out: Record<string, StoredTensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.endsWith('relative_position_index') || k.endsWith('attn_mask')) continue;
    let key = k;
    if (torchvision) {
      key = key.replace(/^features\.0\.0\./, 'patch_embed.proj.').replace(/^features\.0\.2\./, 'patch_embed.norm.')
        .replace(/^features\.(\d+)\.(.*)$/, (_, i: string, rest: string) => {
          const f = Number(i);
          return f % 2 === 1 ? `layers.${(f - 1) / 2}.blocks.${rest}` : `layers.${f / 2}.downsample.${rest}`;
        })
        .replace(/\.mlp\.0\./, '.mlp.fc1.').replace(/\.mlp\.3\./, '.mlp.fc2.');
    } else {
      key = key.replace(/^layers\.(\d+)\.downsample\./, (_, s: string) => `layers.${Number(s) + 1}.downsample.`);
    }
    key = key.replace(/^head\.(weight|bias)$/, 'head.fc.$1');
    out[key] = t;
  }
  return out;
}
