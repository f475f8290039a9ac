// `convmixer bench train|infer`: images per second of this engine for one ConvMixer or segmentation model (Unet,
// ConvMixer-Unet), optionally next to PyTorch (same model, batch, input size and threads, run in the same invocation),
// with the peak memory of each side.
// Writes a run record (kind 'bench') so the numbers shown anywhere else come from a recorded run.
import { choiceFlag, numberFlag, parseFlags, type Command } from './args.ts';
import { baselineRow, benchModels, PAPER_PROTOCOL, tableBenchRows, type ModelBenchRow } from '../bench/models.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, configFromFlags, describeConfig, type ModelFlagValues } from './modelFlags.ts';
import { UserError } from '../errors.ts';
import { convMixerDefaultCfg, isRegistered, modelFamily, modelInfo, type ModelInfo } from '../models/registry.ts';
import type { ConvMixerConfig } from '../models/convmixer.ts';
import { BACKEND_CHOICES, initBackend, precisionNote, PRECISIONS, backendDescription, flushingDenormals, setFlushDenormals, setPrecision } from '../backend/index.ts';
import { BENCH_IGNORE_INDEX, benchSteps, profileStep, type BenchMode, type BenchResult } from '../bench/engine.ts';
import { benchTorch, benchTorchSegmentation, type TorchResult } from '../bench/torch.ts';
import { SEG_PROFILE_DEFAULTS } from '../train/segConfig.ts';
import { SEG_SMOKE_OVERRIDES } from '../experiments/segmentation.ts';
import { benchMetrics, engineThreads } from '../bench/metrics.ts';
import { arithmeticMetrics, machinePeakGflops, type FlopsModel } from '../bench/flops.ts';
import type { UnetConfig } from '../models/unet.ts';
import type { ConvMixerUnetConfig } from '../models/convmixerUnet.ts';
import { finishRunRecord, loadRunRecords, newRunRecord, RESULTS_DIR, saveRunRecord } from '../runRecord.ts';
import { benchTable, replaceBenchTable } from '../bench/table.ts';
import { atomicWrite, REPO_ROOT, underFlag, writableDir } from '../io.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const HELP = `usage: convmixer bench train|infer [--model NAME | --dim D --depth N --kernel K --patch P --classes C]
                       [--batch 16] [--image-size S] [--steps 5] [--warmup 2] [--threads N] [--vs torch]
                       [--backend ${BACKEND_CHOICES.join('|')}] [--precision fp32|bf16] [--profile] [--json] [--seed 0] [--results-dir DIR]
                       [--after D/N,D/N,...] [--weights FILE] [--denormals flush|keep|both]
       convmixer bench train|infer --model unet_camvid|convmixer_unet_camvid|unet|convmixer_unet [--height H --width W]
                       [--seg-profile smoke|quick|paper] [--classes C] [--batch 16] ... [--vs torch]
       convmixer bench table [--update-readme] [--results-dir DIR]
       convmixer bench models --table 1|2 [--batch 8] [--steps 3] [--warmup 1] [--vs torch] [--json] [--results-dir DIR]

Times training steps (forward in training mode + softmax cross-entropy + backward + SGD update) or inference
steps (forward, eval mode) on random images, and prints ms/img and img/s. Writes a run record (kind 'bench').
Segmentation models train with the loss segmentation training uses (soft Dice, lib/train/segLoss.ts) on random
per-pixel labels (classes and the ignore index 255), PyTorch with the same loss (scripts/bench_torch.py).

