// PyTorch (timm) checkpoints <-> the comparison models (ResNet, DeiT/ViT, Mixer/ResMLP, Swin). Their variables already carry
// timm's key names; only layouts differ: conv weights OIHW -> HWIO, Linear weights [out, in] -> [in, out]; everything
// else (biases, norms, BatchNorm running stats, cls_token / pos_embed [1, L, D], ResMLP alpha/beta [1, 1, D], ls [D], Swin's
// relative_position_bias_table [(2w-1)^2, heads], a table and not a Linear) is stored as is. ConvMixers go through
// weights.ts (its depthwise layout and the paper's nn.Sequential keys). Swin checkpoints in torchvision's or the original
// Microsoft layout are renamed to timm's keys first (swin.ts swinStateDictToTimm).
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import type { ImageModel } from './layers.ts';
import { loadWeights, stateDict as convMixerStateDict } from './weights.ts';
import type { ConvMixerModel } from './convmixer.ts';
import { readSafetensors, writeSafetensors, type StoredTensor } from './safetensors.ts';
import { swinStateDictToTimm } from './swin.ts';
import { createModel, type ModelInfo, type RegistryModel } from './registry.ts';
import { loadYoloWeights, yoloStateDict, type YoloConvMixerModel } from './yoloConvMixer.ts';

/** Rank-2 tensors that are not Linear weights: kept in PyTorch's layout. */
const keptAsIs = (key: string): boolean => key.endsWith('.relative_position_bias_table');

/** Permutation from a PyTorch-layout tensor to its tfjs layout by rank (these families have no depthwise convs). */
function toTfjsPerm(rank: number, key: string): number[] | null {
  if (rank === 4) return [2, 3, 1, 0]; // OIHW -> HWIO
  if (rank === 2 && !keptAsIs(key)) return [1, 0]; // Linear [out, in] -> [in, out]
  return null;
}

function toTorchPerm(rank: number, key: string): number[] | null {
  if (rank === 4) return [3, 2, 0, 1]; // HWIO -> OIHW
  if (rank === 2 && !keptAsIs(key)) return [1, 0];
  return null;
}

const permuteShape = (shape: number[], perm: number[] | null): number[] => (perm ? perm.map((p) => shape[p]!) : [...shape]);

function permute(data: Float32Array, shape: number[], perm: number[] | null): Float32Array {
  if (!perm) return data;
  return tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm).dataSync() as Float32Array);
}

/**
 * Keys of the original facebookresearch/deit ResMLP checkpoints (patch_embed., attn., mlp., gamma_1/2, alpha/beta [D])
 * renamed to timm's, as timm's mlp_mixer.checkpoint_filter_fn does; other checkpoints pass unchanged. Recognized by
 * patch_embed.proj and the final Affine norm (norm.alpha): timm's ViTs and Swins have patch_embed.proj too.
 */
function fromFacebookResMlp(tensors: Record<string, StoredTensor>): Record<string, StoredTensor> {
  if (!('patch_embed.proj.weight' in tensors) || !('norm.alpha' in tensors) || 'cls_token' in tensors) return tensors;
  const out: Record<string, StoredTensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    const key = k.replace('patch_embed.', 'stem.').replace('attn.', 'linear_tokens.').replace('mlp.', 'mlp_channels.').replace('gamma_', 'ls');
    out[key] = key.endsWith('.alpha') || key.endsWith('.beta') ? { ...t, shape: [1, 1, t.shape.reduce((a, b) => a * b, 1)] } : t;
  }
  return out;
}

/**
 * Loads a timm state dict (a safetensors path, or tensors already read) into a ResNet / ViT / Mixer / ResMLP / Swin built by
 * the registry (a Swin also from torchvision's or the original layout). `module.` prefixes and num_batches_tracked are
 * dropped. Fails with one line naming the first unexpected key, missing key or mismatched shape (in PyTorch layout); the
 * model is untouched then.
 */
export function loadTimmWeights(model: Pick<ImageModel, 'params' | 'buffers'>, source: string | Record<string, StoredTensor>, what = 'model'): void {
  const where = typeof source === 'string' ? source : 'checkpoint';
  const raw = typeof source === 'string' ? readSafetensors(source) : source;
  const stripped: Record<string, StoredTensor> = {};
  for (const [k, t] of Object.entries(raw)) if (!k.endsWith('num_batches_tracked')) stripped[k.replace(/^module\./, '')] = t;
  const tensors = swinStateDictToTimm(fromFacebookResMlp(stripped));
  const targets: Record<string, tf.Variable> = { ...model.params, ...model.buffers };
  for (const key of Object.keys(tensors)) if (!(key in targets)) throw new UserError(`${where}: unexpected key '${key}' (not in ${what})`);
  const converted: Array<[tf.Variable, Float32Array]> = [];
  for (const [key, variable] of Object.entries(targets)) {
    const t = tensors[key];
    if (!t) throw new UserError(`${where}: missing key '${key}' for ${what}`);
    const perm = toTfjsPerm(t.shape.length, key);
    if (permuteShape(t.shape, perm).join() !== variable.shape.join()) {
      const expected = permuteShape(variable.shape, toTorchPerm(variable.shape.length, key));
      throw new UserError(`${where}: '${key}' has shape [${t.shape}], expected [${expected}] for ${what}`);
    }
    converted.push([variable, permute(t.data, t.shape, perm)]);
  }
  for (const [variable, data] of converted) tf.tidy(() => variable.assign(tf.tensor(data, variable.shape)));
}

/** The model's parameters and buffers in PyTorch layouts under timm key names (timm's state_dict less num_batches_tracked). */
export function timmStateDict(model: Pick<ImageModel, 'params' | 'buffers'>): Record<string, StoredTensor> {
  const out: Record<string, StoredTensor> = {};
  for (const [key, v] of Object.entries({ ...model.params, ...model.buffers })) {
    const perm = toTorchPerm(v.rank, key);
    out[key] = { dtype: 'F32', shape: permuteShape(v.shape, perm), data: permute(v.dataSync() as Float32Array, v.shape, perm) };
  }
  return out;
}

/** Any registry model's weights: ConvMixers through weights.ts (timm or nn.Sequential keys), the other families as timm's. */
export function loadModelWeights(model: ImageModel & { family: string; name: string }, source: string | Record<string, StoredTensor>): void {
  if (model.family === 'convmixer') loadWeights(model as unknown as ConvMixerModel, source);
  else if (model.family === 'yolo_convmixer') loadYoloWeights(model as unknown as YoloConvMixerModel, source);
  else loadTimmWeights(model, source, model.name);
}

/** A registry model (`info` from modelInfo) built for the weights in `source`: zero init, then loaded; disposed when they do not fit. */
export function createModelWithWeights(info: ModelInfo, source: string | Record<string, StoredTensor>): RegistryModel {
  const model = createModel(info.name, info.config as Record<string, unknown>, { init: 'zeros' });
  try {
    loadModelWeights(model, source);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Writes any registry model's state dict as safetensors in timm's layout. */
export function saveModelWeights(model: ImageModel & { family: string }, path: string, metadata?: Record<string, string>): void {
  const state = model.family === 'convmixer' ? convMixerStateDict(model as unknown as ConvMixerModel)
    : model.family === 'yolo_convmixer' ? yoloStateDict(model as unknown as YoloConvMixerModel) : timmStateDict(model);
  writeSafetensors(path, state, metadata);
}
