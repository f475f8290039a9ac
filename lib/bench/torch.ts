// Runs scripts/bench_torch.py (PyTorch, reference tooling only) for the same model and settings as this engine's
// benchmark, with the first Python that can import torch: $PYTHON, python3, /usr/bin/python3.
import { spawnSync } from 'node:child_process';
import { UserError } from '../errors.ts';
import type { ConvMixerConfig } from '../models/convmixer.ts';
import type { BenchMode } from './engine.ts';
import type { Precision } from '../backend/index.ts';
import { fileURLToPath } from 'node:url';

export const TORCH_SCRIPT = fileURLToPath(new URL('../../scripts/bench_torch.py', import.meta.url));

export interface TorchResult {
  ms_per_img: number;
  img_per_s: number;
  step_ms: number[];
  peak_rss_mib: number;
  threads: number;
  torch: string;
  python: string;
  /** Trainable parameters of the PyTorch model (sum of p.numel()). */
  params?: number;
  /** The BLAS behind PyTorch's matmuls in that process ('OpenBLAS (openblas-pthread/libblas.so.3)', 'reference BLAS (...)'). */
  blas?: string;
  /** torchvision's version, for a --torchvision-model run. */
  torchvision?: string;
}

/** bench_torch.py could not build the model because torchvision (or that torchvision model) is unavailable: skip, not fail. */
export class TorchUnavailableError extends Error {}

/** Answers of findTorchPython per candidate list (importing torch takes a second or more; a process asks once). */
const torchPythonCache = new Map<string, string | null>();

/** The first candidate interpreter that can `import torch`, or null. */
export function findTorchPython(candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3']): string | null {
  const key = JSON.stringify(candidates);
  const known = torchPythonCache.get(key);
  if (known !== undefined) return known;
  let found: string | null = null;
  for (const py of candidates) {
    if (!py) continue;
    const res = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (res.status === 0) {
      found = py;
      break;
    }
  }
  torchPythonCache.set(key, found);
  return found;
}

/** With expectParams (the registry's count), bench_torch.py refuses a PyTorch ConvMixer of another count (a one-line UserError here). */
export function benchTorch(o: { config: ConvMixerConfig; mode: BenchMode; batch: number; imageSize: number; steps: number; warmup: number; threads: number; seed: number;
  expectParams?: number; precision?: Precision }): TorchResult {
  const python = findTorchPython();
  if (!python) throw new UserError('--vs torch: no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)');
  const c = o.config;
  if (c.norm !== 'batchnorm' || !c.residualDepthwise || c.residualPointwise || c.inChannels !== 3) {
    throw new UserError('--vs torch: the PyTorch reference is the paper\'s Appendix D model (BatchNorm, residual around the depthwise part only, 3 input channels)');
  }
  const args = [TORCH_SCRIPT, '--mode', o.mode, '--dim', String(c.dim), '--depth', String(c.depth), '--kernel', String(c.kernelSize),
    '--patch', String(c.patchSize), '--classes', String(c.numClasses), '--activation', c.activation, '--batch', String(o.batch),
    '--image-size', String(o.imageSize), '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads), '--seed', String(o.seed),
    ...(o.expectParams !== undefined ? ['--expect-params', String(o.expectParams)] : []), ...precisionArgs(o.precision)];
  return runTorchScript(python, args);
}

/** bench_torch.py's --precision: bf16 runs forward and loss under torch.autocast('cpu', dtype=torch.bfloat16). */
function precisionArgs(precision: Precision | undefined): string[] {
  return precision === 'bf16' ? ['--precision', 'bf16'] : [];
}

/** The torchvision models bench_torch.py --torchvision-model builds. */
export const TORCHVISION_MODELS = ['resnet50', 'resnet101', 'resnet152', 'vit_b_16', 'swin_t', 'swin_s'] as const;
export type TorchvisionModel = (typeof TORCHVISION_MODELS)[number];

