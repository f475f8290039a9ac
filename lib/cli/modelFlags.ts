// Model-selection flags shared by `params`, `bench`, `train` and `predict`: a registry name, explicit sizes, or a name plus overrides.
import { UserError } from '../errors.ts';
import { resolveConfig, type ConvMixerConfig } from '../models/convmixer.ts';
import { modelInfo } from '../models/registry.ts';
import { choiceFlag, numberFlag, type FlagSpec } from './args.ts';

export const MODEL_FLAGS = {
  model: { type: 'string' },
  dim: { type: 'string' },
  depth: { type: 'string' },
  kernel: { type: 'string' },
  patch: { type: 'string' },
  classes: { type: 'string' },
  activation: { type: 'string' },
  norm: { type: 'string' },
} as const satisfies FlagSpec;

export const MODEL_FLAGS_HELP = [
  '  --model NAME            a named ConvMixer (e.g. convmixer_1536_20, convmixer_256_8_k5_p2); other flags override it',
  '  --dim D --depth N       width and depth (needed without --model)',
  '  --kernel K --patch P    depthwise kernel size (default 9), patch size (default 7)',
  '  --classes C             number of classes (default 1000)',
  '  --activation gelu|relu  --norm batchnorm|layernorm',
].join('\n');

export interface ModelFlagValues {
  model?: string; dim?: string; depth?: string; kernel?: string; patch?: string; classes?: string; activation?: string; norm?: string;
}

/** The config the flags describe; a one-line UserError naming the flag when they describe none. */
export function configFromFlags(values: ModelFlagValues): ConvMixerConfig {
  const overrides: Partial<ConvMixerConfig> = {
    dim: numberFlag('dim', values.dim, { int: true, min: 1 }),
    depth: numberFlag('depth', values.depth, { int: true, min: 0 }),
    kernelSize: numberFlag('kernel', values.kernel, { int: true, min: 1 }),
    patchSize: numberFlag('patch', values.patch, { int: true, min: 1 }),
    numClasses: numberFlag('classes', values.classes, { int: true, min: 1 }),
    activation: choiceFlag('activation', values.activation, ['gelu', 'relu'] as const),
    norm: choiceFlag('norm', values.norm, ['batchnorm', 'layernorm'] as const),
  };
  if (values.model !== undefined) {
    let info: ReturnType<typeof modelInfo>;
    try {
      info = modelInfo(values.model);
    } catch (err) {
      throw err instanceof UserError ? new UserError(`--model: ${err.message}`) : err;
    }
    if (info.family !== 'convmixer') throw new UserError(`--model: ${values.model} is a ${info.family} model; this command takes ConvMixer models only (\`convmixer params\` takes every family)`);
    try {
      return resolveConfig(info.name, overrides);
    } catch (err) {
      throw err instanceof UserError ? new UserError(`--model: ${err.message}`) : err;
    }
  }
  if (overrides.dim === undefined || overrides.depth === undefined) throw new UserError('give --model NAME, or --dim and --depth');
  return resolveConfig({}, overrides);
}

/** The registry name of a config when it is exactly a named one, else a descriptive name like ConvMixer-256/8 k9 p1. */
export function describeConfig(config: ConvMixerConfig, name?: string): string {
  const base = `ConvMixer-${config.dim}/${config.depth} k${config.kernelSize} p${config.patchSize}, ${config.numClasses} classes, ${config.activation}, ${config.norm}`;
  const residuals = `${config.residualDepthwise ? '' : ', no residual in Eq. 2'}${config.residualPointwise ? ', residual in Eq. 3' : ''}`;
  return `${name ? `${name}: ` : ''}${base}${residuals}`;
}
