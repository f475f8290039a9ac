// The one training loop, for every task: per epoch a seeded shuffle, the task's augmented batches, forward/backward
// of the task's loss, global grad-norm clipping, an AdamW step at the one-cycle lr of that step; then the task's
// evaluation, a checkpoint and the run record (status 'running' until the last epoch, so a crash leaves an honest
// partial record). What differs between classification, segmentation and detection lives in a TrainTask (task.ts).
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { removeStaleTemps, repoRelative, underFlag, writableDir } from '../io.ts';
import { createRng, type Rng } from '../rng.ts';
import { initBackend, precisionNote, setPrecision } from '../backend/index.ts';
import { newRunRecord, finishRunRecord, parseRunRecord, saveRunRecord, runIdProblem, RESULTS_DIR, type RunRecord } from '../runRecord.ts';
import type { ImageDataset } from '../data/cifar10.ts';
import { createAdamW, decaysExceptBiasAndNorm, type AdamW } from './adamw.ts';
import { constantSchedule, oneCycleSchedule, stepSchedule, type LrSchedule } from './schedule.ts';
import { gradNorms, clipGradsByGlobalNorm } from './clip.ts';
import { saveCheckpoint, loadCheckpoint, runCheckpointDir, runLockPath, CHECKPOINTS_DIR, type TensorRecord } from './checkpoint.ts';
import { acquireLock } from '../lock.ts';
import { firstRecipeDifference, flagForKey, recipeSchema, withKeysAddedLater, type Recipe, type TrainConfig } from './config.ts';
import { isSegRecipe, segRecipeSchema, type SegRecipe, type SegTrainConfig } from './segConfig.ts';
import type { SegDataset } from '../data/segmentation.ts';
import { segmentationTask } from './tasks/segmentation.ts';
import { detRecipeSchema, isDetRecipe, type DetRecipe, type DetTrainConfig } from './detConfig.ts';
import { detectionTask } from './tasks/detection.ts';
import type { DetDataset } from '../data/voc.ts';

/** A run's config: the classification recipe (CIFAR-10), the segmentation or the detection one, plus how to run it. */
export type AnyTrainConfig = TrainConfig | SegTrainConfig | DetTrainConfig;
type AnyRecipe = Recipe | SegRecipe | DetRecipe;
import type { TrainProgress } from './progress.ts';
import type { TrainableModel, TrainTask } from './task.ts';
import { classificationTask } from './tasks/classification.ts';

export { TRAIN_SUBSET_SEED, TEST_SUBSET_SEED } from './tasks/classification.ts';
export type { DataSource, TrainableModel, TrainTask } from './task.ts';

export type EpochMetrics = {
  epoch: number;        // 1-based: epochs completed after this one
  lr: number;           // lr of the epoch's last step
  trainLoss: number;    // mean training loss over the epoch's examples (the task's loss)
  testLoss: number | null;
  gradNorm: number;     // mean pre-clipping global gradient norm
  seconds: number;      // training + evaluation time of the epoch
  imgPerSec: number;    // training images per second
} & {
  // The task's evaluation metrics (testAcc for classification, testMIoU, ... for segmentation); null when not evaluated.
  [metric: string]: number | null;
};

/** Run records hold numbers only: epochs without evaluation leave testLoss/testAcc out. */
function recordEpochs(epochs: EpochMetrics[]): Record<string, number>[] {
  return epochs.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== null && v !== undefined)) as Record<string, number>);
}

