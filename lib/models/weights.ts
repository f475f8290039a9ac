// PyTorch checkpoints <-> ConvMixerModel. Two key layouts exist: timm's (`stem.0`, `blocks.i.*`, `head`) and the paper's
// Appendix D nn.Sequential(Conv, act, BN, *blocks, AdaptiveAvgPool2d, Flatten, Linear), whose module indices are
// 0 = stem conv, 2 = stem BN, 3 + i = block i, 3 + depth + 2 = Linear. PyTorch stores conv weights OIHW and Linear [out, in];
// tfjs wants HWIO (depthwise: [k, k, channels, 1]) and [in, out].
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import type { ConvMixerModel } from './convmixer.ts';
import { readSafetensors, writeSafetensors, type StoredTensor } from './safetensors.ts';

export type KeyLayout = 'timm' | 'sequential';

/** Which layout a checkpoint's keys use (an optional DataParallel `module.` prefix is ignored by loadWeights). */
export function detectLayout(keys: string[]): KeyLayout {
  const bare = keys.map((k) => k.replace(/^module\./, ''));
  if (bare.some((k) => k.startsWith('stem.') || k.startsWith('blocks.'))) return 'timm';
  if (bare.some((k) => /^\d+\./.test(k))) return 'sequential';
  throw new UserError(`unrecognized checkpoint layout (first key '${keys[0] ?? '<none>'}'; expected timm 'stem.0.weight' or nn.Sequential '0.weight')`);
}

/** Maps a Sequential-layout key to its timm name; null for keys that have no timm counterpart. */
export function sequentialToTimm(key: string, depth: number): string | null {
  const m = /^(\d+)\.(.*)$/.exec(key);
  if (!m) return null;
  const index = Number(m[1]), rest = m[2]!;
  if (index === 0) return `stem.0.${rest}`;
  if (index === 2) return `stem.2.${rest}`;
  if (index >= 3 && index < 3 + depth) return `blocks.${index - 3}.${rest}`;
  if (index === 3 + depth + 2) return `head.${rest}`;
  return null;
}

/** Permutation taking a PyTorch-layout tensor of this key to its tfjs layout (null: same layout). */
export function toTfjsPerm(key: string, rank: number): number[] | null {
  if (rank === 4) return /\.0\.fn\.0\.weight$/.test(key) ? [2, 3, 0, 1] /* [C,1,k,k] -> [k,k,C,1] */ : [2, 3, 1, 0] /* OIHW -> HWIO */;
  if (rank === 2) return [1, 0];
  return null;
}

/** The inverse permutation: tfjs layout back to PyTorch's ([k,k,C,1] -> [C,1,k,k], HWIO -> OIHW, [in,out] -> [out,in]). */
export function toTorchPerm(key: string, rank: number): number[] | null {
  const perm = toTfjsPerm(key, rank);
  if (!perm) return null;
  const inverse: number[] = [];
  perm.forEach((axis, i) => { inverse[axis] = i; });
  return inverse;
}

function permuteShape(shape: number[], perm: number[] | null): number[] {
  return perm ? perm.map((p) => shape[p]!) : [...shape];
}

function permute(data: Float32Array, shape: number[], perm: number[] | null): Float32Array {
  if (!perm) return data;
  return tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm).dataSync() as Float32Array);
}

/** A checkpoint's tensors under timm key names (Sequential keys renamed, `module.` and num_batches_tracked dropped). */
export function toTimmKeys(tensors: Record<string, StoredTensor>, depth: number, where = 'checkpoint'): Record<string, StoredTensor> {
  const layout = detectLayout(Object.keys(tensors));
  const out: Record<string, StoredTensor> = {};
  for (const [rawKey, t] of Object.entries(tensors)) {
    const key = rawKey.replace(/^module\./, '');
    if (key.endsWith('num_batches_tracked')) continue;
    const timmKey = layout === 'timm' ? key : sequentialToTimm(key, depth);
    if (timmKey === null) throw new UserError(`${where}: unexpected key '${rawKey}' for a ConvMixer of depth ${depth} (nn.Sequential layout)`);
    out[timmKey] = t;
  }
  return out;
}

/**
 * Loads a PyTorch checkpoint (a safetensors path, or tensors already read) into the model, converting layouts.
 * Fails with one line naming the first missing key, unexpected key or mismatched shape; the model is untouched then.
 */
export function loadWeights(model: ConvMixerModel, source: string | Record<string, StoredTensor>): void {
  const where = typeof source === 'string' ? source : 'checkpoint';
  const tensors = toTimmKeys(typeof source === 'string' ? readSafetensors(source) : source, model.config.depth, where);
  const targets: Record<string, tf.Variable> = { ...model.params, ...model.buffers };
  for (const key of Object.keys(tensors)) {
    if (!(key in targets)) throw new UserError(`${where}: unexpected key '${key}' (not in ${describe(model)})`);
  }
  const converted: Array<[tf.Variable, Float32Array]> = [];
  for (const [key, variable] of Object.entries(targets)) {
    const t = tensors[key];
    if (!t) throw new UserError(`${where}: missing key '${key}' for ${describe(model)}`);
    const perm = toTfjsPerm(key, t.shape.length);
    const shape = permuteShape(t.shape, perm);
    if (shape.join() !== variable.shape.join()) {
      const expected = permuteShape(variable.shape, toTorchPerm(key, variable.shape.length));
      throw new UserError(`${where}: '${key}' has shape [${t.shape}], expected [${expected}] for ${describe(model)}`);
    }
    converted.push([variable, permute(t.data, t.shape, perm)]);
  }
  for (const [variable, data] of converted) tf.tidy(() => variable.assign(tf.tensor(data, variable.shape)));
}

function describe(model: ConvMixerModel): string {
  const c = model.config;
  return `ConvMixer-${c.dim}/${c.depth} k${c.kernelSize} p${c.patchSize} ${c.numClasses} classes ${c.norm}`;
}

/** The model's parameters and buffers in PyTorch layouts under timm key names (what timm's state_dict holds, less num_batches_tracked). */
export function stateDict(model: ConvMixerModel): Record<string, StoredTensor> {
  const out: Record<string, StoredTensor> = {};
  for (const [key, v] of Object.entries({ ...model.params, ...model.buffers })) {
    const perm = toTorchPerm(key, v.shape.length);
    out[key] = { dtype: 'F32', shape: permuteShape(v.shape, perm), data: permute(v.dataSync() as Float32Array, v.shape, perm) };
  }
  return out;
}

/** Writes stateDict(model) as safetensors (loadable by timm's ConvMixer with strict=False for num_batches_tracked). */
export function saveWeights(model: ConvMixerModel, path: string, metadata?: Record<string, string>): void {
  writeSafetensors(path, stateDict(model), metadata);
}
