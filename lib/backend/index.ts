// Backend choice, in one place: `tensorflow` (tfjs-node-gpu / tfjs-node, if really installed) > `native` (this
// repo's addon, registered on tfjs's cpu backend) > `cpu` (tfjs's JS kernels). `auto` takes the first available;
// --backend (train, bench) or CONVMIXER_BACKEND forces one, and a forced backend that is not available is an error.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { loadAddon, registerNativeKernels, setNativeKernelsActive, type NativeAddon } from './native.ts';

export type BackendName = 'tensorflow' | 'native' | 'cpu';
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'native', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** What run records store, e.g. 'native-cpu (AVX2+FMA, 2 threads)' or 'cpu (tfjs JS kernels)'. */
  description: string;
  name: BackendName;
}

export interface BackendProbe {
  available: boolean;
  /** Why it is or is not available. */
  detail: string;
}

/** A --backend / CONVMIXER_BACKEND value, checked; `source` names where it came from for the error message. */
export function parseBackendChoice(raw: string | undefined, source = '--backend'): BackendChoice {
  if (raw === undefined || raw === '') return 'auto';
  if ((BACKEND_CHOICES as readonly string[]).includes(raw)) return raw as BackendChoice;
  throw new UserError(`${source}: expected one of ${BACKEND_CHOICES.join(', ')}, got '${raw}'`);
}

const TF_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Whether a real TensorFlow binding is installed. Resolves package.json first: this repo aliases the name
 * @tensorflow/tfjs-node to plain @tensorflow/tfjs (an npm override for danfojs), which must not count. */
export function probeTensorflow(): BackendProbe & { pkg?: string } {
  const req = createRequire(import.meta.url);
  const notes: string[] = [];
  for (const pkg of TF_NODE_PACKAGES) {
    let meta: { name?: string; version?: string };
    try {
      meta = req(`${pkg}/package.json`) as { name?: string; version?: string };
    } catch {
      notes.push(`${pkg} not installed`);
      continue;
    }
    if (meta.name !== pkg) {
      notes.push(`${pkg} resolves to ${meta.name}@${meta.version} (an npm alias), not the TensorFlow binding`);
      continue;
    }
    return { available: true, detail: `${pkg}@${meta.version}`, pkg };
  }
  return { available: false, detail: notes.join('; ') };
}

export function probeNative(): BackendProbe & { addon?: NativeAddon } {
  const { addon, reason } = loadAddon();
  if (!addon) return { available: false, detail: reason };
  return { available: true, detail: `${addon.isa}, ${addon.threads} threads`, addon };
}

let current: (BackendInfo & { choice: BackendChoice; threads?: number }) | null = null;
/** The native addon while the native backend is in use (the precision switch lives there). */
let activeAddon: NativeAddon | null = null;
let warnedNoNative = false;
/** Whether the native kernels flush denormals now (false on any other backend, and where the addon cannot). */
let flushing = false;

