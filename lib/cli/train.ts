// `convmixer train`: trains a ConvMixer on CIFAR-10 with the paper's recipe. A profile (smoke|quick|paper) sets every
// default; explicit flags override them, and the run record lists which keys were explicit.
import { resolve } from 'node:path';
import { parseFlags, numberFlag, choiceFlag, type FlagSpec, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { backendChoiceFrom, PRECISIONS } from '../backend/index.ts';
import { PROFILES, runIdProblem, type Profile } from '../runRecord.ts';
import { MODEL_FLAGS, configFromFlags } from './modelFlags.ts';
import { registryName } from '../models/convmixer.ts';
import { buildRecipe, FLAG_FOR_KEY, PROFILE_DEFAULTS, type RecipeOverrides, type TrainConfig, type RunOptions } from '../train/config.ts';
import { createProgressBar } from '../train/progress.ts';
import { stopOnSignals } from './interrupt.ts';
import { codeGitState } from '../runRecord.ts';

const TRAIN_FLAGS: FlagSpec = {
  profile: { type: 'string' }, experiment: { type: 'string' }, seed: { type: 'string' },
  'train-subset': { type: 'string' }, 'test-subset': { type: 'string' },
  epochs: { type: 'string' }, batch: { type: 'string' }, 'eval-batch': { type: 'string' },
  'lr-max': { type: 'string' }, wd: { type: 'string' }, 'decay-bias-norm': { type: 'string' },
  beta1: { type: 'string' }, beta2: { type: 'string' }, eps: { type: 'string' }, 'clip-norm': { type: 'string' },
  precision: { type: 'string' }, 'scale-min': { type: 'string' }, 'no-hflip': { type: 'boolean' },
  'ra-n': { type: 'string' }, 'ra-m': { type: 'string' }, 'ra-mstd': { type: 'string' }, jitter: { type: 'string' },
  mixup: { type: 'string' }, cutmix: { type: 'string' }, 'mixup-prob': { type: 'string' }, 'mixup-switch-prob': { type: 'string' },
  smoothing: { type: 'string' }, reprob: { type: 'string' }, remode: { type: 'string' },
  'no-eval': { type: 'boolean' }, 'run-id': { type: 'string' }, resume: { type: 'boolean' }, overwrite: { type: 'boolean' }, backend: { type: 'string' },
  'results-dir': { type: 'string' }, 'checkpoint-dir': { type: 'string' },
  'data-root': { type: 'string' }, 'no-checkpoint': { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
};

const USAGE = `usage: convmixer train [--profile smoke|quick|paper] [model flags] [recipe flags] [--run-id ID --resume]

Trains on CIFAR-10 (prepare it first: convmixer data cifar10 ...). Defaults come from --profile (default quick);
every flag below overrides one value. Writes reports/results/<run-id>.json (updated every epoch) and a checkpoint
per epoch under reports/checkpoints/<run-id>/; --resume --run-id ID continues a run bit for bit.

model:     --model NAME --dim N --depth N --kernel K --patch P --classes N --activation gelu|relu --norm batchnorm|layernorm
data:      --train-subset N (0 = all 50k) --test-subset N (0 = all 10k) --data-root DIR
schedule:  --epochs N --batch N --eval-batch N --lr-max LR (one-cycle: 0 -> LR at 2/5, LR/20 at 4/5, 0 at the end)
optimizer: --wd W --decay-bias-norm true|false --beta1 B --beta2 B --eps E --clip-norm C (0 = off)
precision: --precision fp32|bf16 (bf16: convolutions and matmuls take bfloat16 operands with fp32 accumulation, as
           PyTorch's CPU autocast; weights, optimizer, BatchNorm and loss stay fp32; native engine only)
augment:   --scale-min S --no-hflip --ra-n N (0 = off) --ra-m M --ra-mstd S --jitter J --mixup A --cutmix A
           --mixup-prob P --mixup-switch-prob P --smoothing S --reprob P --remode pixel|rand|const
run:       --seed N --experiment NAME --run-id ID --resume --overwrite (replace the record of a run id that has no checkpoint) --no-eval --no-checkpoint --backend auto|tensorflow|native|cpu (default: CONVMIXER_BACKEND or auto) --quiet
           --results-dir DIR (run record; default reports/results) --checkpoint-dir DIR (default reports/checkpoints)`;

type Values = Record<string, string | boolean | undefined>;

function boolFlag(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw new UserError(`--${name}: expected true or false, got '${raw}'`);
}

/** Turns parsed flags into the validated training config; exported for tests. */
export function trainConfigFromFlags(values: Values): TrainConfig {
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const num = (k: string, int = false): number | undefined => numberFlag(k, str(k), { int });
  const profile: Profile = choiceFlag('profile', str('profile'), PROFILES) ?? 'quick';
  const defaults = PROFILE_DEFAULTS[profile];

  const o: RecipeOverrides = {};
  const set = <K extends keyof RecipeOverrides>(key: K, v: RecipeOverrides[K] | undefined): void => { if (v !== undefined) o[key] = v; };
  set('experiment', str('experiment'));
  set('seed', num('seed', true));
  set('trainSubset', num('train-subset', true));
  set('testSubset', num('test-subset', true));
  set('epochs', num('epochs', true));
  set('batchSize', num('batch', true));
  set('evalBatchSize', num('eval-batch', true));
  set('lrMax', num('lr-max'));
  set('weightDecay', num('wd'));
  set('decayBiasAndNorm', boolFlag('decay-bias-norm', str('decay-bias-norm')));
  set('beta1', num('beta1'));
  set('beta2', num('beta2'));
  set('eps', num('eps'));
  set('clipNorm', num('clip-norm'));
  set('precision', choiceFlag('precision', str('precision'), PRECISIONS));
  if (values['no-eval']) o.evaluate = false;

  const a: NonNullable<RecipeOverrides['augment']> = {};
  const setA = <K extends keyof typeof a>(key: K, v: (typeof a)[K] | undefined): void => { if (v !== undefined) a[key] = v; };
  setA('scaleMin', num('scale-min'));
  if (values['no-hflip']) a.hflip = false;
  const raN = num('ra-n', true), raM = num('ra-m'), raMstd = num('ra-mstd');
  if (raN !== undefined || raM !== undefined || raMstd !== undefined) {
    const base = defaults.augment.randAugment ?? { n: 2, m: 9, mstd: 0.5 };
    a.randAugment = raN === 0 ? null : { n: raN ?? base.n, m: raM ?? base.m, mstd: raMstd ?? base.mstd };
  }
  setA('colorJitter', num('jitter'));
  setA('mixupAlpha', num('mixup'));
  setA('cutmixAlpha', num('cutmix'));
  setA('mixupProb', num('mixup-prob'));
  setA('mixupSwitchProb', num('mixup-switch-prob'));
  setA('labelSmoothing', num('smoothing'));
  setA('reprob', num('reprob'));
  const remode = str('remode');
  if (remode !== undefined) setA('remode', remode as 'pixel');
  if (Object.keys(a).length) o.augment = a;

  // Model: the profile's default model unless model flags are given; flags not given keep the profile's values.
  const modelFlagNames = Object.keys(MODEL_FLAGS);
  if (modelFlagNames.some((f) => values[f] !== undefined)) {
    const merged: Values = { ...values };
    if (merged['model'] === undefined) {
      merged['model'] = defaults.modelName;
      for (const [key, v] of Object.entries(defaults.modelOverrides)) {
        const flag = FLAG_FOR_KEY[`model.${key}`];
        if (flag && merged[flag] === undefined) merged[flag] = String(v);
      }
    }
    o.model = configFromFlags(merged as never);
    // The registry name of the config actually trained (--model convmixer_128_4 --kernel 5 is not convmixer_128_4), else null.
    o.modelName = registryName(o.model);
  }

  const recipe = buildRecipe(profile, o);
  // --backend, else CONVMIXER_BACKEND, else auto (the one rule bench and backend follow too).
  const backend = backendChoiceFrom(str('backend'));
  const runId = str('run-id');
  const badId = runId === undefined ? null : runIdProblem(runId);
  if (badId) throw new UserError(`--run-id: ${badId}`);
  if (values['resume'] && runId === undefined) throw new UserError('--resume: needs --run-id ID (the folder name under reports/checkpoints/)');
  const runOnly = new Set(['run-id', 'resume', 'overwrite', 'backend', 'data-root', 'no-checkpoint', 'quiet', 'profile', 'results-dir', 'checkpoint-dir']);
  const run: RunOptions = {
    runId, resume: values['resume'] === true, dataRoot: str('data-root'), backend,
    explicit: Object.keys(values).filter((k) => values[k] !== undefined && !runOnly.has(k)).sort(),
    checkpoint: values['no-checkpoint'] !== true, overwrite: values['overwrite'] === true,
  };
  // `--resume --run-id ID` with no recipe flags (and no --profile) continues with the checkpoint's own recipe.
  run.useSavedRecipe = run.resume && run.explicit.length === 0 && values['profile'] === undefined;
  return { ...recipe, run };
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`;
}

/** `convmixer train` arguments -> validated config (what the command runs), without running it. */
export function trainConfigFromArgv(argv: string[]): TrainConfig {
  return trainConfigFromFlags(parseFlags<Values>(argv, { ...MODEL_FLAGS, ...TRAIN_FLAGS }).values);
}

export const command: Command = {
  summary: 'train a ConvMixer with the paper recipe; writes a run record',
  async run(argv) {
    const { values, help } = parseFlags<Values>(argv, { ...MODEL_FLAGS, ...TRAIN_FLAGS });
    if (help) {
      console.log(USAGE);
      return 0;
    }
    const config = trainConfigFromFlags(values);
    config.run.command = ['convmixer', 'train', ...argv];
    const { trainRun } = await import('../train/loop.ts');
    const m = config.model;
    if (config.run.useSavedRecipe) console.log(`train: resuming run ${config.run.runId} with the recipe saved in its checkpoint`);
    else console.log(`train: ${config.modelName ?? 'custom'} (dim ${m.dim}, depth ${m.depth}, kernel ${m.kernelSize}, patch ${m.patchSize}, ${m.activation}, ${m.norm}), ` +
      `profile ${config.profile}, ${config.epochs} epochs, batch ${config.batchSize}, lr-max ${config.lrMax}, wd ${config.weightDecay}, seed ${config.seed}`);
    const bar = values['quiet'] ? null : createProgressBar();
    codeGitState(); // the commit of the code this process loaded, for every record it writes
    const stop = stopOnSignals(`continue with --resume --run-id ${config.run.runId ?? 'ID'}`);
    try {
      const dir = (flag: string): string | undefined => (typeof values[flag] === 'string' ? resolve(values[flag] as string) : undefined);
      const result = await trainRun(config, {
        resultsDir: dir('results-dir'),
        checkpointRoot: dir('checkpoint-dir'),
        signal: stop.signal,
        log: (line) => { bar?.clear(); console.log(line); },
        onProgress: bar ? (p) => bar.update(p) : undefined,
        onEpoch: (e, record) => {
          bar?.clear();
          console.log(`epoch ${e.epoch}/${record.config['epochs']}  lr ${e.lr.toPrecision(3)}  train loss ${e.trainLoss.toFixed(4)}  ` +
            `test loss ${e.testLoss === null ? '-' : e.testLoss.toFixed(4)}  test acc ${pct(e.testAcc)}  ${e.seconds.toFixed(1)} s  ${e.imgPerSec.toFixed(1)} img/s`);
        },
      });
      const r = result.record.metrics;
      console.log(`finished: test acc ${pct(r['testAcc'] as number | null)} (best ${pct(r['bestTestAcc'] as number | null)} at epoch ${r['bestEpoch'] ?? '-'}), ` +
        `${(r['trainSeconds'] as number).toFixed(0)} s of training`);
      console.log(`run record: ${result.recordPath}`);
      if (r['weightsFile']) console.log(`weights: ${r['weightsFile']} (convmixer predict --weights ...)`);
      result.model.dispose();
      return 0;
    } finally {
      bar?.clear();
      stop.dispose();
    }
  },
};