${MODEL_FLAGS_HELP}
                          --model also takes the comparison models (resnet50, deit_small_patch16_224, mixer_b16_224, ...;
                          this engine only, no --vs torch; --classes the only override), and the segmentation
                          models (unet_camvid, convmixer_unet_camvid, unet, convmixer_unet; --vs torch builds the same
                          architecture from scripts/seg_reference.py and checks both parameter counts are equal)
  --height H --width W    segmentation models: input size (default: the --seg-profile's, 96x128 for quick);
                          --image-size S is S x S
  --seg-profile P         segmentation models: smoke|quick|paper input size of lib/train/segConfig.ts (default quick);
                          smoke also narrows the model as the segmentation experiment's smoke rows do (seconds a step)
  --batch B               images per step (default 16)
  --image-size S          square input size in pixels (default: the --model's default cfg, 224 for the ImageNet
                          ConvMixers and 32 for the CIFAR-10 ones; 32 without --model)
  --steps N --warmup W    timed steps (default 5) after untimed warm-up steps (default 2)
  --threads N             threads of the native engine and of PyTorch (default: CONVMIXER_THREADS or all cores;
                          the JS cpu backend always runs on one)
  --vs torch              also run the same benchmark in PyTorch (scripts/bench_torch.py) and print the ratio
  --backend X             tfjs backend (default: CONVMIXER_BACKEND or auto)
  --precision P           fp32 (default) or bf16: convolutions and matmuls with bfloat16 operands and fp32 accumulation
                          (native engine; AVX512-BF16 where the CPU has it); with --vs torch, PyTorch runs under
                          torch.autocast('cpu', dtype=torch.bfloat16), so bf16 is compared with bf16
  --profile               also print the kernels that take the time in one step (tf.profile)
  --after D/N,...         ConvMixers: then, in this process, train 2 steps and evaluate one batch of 250 of each listed
                          width/depth (same kernel, patch, classes), as \`experiment run\` goes through a table, and time
                          the model again: prints after_ms_per_img and after_ratio (again / first; near 1 when nothing an
                          earlier model left behind, such as the output pool's free lists, slows the next one)
  --weights FILE          ConvMixers: start from these weights (a run's final.weights.safetensors, or a checkpoint's
                          PyTorch layout) instead of the seeded init; a trained model can carry denormals, random init not
  --denormals M           native engine: flush (default: FTZ/DAZ while kernels run, CONVMIXER_FLUSH_DENORMALS=0 turns it
                          off), keep (IEEE denormals), or both: time flushed, then kept in the same process, and print
                          denormal_ratio = kept / flushed ms per image (about 1 from random init; ~1.9 for a trained
                          256/24 ConvMixer on an Intel Xeon)
  --json                  print one JSON object: ms_per_img, img_per_s, peak_rss_mib (and torch_ms_per_img,
                          torch_peak_rss_mib, ratio = ms_per_img / torch_ms_per_img with --vs torch)
  --results-dir DIR       where the run record is written (bench table: where records are read); default reports/results

\`bench table\` prints the markdown table of the newest --vs torch record per workload (reports/results/);
--update-readme writes it between the bench-table markers of README.md.

\`bench models --table 1|2\` runs \`bench infer\` at 224x224 for every row of the paper's Table 1 or 2 that the
registry builds (the isotropic MobileNetV3s are listed as skipped), plus ResNet-50, and prints ms/img, img/s
and img/s relative to ResNet-50 next to the paper's ratio (paper img/s / 1739, its ResNet-50). Paper protocol: batch 64,
fp16, 20 batches after warm-up, one RTX8000; defaults here (fp32, CPU): batch 8, 3 timed batches after 1 warm-up.
One record per row; rows with a finished record for the same settings and git commit are not re-run (resumable).
--vs torch also times in PyTorch, same settings, the ConvMixer rows (scripts/bench_torch.py) and the ResNet-50/101/152,
ViT-B/16 and Swin-T/S architectures (torchvision, random init; DeiT-B is ViT-B/16), ResNet-50 first, and gives each its PyTorch
ratio to PyTorch's ResNet-50 (parameter counts must equal the registry's; without torchvision those rows are skipped
with a note and the ConvMixer rows keep their PyTorch img/s without a ratio).

example: convmixer bench train --dim 256 --depth 8 --kernel 9 --patch 1 --classes 10 --vs torch
         convmixer bench train --model convmixer_unet_camvid --batch 8 --vs torch   (96x128)`;

export interface BenchFlags extends ModelFlagValues {
  batch?: string; 'image-size'?: string; steps?: string; warmup?: string; threads?: string; vs?: string;
  backend?: string; profile?: boolean; json?: boolean; seed?: string; 'update-readme'?: boolean; table?: string; 'results-dir'?: string;
  height?: string; width?: string; 'seg-profile'?: string; precision?: string; after?: string; weights?: string; denormals?: string;
}

/** --after D/N,D/N,...: the widths and depths of the ConvMixers to run before timing again. */
export function parseAfterFlag(raw: string | undefined): { dim: number; depth: number }[] {
  if (raw === undefined) return [];
  return raw.split(',').map((item) => {
    const m = /^\s*(\d+)\/(\d+)\s*$/.exec(item);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 0) throw new UserError(`--after: expected DIM/DEPTH[,DIM/DEPTH...] (e.g. 128/4,128/8), got '${raw}'`);
    return { dim: Number(m[1]), depth: Number(m[2]) };
  });
}