async function useTensorflow(pkg: string): Promise<BackendInfo | string> {
  try {
    await import(pkg);
  } catch (err) {
    return `import ${pkg} failed: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!(await tf.setBackend('tensorflow'))) return `${pkg} is installed but its 'tensorflow' backend did not initialize`;
  await tf.ready();
  return { name: 'tensorflow', description: `tensorflow (${pkg})` };
}

// tfjs's cpu backend prints an "install tfjs-node to speed things up" banner on its first tensor; here that advice
// is what the native engine (or the backend choice above) already answers, so the first write happens quietly.
// Exported for the kernel-test harness, which sets up the cpu backend itself.
export function silenceCpuBanner(): void {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('looks like you are running TensorFlow.js in Node.js')) warn(...args);
  };
  try {
    tf.dispose(tf.scalar(0));
  } finally {
    console.warn = warn;
  }
}

async function useNative(addon: NativeAddon, threads?: number): Promise<BackendInfo> {
  const flush = denormalsFromEnv(); // a bad value fails before anything changes
  await tf.setBackend('cpu');
  await tf.ready();
  silenceCpuBanner();
  registerNativeKernels(addon);
  setNativeKernelsActive(true);
  activeAddon = addon;
  const n = addon.setThreads(threads ?? 0); // 0: CONVMIXER_THREADS or all hardware threads
  flushing = typeof addon.setFlushDenormals === 'function' && flush;
  addon.setFlushDenormals?.(flush);
  return { name: 'native', description: `native-cpu (${addon.isa}, ${n} thread${n === 1 ? '' : 's'}${denormalsNote(flushing)})` };
}

async function useCpu(): Promise<BackendInfo> {
  await tf.setBackend('cpu');
  await tf.ready();
  silenceCpuBanner();
  setNativeKernelsActive(false);
  activeAddon = null;
  return { name: 'cpu', description: 'cpu (tfjs JS kernels)' };
}

/** Which backend a choice resolves to, given what is available, and why; throws a UserError for a forced
 * backend that is not available. Pure, so the rule is testable without installing anything. */
export function chooseBackend(choice: BackendChoice, probes: { tensorflow: BackendProbe; native: BackendProbe }): { name: BackendName; why: string } {
  if (choice !== 'auto') {
    if (choice !== 'cpu' && !probes[choice].available) throw new UserError(`backend '${choice}' is not available: ${probes[choice].detail}`);
    return { name: choice, why: `forced (${choice})` };
  }
  if (probes.tensorflow.available) return { name: 'tensorflow', why: 'auto: tensorflow binding installed' };
  if (probes.native.available) return { name: 'native', why: `auto: tensorflow unavailable (${probes.tensorflow.detail}); native engine built` };
  return { name: 'cpu', why: `auto: tensorflow unavailable (${probes.tensorflow.detail}); native engine unavailable (${probes.native.detail})` };
}

/** The --backend value if given, else CONVMIXER_BACKEND, else auto; invalid values are one-line UserErrors. */
export function backendChoiceFrom(flag: string | undefined, env = process.env.CONVMIXER_BACKEND): BackendChoice {
  return flag !== undefined ? parseBackendChoice(flag, '--backend') : parseBackendChoice(env, 'CONVMIXER_BACKEND');
}

/**
 * Picks and initializes the backend; call before using tfjs. `choice`: a --backend value (undefined: env
 * CONVMIXER_BACKEND, else auto). `threads`: size of the native engine's thread pool (default: CONVMIXER_THREADS
 * or all hardware threads).
 */
export async function initBackend(choice?: string, opts: { threads?: number } = {}): Promise<BackendInfo> {
  const parsed = backendChoiceFrom(choice);
  if (current && current.choice === parsed && current.threads === opts.threads) return { name: current.name, description: current.description };
  const tfProbe = probeTensorflow();
  const nativeProbe = parsed === 'cpu' || (parsed === 'auto' && tfProbe.available) ? { available: false, detail: 'not probed' } : probeNative();
  let { name } = chooseBackend(parsed, { tensorflow: tfProbe, native: nativeProbe });
  let info: BackendInfo | null = null;
  if (name === 'tensorflow') {
    const res = await useTensorflow(tfProbe.pkg!);
    if (typeof res !== 'string') info = res;
    else if (parsed === 'tensorflow') throw new UserError(`backend 'tensorflow' is not available: ${res}`);
    else {
      console.warn(`convmixer: ${res}; falling back`);
      const fallbackProbe = probeNative();
      Object.assign(nativeProbe, fallbackProbe);
      name = fallbackProbe.available ? 'native' : 'cpu';
    }
  }
  if (name !== 'native') {
    activeAddon = null;
    flushing = false;
  }
  if (!info && name === 'native') info = await useNative(nativeProbe.addon!, opts.threads);
  if (!info) {
    if (parsed === 'auto' && !warnedNoNative) {
      warnedNoNative = true;
      console.warn(`convmixer: native engine not built or not loadable: ${nativeProbe.detail}; using tfjs JS kernels`);
    }
    info = await useCpu();
  }
  current = { ...info, choice: parsed, threads: opts.threads };
  return info;
}

export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * The arithmetic of convolutions (depthwise ones included) and matmuls, forward and both backprops: 'fp32', or 'bf16'
 * as under PyTorch's CPU autocast: operands rounded to bfloat16, products accumulated in fp32, fp32 results; every
 * other op (biases, BatchNorm, activations, the loss, the optimizer) stays fp32. bf16 needs the native engine; it runs
 * on AVX512-BF16 instructions where the CPU has them and on portable kernels with the same rounding elsewhere.
 * Returns the kernel now in force: 'fp32', 'avx512_bf16' or 'portable'. Call after initBackend.
 */
export function setPrecision(precision: Precision): 'fp32' | 'avx512_bf16' | 'portable' {
  const addon = activeAddon;
  if (precision === 'fp32') {
    if (addon && typeof addon.setGemmPrecision === 'function') addon.setGemmPrecision(0);
    return 'fp32';
  }
  if (!addon) throw new UserError(`precision bf16 needs the native engine (--backend native); this process uses ${current?.description ?? 'no backend yet'}`);
  if (typeof addon.setGemmPrecision !== 'function') throw new UserError('precision bf16: the native engine was built before bf16 support; run npm run build:native');
  // CONVMIXER_BF16_KERNEL=portable forces the portable kernels on a CPU with avx512_bf16 (to time what machines
  // without it get); the arithmetic is the same.
  const forced = process.env.CONVMIXER_BF16_KERNEL;
  if (forced !== undefined && forced !== '' && forced !== 'auto' && forced !== 'portable') {
    throw new UserError(`CONVMIXER_BF16_KERNEL: expected auto or portable, got '${forced}'`);
  }
  if (forced === 'portable') {
    addon.setGemmPrecision(2);
    return 'portable';
  }
  addon.setGemmPrecision(1);
  return addon.bf16Kernel === 'avx512_bf16' ? 'avx512_bf16' : 'portable';
}

/** CONVMIXER_FLUSH_DENORMALS: 1 (default: flush) or 0 (keep). */
function denormalsFromEnv(env = process.env.CONVMIXER_FLUSH_DENORMALS): boolean {
  if (env === undefined || env === '' || env === '1') return true;
  if (env === '0') return false;
  throw new UserError(`CONVMIXER_FLUSH_DENORMALS: expected 1 (flush denormals to zero, the default) or 0 (keep them), got '${env}'`);
}

/**
 * Whether the native kernels flush denormal floats to zero (FTZ/DAZ, the default; CONVMIXER_FLUSH_DENORMALS=0 keeps
 * them). Denormals cost Intel cores a microcode assist per operation; a trained deep ConvMixer produces them, and its
 * training steps were ~2x slower on an Intel Xeon without flushing (`convmixer bench train --weights FILE --denormals both`).
 * Values below 1.2e-38 become 0; nothing else changes. Returns the previous setting; needs the native engine.
 */
export function setFlushDenormals(on: boolean): boolean {
  const addon = activeAddon;
  if (!addon) throw new UserError(`--denormals needs the native engine (--backend native); this process uses ${current?.description ?? 'no backend yet'}`);
  if (typeof addon.setFlushDenormals !== 'function') {
    throw new UserError(`--denormals: this native engine cannot flush denormals (${process.arch === 'x64' ? 'built before denormal flushing; run npm run build:native' : `not an x86 CPU: ${process.arch}`})`);
  }
  const prev = addon.setFlushDenormals(on);
  // The description run records store says the mode now in force.
  if (current) current.description = current.description.replace(denormalsNote(flushing) + ')', denormalsNote(on) + ')');
  flushing = on;
  return prev;
}

/** Whether the native kernels flush denormals to zero now (false on the other backends). */
export function flushingDenormals(): boolean {
  return flushing;
}

function denormalsNote(flush: boolean): string {
  return flush ? ', FTZ/DAZ' : ', denormals kept';
}

/** The backend in use as run records describe it (its denormal mode included), or null before initBackend. */
export function backendDescription(): string | null {
  return current?.description ?? null;
}

/** What run records say of the arithmetic: '' for fp32, ', bf16 GEMM (avx512_bf16)' for bf16, appended to the backend's description. */
export function precisionNote(kernel: ReturnType<typeof setPrecision>): string {
  return kernel === 'fp32' ? '' : `, bf16 GEMM (${kernel})`;
}