export interface TrainHooks {
  onEpoch?(m: EpochMetrics, record: RunRecord): void;
  onProgress?(p: TrainProgress): void;
  /** Aborting stops after the current step; the record is saved as 'failed' (resume continues from the last checkpoint). */
  signal?: AbortSignal;
  /** Datasets to use instead of loading CIFAR-10 (tests). */
  data?: { train: ImageDataset; test: ImageDataset };
  /** Segmentation datasets to use instead of loading the recipe's dataset (tests). */
  segData?: { train: SegDataset; test: SegDataset };
  /** Detection datasets to use instead of loading the recipe's VOC splits (tests). */
  detData?: { train: DetDataset; test: DetDataset };
  /** A task to train instead of the one the recipe names (tests, and tasks built by their own module). */
  task?: TrainTask;
  resultsDir?: string;
  checkpointRoot?: string;
  /** One-line messages (resumed from ..., saved ...). */
  log?(line: string): void;
}

export interface TrainResult {
  record: RunRecord;
  recordPath: string;
  /** The trained model (a ConvMixerModel for classification); the caller disposes it. */
  model: TrainableModel;
  epochs: EpochMetrics[];
}

/** Training stopped because a loss, gradient or parameter became NaN/Inf; names the step and the first such parameter. */
export class TrainingDivergedError extends UserError {
  override name = 'TrainingDivergedError';
}

/** Keys of a recipe that the run record and checkpoint store, as plain JSON. */
function recipeOf(config: AnyTrainConfig): AnyRecipe {
  const { run: _run, ...recipe } = config;
  return recipe;
}

/** A data-order/augmentation stream independent of the model's init stream, derived from the same seed. */
function dataRng(seed: number): Rng {
  return createRng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ 0x9e3779b9) >>> 0);
}

function collectTensors(model: TrainableModel, opt: AdamW): TensorRecord {
  const out: TensorRecord = {};
  for (const [n, v] of Object.entries(model.params)) out[`param.${n}`] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  for (const [n, v] of Object.entries(model.buffers)) out[`buffer.${n}`] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  for (const [k, t] of Object.entries(opt.exportState().tensors)) out[`opt.${k}`] = t;
  return out;
}

function restoreTensors(model: TrainableModel, opt: AdamW, tensors: TensorRecord, optimizerStep: number, where: string): void {
  const take = (key: string, v: tf.Variable): void => {
    const t = tensors[key];
    if (!t) throw new UserError(`checkpoint ${where} lacks tensor '${key}'`);
    if (t.shape.join('x') !== v.shape.join('x')) throw new UserError(`checkpoint ${where}: '${key}' has shape [${t.shape}], the model expects [${v.shape}]`);
    const value = tf.tensor(t.data, t.shape, 'float32');
    v.assign(value); // assign copies: the temporary is ours to dispose
    value.dispose();
  };
  for (const [n, v] of Object.entries(model.params)) take(`param.${n}`, v);
  for (const [n, v] of Object.entries(model.buffers)) take(`buffer.${n}`, v);
  const optTensors: TensorRecord = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith('opt.')) optTensors[k.slice(4)] = t;
  try {
    opt.importState({ step: optimizerStep, tensors: optTensors });
  } catch (err) {
    throw new UserError(`checkpoint ${where}: ${(err as Error).message}`);
  }
}

/** Sum of each parameter, read back in one go: NaN/Inf exactly where a parameter holds a non-finite value (or overflows). */
function paramSums(vars: tf.Variable[]): Float32Array {
  const stacked = tf.tidy(() => tf.stack(vars.map((v) => tf.sum(v))));
  const sums = stacked.dataSync() as Float32Array;
  stacked.dispose();
  return sums;
}

/** Index of the first non-finite value in a vector of per-parameter reductions, or -1. */
function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** The task a recipe trains (its dataset decides), unless the caller gives one. */
async function taskFor(config: AnyTrainConfig, hooks: TrainHooks): Promise<TrainTask> {
  if (hooks.task) return hooks.task;
  if (isSegRecipe(config)) return segmentationTask(config, hooks.segData) as Promise<TrainTask>;
  if (isDetRecipe(config)) return detectionTask(config, hooks.detData) as Promise<TrainTask>;
  return classificationTask(config, hooks.data) as Promise<TrainTask>;
}