/** The batch the experiment runner evaluates with (QUICK_CIFAR_PROTOCOL.evalBatchSize): --after runs one of these. */
const AFTER_EVAL_BATCH = 250;

/** What a test can swap in for \`bench models\`: the table's rows, the baseline and the image size (224 otherwise). */
export interface BenchModelsInjection { table?: ReturnType<typeof tableBenchRows>; baseline?: ModelBenchRow; imageSize?: number }

/** \`bench models --table 1|2\` with parsed flags: see lib/bench/models.ts. */
export async function benchModelsCommand(values: BenchFlags, inject: BenchModelsInjection = {}): Promise<number> {
  const tableNo = choiceFlag('table', values.table, ['1', '2'] as const);
  if (!tableNo) throw new UserError('--table 1|2 is required');
  if (values.vs !== undefined && values.vs !== 'torch') throw new UserError(`--vs: expected 'torch', got '${values.vs}'`);
  const modelFlags = (['model', 'dim', 'depth', 'kernel', 'patch', 'classes', 'activation', 'norm', 'image-size', 'profile', 'height', 'width', 'seg-profile', 'precision'] as const).filter((f) => values[f] !== undefined);
  if (modelFlags.length) throw new UserError(`--${modelFlags[0]} does not apply to bench models (the table's rows at 224x224)`);
  const batch = numberFlag('batch', values.batch, { int: true, min: 1 }) ?? 8;
  const steps = numberFlag('steps', values.steps, { int: true, min: 1 }) ?? 3;
  const warmup = numberFlag('warmup', values.warmup, { int: true, min: 0 }) ?? 1;
  const threads = numberFlag('threads', values.threads, { int: true, min: 1, max: 256 });
  const seed = numberFlag('seed', values.seed, { int: true, min: 0 }) ?? 0;
  const backend = await initBackend(values.backend, { threads });
  const effectiveThreads = threads ?? (Number(process.env.CONVMIXER_THREADS) || (await import('node:os')).availableParallelism());
  const { rows, skipped } = inject.table ?? tableBenchRows(Number(tableNo) as 1 | 2);
  const imageSize = inject.imageSize ?? 224;
  const log = (s: string): void => {
    if (!values.json) console.log(s);
  };
  log(`Table ${tableNo}: ${rows.length} models (+ ResNet-50 baseline), infer, batch ${batch}, ${imageSize}x${imageSize}, ${steps} timed batches after ${warmup} warm-up, backend ${backend.description}`);
  log(`(${PAPER_PROTOCOL}; compare ratios, not img/s)`);
  if (values.vs === 'torch') log('PyTorch: ConvMixers (scripts/bench_torch.py) and ResNet-50/101/152, ViT-B/16, Swin-T/S (torchvision, random init), same settings; PyTorch ratios are to PyTorch\'s ResNet-50 of this run');
  if (skipped.length) log(`skipped (no registry model): ${skipped.map((r) => `${r.network} p${r.patchSize ?? '-'}`).join(', ')}`);
  const result = benchModels({
    table: `table${tableNo}`, rows, baseline: inject.baseline ?? baselineRow(), torchThreads: effectiveThreads,
    settings: { mode: 'infer', batch, imageSize, steps, warmup, threads: engineThreads(backend.name, effectiveThreads), seed, vs: values.vs === 'torch' ? 'torch' : null, backend: backend.description },
    resultsDir: values['results-dir'] !== undefined ? resolve(values['results-dir']) : undefined, log,
  });
  if (values.json) console.log(JSON.stringify({ table: Number(tableNo), batch, image_size: imageSize, steps, warmup, backend: backend.description, baseline: result.baseline, rows: result.rows, skipped }));
  return 0;
}