const eq = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The torchvision model of a registry model's architecture, or null: a ResNet with timm's default widths (stem 64,
 * channels 64/128/256/512) and 3/4/6/3, 3/4/23/3 or 3/8/36/3 blocks is resnet50/101/152; a ViT with patch 16, width 768,
 * depth 12, 12 heads and MLP ratio 4 is vit_b_16 (vit_base_patch16_224, and deit_base_patch16_224, the same network); a
 * Swin with patch 4, width 96, heads 3/6/12/24, window 7, MLP ratio 4 and depths 2/2/6/2 or 2/2/18/2 is swin_t / swin_s
 * (swin_tiny/small_patch4_window7_224). Classes (and the ViT's image size) are passed on; the parameter counts are
 * compared when it is timed.
 */
export function torchvisionModelFor(info: { family: string; config: unknown }): TorchvisionModel | null {
  const c = info.config as Record<string, unknown>;
  if (c.inChannels !== 3) return null;
  if (info.family === 'resnet') {
    const { layers, channels, stemWidth } = c as { layers: number[]; channels: number[]; stemWidth: number };
    if (stemWidth !== 64 || !eq(channels, [64, 128, 256, 512])) return null;
    return eq(layers, [3, 4, 6, 3]) ? 'resnet50' : eq(layers, [3, 4, 23, 3]) ? 'resnet101' : eq(layers, [3, 8, 36, 3]) ? 'resnet152' : null;
  }
  if (info.family === 'vit') {
    const v = c as { patchSize: number; embedDim: number; depth: number; numHeads: number; mlpRatio: number };
    return v.patchSize === 16 && v.embedDim === 768 && v.depth === 12 && v.numHeads === 12 && v.mlpRatio === 4 ? 'vit_b_16' : null;
  }
  if (info.family === 'swin') {
    const w = c as { patchSize: number; embedDim: number; depths: number[]; numHeads: number[]; windowSize: number; mlpRatio: number };
    if (w.patchSize !== 4 || w.embedDim !== 96 || !eq(w.numHeads, [3, 6, 12, 24]) || w.windowSize !== 7 || w.mlpRatio !== 4) return null;
    return eq(w.depths, [2, 2, 6, 2]) ? 'swin_t' : eq(w.depths, [2, 2, 18, 2]) ? 'swin_s' : null;
  }
  return null;
}

/**
 * A torchvision classification model (random init, eval mode for infer) timed by bench_torch.py with the same batch,
 * image size, steps, warm-up and threads as this engine. bench_torch.py refuses (a one-line UserError here) a model whose
 * parameter count is not `expectParams`; a TorchUnavailableError when torchvision or the model is not there.
 */
export function benchTorchvision(o: { model: TorchvisionModel; numClasses: number; expectParams: number; mode: BenchMode; batch: number; imageSize: number;
  steps: number; warmup: number; threads: number; seed: number }): TorchResult {
  const python = findTorchPython();
  if (!python) throw new UserError('--vs torch: no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)');
  const args = [TORCH_SCRIPT, '--mode', o.mode, '--torchvision-model', o.model, '--classes', String(o.numClasses), '--image-size', String(o.imageSize),
    '--expect-params', String(o.expectParams), '--batch', String(o.batch), '--steps', String(o.steps), '--warmup', String(o.warmup),
    '--threads', String(o.threads), '--seed', String(o.seed)];
  return runTorchScript(python, args);
}

/** Exit status of bench_torch.py when the PyTorch model's parameter count is not the one expected. */
const PARAM_MISMATCH_EXIT = 3;
/** Exit status of bench_torch.py when torchvision, or the torchvision model asked for, is not available. */
const TORCHVISION_MISSING_EXIT = 4;

/** Said once per process when PyTorch runs on the reference BLAS: its matmuls (Linear, attention) are then an order of
 * magnitude slower than PyTorch's usual, so a ratio against them flatters this engine. */
export function referenceBlasWarning(torch: TorchResult): string | null {
  return torch.blas?.startsWith('reference BLAS')
    ? `warning: PyTorch runs on the reference BLAS here (${torch.blas}): its Linear and attention matmuls are far slower than with an optimized BLAS; install one (apt-get install libopenblas0-pthread) before comparing`
    : null;
}

let warnedBlas = false;

function runTorchScript(python: string, args: string[]): TorchResult {
  const res = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const stderrLines = (res.stderr || '').trim().split('\n');
  if (res.status === PARAM_MISMATCH_EXIT) throw new UserError(`--vs torch: ${stderrLines.pop()!.replace(/^bench_torch\.py: /, '')}`);
  if (res.status === TORCHVISION_MISSING_EXIT) throw new TorchUnavailableError(stderrLines.pop()!.replace(/^bench_torch\.py: /, ''));
  if (res.status !== 0) throw new Error(`bench_torch.py failed (exit ${res.status ?? res.error}): ${stderrLines.slice(-3).join(' | ')}`);
  const lastLine = res.stdout.trim().split('\n').pop() ?? '';
  const result: TorchResult = { ...(JSON.parse(lastLine) as Omit<TorchResult, 'python'>), python };
  const warning = referenceBlasWarning(result);
  if (warning && !warnedBlas) console.error(warning);
  warnedBlas ||= warning !== null;
  return result;
}

/** The registry families scripts/bench_torch.py builds for segmentation (from scripts/seg_reference.py). */
export const TORCH_SEG_FAMILIES = ['unet', 'convmixer_unet'] as const;

/**
 * A registry segmentation model (family unet or convmixer_unet, its resolved config) timed in PyTorch: same input size,
 * batch, threads, soft Dice loss and SGD update as lib/bench/engine.ts. bench_torch.py refuses (a one-line UserError
 * here) a PyTorch model whose parameter count is not `expectParams`.
 */
export function benchTorchSegmentation(o: { family: string; config: Record<string, unknown>; expectParams: number; mode: BenchMode; batch: number;
  height: number; width: number; ignoreIndex: number; steps: number; warmup: number; threads: number; seed: number; precision?: Precision }): TorchResult {
  if (!(TORCH_SEG_FAMILIES as readonly string[]).includes(o.family)) throw new UserError(`--vs torch: no PyTorch definition of the ${o.family} family`);
  const python = findTorchPython();
  if (!python) throw new UserError('--vs torch: no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)');
  const args = [TORCH_SCRIPT, '--mode', o.mode, '--seg-model', o.family, '--config', JSON.stringify(o.config), '--height', String(o.height),
    '--width', String(o.width), '--ignore-index', String(o.ignoreIndex), '--expect-params', String(o.expectParams), '--batch', String(o.batch),
    '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads), '--seed', String(o.seed), ...precisionArgs(o.precision)];
  return runTorchScript(python, args);
}
