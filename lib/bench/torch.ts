// Runs scripts/bench_torch.py (PyTorch, reference tooling only) for the same model and settings as this engine's
// benchmark, with the first Python that can import torch: $PYTHON, python3, /usr/bin/python3.
import { spawnSync } from 'node:child_process';
import { UserError } from '../errors.ts';
import type { ConvMixerConfig } from '../models/convmixer.ts';
import type { BenchMode } from './engine.ts';
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
}

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

export function benchTorch(o: { config: ConvMixerConfig; mode: BenchMode; batch: number; imageSize: number; steps: number; warmup: number; threads: number; seed: number }): TorchResult {
  const python = findTorchPython();
  if (!python) throw new UserError('--vs torch: no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)');
  const c = o.config;
  if (c.norm !== 'batchnorm' || !c.residualDepthwise || c.residualPointwise || c.inChannels !== 3) {
    throw new UserError('--vs torch: the PyTorch reference is the paper\'s Appendix D model (BatchNorm, residual around the depthwise part only, 3 input channels)');
  }
  const args = [TORCH_SCRIPT, '--mode', o.mode, '--dim', String(c.dim), '--depth', String(c.depth), '--kernel', String(c.kernelSize),
    '--patch', String(c.patchSize), '--classes', String(c.numClasses), '--activation', c.activation, '--batch', String(o.batch),
    '--image-size', String(o.imageSize), '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads), '--seed', String(o.seed)];
  return runTorchScript(python, args);
}

/** Exit status of bench_torch.py when the PyTorch model's parameter count is not the one expected. */
const PARAM_MISMATCH_EXIT = 3;

function runTorchScript(python: string, args: string[]): TorchResult {
  const res = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const stderrLines = (res.stderr || '').trim().split('\n');
  if (res.status === PARAM_MISMATCH_EXIT) throw new UserError(`--vs torch: ${stderrLines.pop()!.replace(/^bench_torch\.py: /, '')}`);
  if (res.status !== 0) throw new Error(`bench_torch.py failed (exit ${res.status ?? res.error}): ${stderrLines.slice(-3).join(' | ')}`);
  const lastLine = res.stdout.trim().split('\n').pop() ?? '';
  return { ...(JSON.parse(lastLine) as Omit<TorchResult, 'python'>), python };
}

/** The registry families scripts/bench_torch.py builds for segmentation (from scripts/seg_reference.py). */
export const TORCH_SEG_FAMILIES = ['unet', 'convmixer_unet'] as const;

/**
 * A registry segmentation model (family unet or convmixer_unet, its resolved config) timed in PyTorch: same input size,
 * batch, threads, soft Dice loss and SGD update as lib/bench/engine.ts. bench_torch.py refuses (a one-line UserError
 * here) a PyTorch model whose parameter count is not `expectParams`.
 */
export function benchTorchSegmentation(o: { family: string; config: Record<string, unknown>; expectParams: number; mode: BenchMode; batch: number;
  height: number; width: number; ignoreIndex: number; steps: number; warmup: number; threads: number; seed: number }): TorchResult {
  if (!(TORCH_SEG_FAMILIES as readonly string[]).includes(o.family)) throw new UserError(`--vs torch: no PyTorch definition of the ${o.family} family`);
  const python = findTorchPython();
  if (!python) throw new UserError('--vs torch: no Python with PyTorch found (tried $PYTHON, python3, /usr/bin/python3)');
  const args = [TORCH_SCRIPT, '--mode', o.mode, '--seg-model', o.family, '--config', JSON.stringify(o.config), '--height', String(o.height),
    '--width', String(o.width), '--ignore-index', String(o.ignoreIndex), '--expect-params', String(o.expectParams), '--batch', String(o.batch),
    '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads), '--seed', String(o.seed)];
  return runTorchScript(python, args);
}