const f2 = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export interface SegBenchInput {
  info: ModelInfo;
  /** The registry overrides of the model timed (smoke widths, --classes). */
  overrides: Record<string, unknown>;
  height: number;
  width: number;
  profile: 'smoke' | 'quick' | 'paper';
}

/**
 * The segmentation model and input size \`bench train|infer --model NAME\` times (NAME a segmentation model): --seg-profile's
 * input size (lib/train/segConfig.ts SEG_PROFILE_DEFAULTS, quick 96x128 by default; smoke also narrows the model as the
 * segmentation experiment's smoke rows do), --height/--width or --image-size on top, --classes. One-line UserErrors.
 */
export function segBenchInput(values: BenchFlags): SegBenchInput {
  const name = values.model!;
  const family = modelFamily(name);
  const convMixerOnly = (['dim', 'depth', 'kernel', 'patch', 'activation', 'norm'] as const).filter((f) => values[f] !== undefined);
  if (convMixerOnly.length) throw new UserError(`--${convMixerOnly[0]} applies to ConvMixer models only (${name} is a ${family} segmentation model)`);
  const profile = choiceFlag('seg-profile', values['seg-profile'], ['smoke', 'quick', 'paper'] as const) ?? 'quick';
  const square = numberFlag('image-size', values['image-size'], { int: true, min: 16 });
  if (square !== undefined && (values.height !== undefined || values.width !== undefined)) throw new UserError('give --image-size S or --height H --width W, not both');
  const height = numberFlag('height', values.height, { int: true, min: 16 }) ?? square ?? SEG_PROFILE_DEFAULTS[profile].height;
  const width = numberFlag('width', values.width, { int: true, min: 16 }) ?? square ?? SEG_PROFILE_DEFAULTS[profile].width;
  const numClasses = numberFlag('classes', values.classes, { int: true, min: 1 });
  const overrides = { ...(profile === 'smoke' ? SEG_SMOKE_OVERRIDES[family as keyof typeof SEG_SMOKE_OVERRIDES] ?? {} : {}), ...(numClasses !== undefined ? { numClasses } : {}) };
  const info = modelInfo(name, overrides);
  if (info.family === 'convmixer_unet') {
    const f = (info.config as { patchSize: number }).patchSize ** 3; // checked here so that no failed record is written
    if (height % f !== 0 || width % f !== 0) throw new UserError(`${info.name} needs --height and --width divisible by ${f} (three patch embeddings deep), got ${height}x${width}`);
  }
  return { info, overrides, height, width, profile };
}