/** A checkpoint's recipe, checked against the schema flags are checked with (a hand-edited or foreign file fails here, by key). */
function savedRecipe(raw: unknown, dir: string): AnyRecipe {
  const tagged = (raw ?? {}) as { task?: unknown };
  const schema = isSegRecipe(tagged) ? segRecipeSchema : isDetRecipe(tagged) ? detRecipeSchema : recipeSchema;
  const parsed = schema.safeParse(withKeysAddedLater(raw));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`checkpoint ${dir}: saved recipe is invalid at '${issue.path.join('.') || 'recipe'}' (${issue.message}); start a new run instead of --resume`);
  }
  return parsed.data as unknown as AnyRecipe;
}

/** The learning-rate schedule of a recipe: the paper's one-cycle, or seed 000's step (segmentation) or constant (detection) one. */
function scheduleOf(config: AnyTrainConfig): LrSchedule {
  if ((isSegRecipe(config) || isDetRecipe(config)) && config.lrSchedule === 'step') return stepSchedule(config.lrMax, config.epochs, config.stepFactor);
  if (isDetRecipe(config) && config.lrSchedule === 'constant') return constantSchedule(config.lrMax);
  return oneCycleSchedule(config.lrMax, config.epochs);
}

export async function trainRun(requested: AnyTrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const runId = requested.run.runId ?? `${requested.experiment}-train-${requested.profile}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  // The experiment runner calls this directly: the id must be one safe folder name here too, not only in the CLI.
  const badId = runIdProblem(runId);
  if (badId) throw new UserError(`--run-id: ${badId}`);
  // The folders the flags name must be usable before anything starts (a file there, no permission: one line naming the flag).
  writableDir(hooks.resultsDir ?? RESULTS_DIR, '--results-dir');
  writableDir(hooks.checkpointRoot ?? CHECKPOINTS_DIR, '--checkpoint-dir');
  // One process per run id: two at once would interleave checkpoints and overwrite each other's record.
  const lock = acquireLock(runLockPath(runId, hooks.checkpointRoot ?? CHECKPOINTS_DIR), `run '${runId}'`);
  try {
    return await trainLocked(requested, hooks, runId);
  } finally {
    setPrecision('fp32');
    lock.release();
  }
}

async function trainLocked(requested: AnyTrainConfig, hooks: TrainHooks, runId: string): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  const resultsDir = hooks.resultsDir ?? RESULTS_DIR;
  const ckptDir = runCheckpointDir(runId, hooks.checkpointRoot ?? CHECKPOINTS_DIR);
  const saveRecord = (rec: RunRecord): string => underFlag('--results-dir', resultsDir, () => saveRunRecord(rec, resultsDir));
  // Temporary files of killed processes (atomicWrite's .<name>.<pid>.<ms>.tmp) go now, not only at the next write.
  removeStaleTemps(resultsDir);
  removeStaleTemps(ckptDir);
  const saved = requested.run.checkpoint ? loadCheckpoint(ckptDir) : null;
  // `--resume --run-id ID` alone continues with the saved recipe; with recipe flags, those must match it (checked below).
  const config: AnyTrainConfig = requested.run.resume && requested.run.useSavedRecipe && saved
    ? { ...savedRecipe(saved.manifest.recipe, saved.dir), run: requested.run } as AnyTrainConfig
    : requested;
  const recipe = recipeOf(config);
  // Refusals that need no data or model come first, before anything is written.
  const prevPath = join(resultsDir, `${runId}.json`);
  let prev: RunRecord | null = null;
  if (config.run.resume) {
    if (!saved) throw new UserError(`--resume: run '${runId}' has no checkpoint under ${ckptDir}`);
    if (existsSync(prevPath)) {
      let text: string;
      try {
        text = readFileSync(prevPath, 'utf8');
      } catch (err) {
        throw new UserError(`--resume: run record ${prevPath} is unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix or delete it`);
      }
      const parsed = parseRunRecord(text);
      if ('reason' in parsed) throw new UserError(`--resume: run record ${prevPath} is unreadable (${parsed.reason}); fix or delete it`);
      prev = parsed.record;
      // Continuing a finished run would rewrite its record (and final weights) from the last checkpoint.
      if (prev.status === 'finished') throw new UserError(`--resume: run '${runId}' already finished (${prevPath}); nothing to resume`);
    }
  } else if (saved) {
    throw new UserError(`--run-id: run '${runId}' already has a checkpoint (${saved.dir}); add --resume to continue it or pick another --run-id`);
  } else if (existsSync(prevPath) && !config.run.overwrite) {
    // A run without a checkpoint (--no-checkpoint, or a record shipped in git) must not be replaced silently.
    throw new UserError(`run record ${prevPath} already exists; pass --overwrite to replace it, or pick another --run-id`);
  }
  const backend = await initBackend(config.run.backend);
  // bf16 holds for the whole run, evaluation included (as autocast around both); trainRun sets fp32 again at the end.
  const gemmKernel = setPrecision(config.precision);
  const task = await taskFor(config, hooks);
  const model = task.createModel(config.seed);
  const opt = createAdamW(model.params, {
    beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay,
    decays: config.decayBiasAndNorm ? undefined : decaysExceptBiasAndNorm,
  });
  // From here on the model and the optimizer state are ours: a failure anywhere disposes them (no leaked tensors).
  let savedRecord: (() => { record: RunRecord; trainSeconds: number }) | null = null;
  try {
    const rng = dataRng(config.seed);
    const stepsPerEpoch = Math.ceil(task.trainSize / config.batchSize);
    const schedule = scheduleOf(config);
    const epochs: EpochMetrics[] = [];
    let startEpoch = 0, globalStep = 0, trainSeconds = 0;

    const recordConfig = { ...recipe, explicit: config.run.explicit, resumable: config.run.checkpoint, trainImages: task.trainSize, testImages: task.testSize, params: task.paramCount, stepsPerEpoch,
      data: task.source, command: config.run.command ?? null };
    let record = newRunRecord({ kind: 'train', experiment: config.experiment, profile: config.profile, seed: config.seed, config: recordConfig, backend: `${backend.description}${precisionNote(gemmKernel)}`, id: runId,
      table: config.run.table, row: config.run.row });

    if (config.run.resume && saved) {
      const diff = firstRecipeDifference(saved.manifest.recipe, recipe);
      if (diff) {
        throw new UserError(`--resume: '${diff.key}' (--${flagForKey(diff.key)}) differs from the checkpoint: saved ${JSON.stringify(diff.saved)}, now ${JSON.stringify(diff.current)}`);
      }
      restoreTensors(model, opt, saved.tensors, saved.manifest.step, saved.dir);
      rng.setState(saved.manifest.rngState);
      startEpoch = saved.manifest.epoch;
      globalStep = saved.manifest.step;
      trainSeconds = saved.manifest.trainSeconds;
      epochs.push(...(saved.manifest.epochs as EpochMetrics[]));
      if (prev) {
        record = { ...record, startedAt: prev.startedAt, config: { ...record.config, explicit: prev.config['explicit'] ?? record.config['explicit'], command: prev.config['command'] ?? null } };
      }
      const resumedWith = config.run.command ? ` with \`${config.run.command.join(' ')}\`` : '';
      record.notes = `resumed at epoch ${startEpoch} (step ${globalStep}) on ${new Date().toISOString()}${resumedWith}`;
      log(`resumed run ${runId} from ${saved.dir} (epoch ${startEpoch}/${config.epochs}, step ${globalStep})`);
    }
    record.epochs = recordEpochs(epochs);
    let recordPath = saveRecord(record);
    savedRecord = () => ({ record, trainSeconds });

    const paramNames = Object.keys(model.params);
    const varList = paramNames.map((n) => model.params[n]!);
    const nameOfVar = new Map(varList.map((v, i) => [v.name, paramNames[i]!]));
    const totalSteps = stepsPerEpoch * config.epochs;
    const processStart = performance.now();
    let processImages = 0;

    const fail = (message: string, cause: 'diverged' | 'aborted'): never => {
      record = finishRunRecord({ ...record, epochs: recordEpochs(epochs), notes: [record.notes, message].filter(Boolean).join('; ') }, { trainSeconds, failure: cause }, 'failed');
      recordPath = saveRecord(record);
      if (cause === 'diverged') throw new TrainingDivergedError(message);
      throw new UserError(message);
    };

    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      const order = rng.shuffle(Uint32Array.from({ length: task.trainSize }, (_, i) => i)) as Uint32Array;
      let lossSum = 0, normSum = 0, seen = 0, lr = 0;
      for (let i = 0; i < stepsPerEpoch; i++) {
        // Let signal handlers run (Ctrl-C sets hooks.signal): the step itself never yields to the event loop.
        await new Promise<void>((res) => setImmediate(res));
        if (hooks.signal?.aborted) fail(`interrupted in epoch ${epoch + 1} at step ${globalStep}; continue with --resume --run-id ${runId}`, 'aborted');
        const idx = order.subarray(i * config.batchSize, Math.min(task.trainSize, (i + 1) * config.batchSize));
        const batch = task.trainBatch(idx, rng);
        lr = schedule.forStep(epoch, i, stepsPerEpoch);
        let vg: ReturnType<typeof tf.variableGrads>;
        try {
          vg = tf.variableGrads(() => task.loss(model.apply(batch.x, { training: true }), batch.target), varList);
        } finally {
          batch.x.dispose();
          batch.target.dispose();
        }
        const { value, grads: byVar } = vg;
        const loss = value.dataSync()[0]!;
        value.dispose();
        let grads: Record<string, tf.Tensor> = {};
        for (const [vn, g] of Object.entries(byVar)) grads[nameOfVar.get(vn)!] = g;
        const norms = gradNorms(grads);
        const badGrad = firstNonFinite(norms.squared);
        if (!Number.isFinite(loss) || badGrad >= 0) {
          tf.dispose(grads);
          // A non-finite parameter (e.g. loaded or from the previous step) poisons every gradient; name it rather than the first gradient.
          const badValue = firstNonFinite(paramSums(varList));
          const where = badValue >= 0 ? `values in '${paramNames[badValue]}'` : badGrad >= 0 ? `gradient of '${norms.names[badGrad]}'` : 'loss';
          fail(`training diverged at step ${globalStep + 1} (epoch ${epoch + 1}): non-finite ${where} (loss ${loss}, lr ${lr.toPrecision(3)}); try a lower --lr-max or --clip-norm`, 'diverged');
        }
        if (config.clipNorm > 0) grads = clipGradsByGlobalNorm(grads, config.clipNorm, norms.total);
        opt.apply(grads, lr);
        tf.dispose(grads);
        globalStep++;
        // One reduction per parameter, read back together: the first parameter whose values turned NaN/Inf.
        const badParam = firstNonFinite(paramSums(varList));
        if (badParam >= 0) fail(`training diverged at step ${globalStep} (epoch ${epoch + 1}): non-finite values in '${paramNames[badParam]}' after the update (lr ${lr.toPrecision(3)}); try a lower --lr-max or --clip-norm`, 'diverged');

        lossSum += loss * batch.n;
        normSum += norms.total;
        seen += batch.n;
        processImages += batch.n;
        if (hooks.onProgress) {
          const imgPerSec = processImages / ((performance.now() - processStart) / 1000);
          const stepsLeft = totalSteps - globalStep;
          hooks.onProgress({ epoch, epochs: config.epochs, step: i + 1, stepsPerEpoch, globalStep, totalSteps, loss: lossSum / seen, lr, imgPerSec, etaSec: (stepsLeft * config.batchSize) / imgPerSec });
        }
      }
      const trainSec = (performance.now() - epochStart) / 1000;
      const ev: { testLoss: number | null; [metric: string]: number | null } = config.evaluate ? task.evaluate(model, config.evalBatchSize) as { testLoss: number }
        : { testLoss: null, [task.primary]: null };
      const seconds = (performance.now() - epochStart) / 1000;
      trainSeconds += seconds;
      const m: EpochMetrics = {
        epoch: epoch + 1, lr, trainLoss: lossSum / seen, ...ev,
        gradNorm: normSum / stepsPerEpoch, seconds, imgPerSec: seen / trainSec,
      };
      epochs.push(m);
      if (config.run.checkpoint) {
        underFlag('--checkpoint-dir', ckptDir, () => saveCheckpoint(ckptDir, { runId, recipe: recipe as unknown as Record<string, unknown>, epoch: epoch + 1, step: globalStep, rngState: rng.getState(), epochs, trainSeconds }, collectTensors(model, opt)));
      }
      record = { ...record, epochs: recordEpochs(epochs) };
      recordPath = saveRecord(record);
      hooks.onEpoch?.(m, record);
    }

    // The trained model in PyTorch's (timm) layout, usable by `convmixer predict --weights` and by PyTorch itself.
    const weightsFile = config.run.checkpoint ? join(ckptDir, 'final.weights.safetensors') : null;
    if (weightsFile) underFlag('--checkpoint-dir', ckptDir, () => task.saveWeights(model, weightsFile, { runId, epochs: String(epochs.length) }));
    // The last epoch's metrics, then the best epoch by the task's primary metric (testAcc -> bestTestAcc).
    const primary = task.primary;
    const scores = epochs.map((e) => e[primary]).filter((a): a is number => typeof a === 'number');
    const best = scores.length ? Math.max(...scores) : null;
    const last = epochs[epochs.length - 1];
    const lastEval = Object.fromEntries(Object.keys(epochs[0] ?? {}).filter((k) => k.startsWith('test')).map((k) => [k, last?.[k] ?? null]));
    const finalExtra = config.evaluate && task.finalMetrics ? task.finalMetrics(model, config.evalBatchSize) : {};
    record = finishRunRecord({ ...record, epochs: recordEpochs(epochs) }, {
      [primary]: last?.[primary] ?? null,
      ...lastEval,
      [`best${primary[0]!.toUpperCase()}${primary.slice(1)}`]: best,
      bestEpoch: best === null ? null : epochs.find((e) => e[primary] === best)!.epoch,
      ...finalExtra,
      trainLoss: last?.trainLoss ?? null,
      trainSeconds,
      imgPerSec: epochs.length ? epochs.reduce((s, e) => s + e.imgPerSec, 0) / epochs.length : null,
      steps: globalStep,
      params: task.paramCount,
      // Relative to the repository, so records stay meaningful on other machines.
      weightsFile: weightsFile && repoRelative(weightsFile),
    });
    recordPath = saveRecord(record);
    opt.dispose();
    return { record, recordPath, model, epochs };
  } catch (err) {
    model.dispose();
    opt.dispose();
    // An unexpected error (not an interrupt or divergence, which saved the record as failed already) must not leave
    // the record saying 'running': it says failed, with the error's first line.
    const last = savedRecord?.();
    if (last && last.record.status === 'running') {
      const why = `stopped by an error: ${String((err as Error)?.message ?? err).split('\n')[0]}`;
      try {
        saveRecord(finishRunRecord({ ...last.record, notes: [last.record.notes, why].filter(Boolean).join('; ') }, { trainSeconds: last.trainSeconds, failure: 'error' }, 'failed'));
      } catch { /* the error that stopped the run is the one to report */ }
    }
    throw err;
  }
}