export const command: Command = {
  summary: 'train/infer speed of this engine, optionally vs PyTorch',
  async run(argv) {
    const { values, positionals, help } = parseFlags<BenchFlags>(argv, {
      ...MODEL_FLAGS, batch: { type: 'string' }, 'image-size': { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' },
      threads: { type: 'string' }, vs: { type: 'string' }, backend: { type: 'string' }, profile: { type: 'boolean' }, json: { type: 'boolean' },
      seed: { type: 'string' }, 'update-readme': { type: 'boolean' }, table: { type: 'string' }, 'results-dir': { type: 'string' },
      height: { type: 'string' }, width: { type: 'string' }, 'seg-profile': { type: 'string' }, precision: { type: 'string' }, after: { type: 'string' },
      weights: { type: 'string' }, denormals: { type: 'string' },
    }, true);
    if (help) {
      console.log(HELP);
      return 0;
    }
    // Where records are written (train, infer, models) and read (table); default reports/results.
    const resultsDir = values['results-dir'] !== undefined ? resolve(values['results-dir']) : RESULTS_DIR;
    if (positionals[0] === 'table') {
      const table = benchTable(loadRunRecords({ kind: 'bench' }, resultsDir));
      console.log(table);
      if (values['update-readme']) {
        const readme = join(REPO_ROOT, 'README.md');
        atomicWrite(readme, replaceBenchTable(readFileSync(readme, 'utf8'), table));
        console.log(`updated ${readme}`);
      }
      return 0;
    }
    if (positionals[0] === 'models' && positionals.length === 1) return benchModelsCommand(values);
    if (positionals.length !== 1 || (positionals[0] !== 'train' && positionals[0] !== 'infer')) {
      throw new UserError(`expected one mode, train, infer, table or models, got '${positionals.join(' ')}'`);
    }
    const mode = positionals[0] as BenchMode;
    if (values.vs !== undefined && values.vs !== 'torch') throw new UserError(`--vs: expected 'torch', got '${values.vs}'`);
    const batch = numberFlag('batch', values.batch, { int: true, min: 1 }) ?? 16;
    const sizeFlag = (min: number): number | undefined => numberFlag('image-size', values['image-size'], { int: true, min });
    let config: ConvMixerConfig | null = null;
    let registryModel: { name: string; overrides: Record<string, unknown> } | undefined;
    let imageSize: number, title: string, idModel: string, modelRecord: Record<string, unknown>;
    /** Segmentation models: the resolved model, its input size and the seg profile the defaults came from. */
    let seg: SegBenchInput | null = null;
    const segFlags = (['height', 'width', 'seg-profile'] as const).filter((f) => values[f] !== undefined);
    const isSeg = values.model !== undefined && isRegistered(values.model) && modelInfo(values.model).task === 'segmentation';
    if (!isSeg && segFlags.length) throw new UserError(`--${segFlags[0]} applies to segmentation models only (--model unet_camvid, convmixer_unet_camvid, ...); use --image-size`);
    if (isSeg) {
      seg = segBenchInput(values);
      const { info, height, width, profile, overrides } = seg;
      registryModel = { name: info.name, overrides };
      imageSize = height;
      title = `${info.name}: ${info.description}${profile === 'smoke' ? ' (smoke widths)' : ''}, ${info.paramCount} parameters`;
      idModel = `${info.name}-${height}x${width}`;
      modelRecord = { name: info.name, family: info.family, ...(info.config as Record<string, unknown>) };
    } else if (values.model !== undefined && isRegistered(values.model) && modelFamily(values.model) !== 'convmixer') {
      // ResNet / DeiT / ViT / Mixer / ResMLP / Swin: this engine only (scripts/bench_torch.py builds ConvMixers).
      if (values.vs !== undefined) throw new UserError(`--vs torch compares ConvMixers and the segmentation models only (${values.model} is a ${modelFamily(values.model)} model)`);
      const convMixerOnly = (['dim', 'depth', 'kernel', 'patch', 'activation', 'norm'] as const).filter((f) => values[f] !== undefined);
      if (convMixerOnly.length) throw new UserError(`--${convMixerOnly[0]} applies to ConvMixer models only (${values.model} is a ${modelFamily(values.model)} model)`);
      const numClasses = numberFlag('classes', values.classes, { int: true, min: 1 });
      const base = modelInfo(values.model, { numClasses });
      imageSize = sizeFlag(1) ?? base.defaultCfg.inputSize[1];
      // ViT / Mixer / ResMLP have a fixed token count: another image size is another model (position embeddings, token MLPs).
      const fixedSize = 'imgSize' in (base.config as object);
      const overrides = { numClasses, ...(fixedSize && imageSize !== base.defaultCfg.inputSize[1] ? { imgSize: imageSize } : {}) };
      const info = modelInfo(values.model, overrides);
      registryModel = { name: info.name, overrides };
      title = `${info.name}: ${info.description}`;
      idModel = info.name;
      modelRecord = { name: info.name, family: info.family, ...(info.config as Record<string, unknown>) };
    } else {
      const c = configFromFlags(values);
      config = c;
      imageSize = sizeFlag(c.patchSize) ?? (values.model !== undefined ? convMixerDefaultCfg(c, values.model).inputSize[1] : 32);
      title = describeConfig(c, values.model);
      idModel = `${c.dim}-${c.depth}-k${c.kernelSize}-p${c.patchSize}`;
      modelRecord = c as unknown as Record<string, unknown>;
    }
    if (seg && seg.info.family === 'unet' && mode === 'train' && values.vs === 'torch' && batch * Math.floor(seg.height / 16) * Math.floor(seg.width / 16) < 2) {
      throw new UserError(`--vs torch: PyTorch's BatchNorm needs more than one value per channel in training, and ${seg.info.name}'s bottleneck has `
        + `batch x floor(H/16) x floor(W/16) = 1 at batch ${batch}, ${seg.height}x${seg.width}; use a larger batch or input`);
    }
    const after = parseAfterFlag(values.after);
    if (after.length && !config) throw new UserError('--after applies to ConvMixers only (--dim/--depth/... or a ConvMixer --model)');
    if (after.length && values.vs !== undefined) throw new UserError('--after times this engine only: drop --vs torch');
    if (values.weights !== undefined && !config) throw new UserError('--weights applies to ConvMixers only (--dim/--depth/... or a ConvMixer --model)');
    if (values.weights !== undefined && values.vs !== undefined) throw new UserError('--weights times this engine only (PyTorch starts from its own init): drop --vs torch');
    const weights = values.weights === undefined ? undefined : resolve(values.weights);
    if (weights !== undefined && !existsSync(weights)) throw new UserError(`--weights: no such file: ${values.weights}`);
    const denormalsFlag = choiceFlag('denormals', values.denormals, ['flush', 'keep', 'both'] as const);
    if (denormalsFlag === 'both' && (after.length || values.vs !== undefined)) throw new UserError('--denormals both times this engine twice: drop --after and --vs torch');
    const steps = numberFlag('steps', values.steps, { int: true, min: 1 }) ?? 5;
    const warmup = numberFlag('warmup', values.warmup, { int: true, min: 0 }) ?? 2;
    writableDir(resultsDir, '--results-dir');
    const threads = numberFlag('threads', values.threads, { int: true, min: 1, max: 256 });
    const seed = numberFlag('seed', values.seed, { int: true, min: 0 }) ?? 0;

    const precision = choiceFlag('precision', values.precision, PRECISIONS) ?? 'fp32';

    const backend = await initBackend(values.backend, { threads });
    const gemmKernel = setPrecision(precision);
    // Without --denormals the engine keeps its setting (CONVMIXER_FLUSH_DENORMALS); the flag needs the native engine.
    if (denormalsFlag !== undefined) setFlushDenormals(denormalsFlag !== 'keep');
    const denormals = denormalsFlag ?? (flushingDenormals() ? 'flush' : 'keep');
    const backendDesc = backendDescription() ?? backend.description; // with the denormal mode of the timing ('both': flushed first)
    const effectiveThreads = threads ?? (Number(process.env.CONVMIXER_THREADS) || (await import('node:os')).availableParallelism());
    const threadsUsed = engineThreads(backend.name, effectiveThreads);
    const settings = seg
      ? { mode, batch, height: seg.height, width: seg.width, segProfile: seg.profile, loss: 'dice', ignoreIndex: BENCH_IGNORE_INDEX, steps, warmup, threads: threadsUsed, seed, precision }
      : { mode, batch, imageSize, steps, warmup, threads: threadsUsed, seed, precision, ...(after.length ? { after: values.after } : {}),
        ...(weights ? { weights: values.weights } : {}), ...(backend.name === 'native' ? { denormals } : {}) };
    const inputSize = seg ? { height: seg.height, width: seg.width } : {};
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const id = `bench-${mode}-${idModel}-b${batch}-${stamp}`;
    let record = newRunRecord({ id, kind: 'bench', experiment: 'bench', profile: seg?.profile ?? 'quick', seed, config: { model: modelRecord, ...settings, vs: values.vs ?? null }, backend: `${backendDesc}${precisionNote(gemmKernel)}` });
    const log = (s: string): void => {
      if (!values.json) console.log(s);
    };
    log(title);
    log(`${mode}${seg && mode === 'train' ? ' (soft Dice loss)' : ''}, batch ${batch}, ${seg ? `${seg.height}x${seg.width}` : `${imageSize}x${imageSize}`}, ${steps} timed steps after ${warmup} warm-up, backend ${backendDesc}${precisionNote(gemmKernel)}`);

    let ours: BenchResult;
    let torch: TorchResult | null = null;
    let again: BenchResult | null = null;
    let kept: BenchResult | null = null;
    try {
      ours = benchSteps({ config, registryModel, mode, batch, imageSize, ...inputSize, steps, warmup, seed, weights });
      log(`this engine${denormals === 'both' ? ' (denormals flushed)' : ''}: ${f2(ours.msPerImg)} ms/img, ${f2(ours.imgPerSec)} img/s, peak RSS ${ours.peakRssMiB.toFixed(0)} MiB`);
      if (denormals === 'both') {
        setFlushDenormals(false);
        try {
          kept = benchSteps({ config, registryModel, mode, batch, imageSize, ...inputSize, steps, warmup, seed, weights });
        } finally {
          setFlushDenormals(true);
        }
        log(`denormals kept (IEEE, no FTZ/DAZ): ${f2(kept.msPerImg)} ms/img, ${f2(kept.imgPerSec)} img/s; ratio kept / flushed ${(kept.msPerImg / ours.msPerImg).toFixed(2)}x`);
      }
      if (after.length && config) {
        for (const { dim, depth } of after) {
          const other = { ...config, dim, depth };
          benchSteps({ config: other, mode: 'train', batch, imageSize, steps: 2, warmup: 0, seed });
          benchSteps({ config: other, mode: 'infer', batch: AFTER_EVAL_BATCH, imageSize, steps: 1, warmup: 0, seed });
        }
        again = benchSteps({ config, mode, batch, imageSize, steps, warmup, seed });
        log(`again after ${after.map((a) => `${a.dim}/${a.depth}`).join(', ')} (2 training steps, one eval batch of ${AFTER_EVAL_BATCH} each) in this process: ` +
          `${f2(again.msPerImg)} ms/img, ${(again.msPerImg / ours.msPerImg).toFixed(2)}x the first`);
      }
      if (values.vs === 'torch' && seg) {
        // bench_torch.py refuses a PyTorch model whose count differs from the built model's (a one-line error).
        torch = benchTorchSegmentation({ family: seg.info.family, config: seg.info.config as Record<string, unknown>, expectParams: ours.params!, mode, batch,
          height: seg.height, width: seg.width, ignoreIndex: BENCH_IGNORE_INDEX, steps, warmup, threads: effectiveThreads, seed, precision });
        if (torch.params !== ours.params) throw new UserError(`--vs torch: parameter count mismatch for ${seg.info.name}: this engine ${ours.params}, PyTorch ${torch.params}`);
        log(`parameters: this engine ${ours.params}, PyTorch ${torch.params} (equal)`);
      } else if (values.vs === 'torch' && config) {
        torch = benchTorch({ config, mode, batch, imageSize, steps, warmup, threads: effectiveThreads, seed, precision });
      }
      if (torch) {
        log(`PyTorch ${torch.torch} (${torch.python}, ${torch.threads} threads, BLAS: ${torch.blas ?? 'not reported'}${precision === 'bf16' ? ', bf16 autocast' : ''}): ${f2(torch.ms_per_img)} ms/img, ${f2(torch.img_per_s)} img/s, peak RSS ${torch.peak_rss_mib.toFixed(0)} MiB`);
        log(`ratio (this engine / PyTorch ms per image): ${(ours.msPerImg / torch.ms_per_img).toFixed(2)}x; memory ratio ${(ours.peakRssMiB / torch.peak_rss_mib).toFixed(2)}x`);
      }
    } catch (err) {
      underFlag('--results-dir', resultsDir, () => saveRunRecord(finishRunRecord(record, { error: (err as Error).message.split('\n')[0]! }, 'failed'), resultsDir));
      throw err;
    }

    // The multiply-adds are counted for ConvMixers and the segmentation models (other families: no GFLOP/s).
    const flopsModel: FlopsModel | null = config ? { kind: 'convmixer', config, imageSize }
      : seg?.info.family === 'unet' ? { kind: 'unet', config: seg.info.config as UnetConfig, height: seg.height, width: seg.width }
        : seg?.info.family === 'convmixer_unet' ? { kind: 'convmixer_unet', config: seg.info.config as ConvMixerUnetConfig, height: seg.height, width: seg.width } : null;
    const arithmetic = flopsModel ? arithmeticMetrics(flopsModel, mode, ours, torch, machinePeakGflops(threadsUsed)) : null;
    if (arithmetic) log(arithmetic.line);
    const afterMetrics: Record<string, number> = {
      ...(again ? { afterMsPerImg: again.msPerImg, afterRatio: again.msPerImg / ours.msPerImg } : {}),
      ...(kept ? { keptDenormalsMsPerImg: kept.msPerImg, denormalRatio: kept.msPerImg / ours.msPerImg } : {}),
    };
    record = finishRunRecord(record, { ...benchMetrics(ours, torch), ...(arithmetic?.metrics ?? {}), ...afterMetrics, ...(seg ? { params: ours.params ?? null, torchParams: torch?.params ?? null } : {}) });
    const path = underFlag('--results-dir', resultsDir, () => saveRunRecord(record, resultsDir));

    if (values.profile) {
      const prof = await profileStep({ config, registryModel, mode, batch, imageSize, ...inputSize, steps: 1, warmup: 1, seed });
      log(`\nkernels in one ${mode} step (tf.profile, ${f2(prof.totalMs)} ms of kernel time):`);
      for (const k of prof.kernels.slice(0, 15)) log(`  ${k.name.padEnd(38)} ${f2(k.ms).padStart(8)} ms  ${((100 * k.ms) / prof.totalMs).toFixed(1).padStart(5)}%  ${k.calls} calls`);
    }
    if (values.json) {
      console.log(JSON.stringify({
        mode, model: modelRecord, batch, ...(seg ? { height: seg.height, width: seg.width, seg_profile: seg.profile, params: ours.params, ...(torch ? { torch_params: torch.params } : {}) } : { image_size: imageSize }),
        steps, warmup, threads: threadsUsed, backend: backendDesc,
        ms_per_img: ours.msPerImg, img_per_s: ours.imgPerSec, peak_rss_mib: ours.peakRssMiB,
        ...(again ? { after_ms_per_img: again.msPerImg, after_ratio: again.msPerImg / ours.msPerImg } : {}),
        ...(kept ? { kept_denormals_ms_per_img: kept.msPerImg, denormal_ratio: kept.msPerImg / ours.msPerImg } : {}),
        ...(torch ? { torch_ms_per_img: torch.ms_per_img, torch_img_per_s: torch.img_per_s, torch_peak_rss_mib: torch.peak_rss_mib, torch_version: torch.torch, torch_threads: torch.threads, torch_python: torch.python, torch_blas: torch.blas ?? null, ratio: ours.msPerImg / torch.ms_per_img, memory_ratio: ours.peakRssMiB / torch.peak_rss_mib } : {}),
        record: path,
      }));
    } else {
      log(`run record: ${path}`);
    }
    return 0;
  },
};
