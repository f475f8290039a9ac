// `convmixer params`: the trainable-parameter count of a ConvMixer (paper Eq. 4), as the paper rounds it and exact,
// with a per-layer breakdown; for named models also the count printed in the paper (reference data). Other registry
// families (ResNet, DeiT/ViT, Mixer/ResMLP): the count of the built variables grouped by module, and the paper's value.
import { numberFlag, parseFlags, type Command } from './args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, configFromFlags, describeConfig, type ModelFlagValues } from './modelFlags.ts';
import { MODELS, formatParamsAsPaper, paramBreakdown, paramCount, type ConvMixerConfig } from '../models/convmixer.ts';
import { PARAM_DISCREPANCIES, comparisonParamRows, convMixerParamRows, printedParamsText } from '../paper/tables.ts';
import { UserError } from '../errors.ts';
import { buildModel, countParams, isRegistered, listModels, modelFamily, modelInfo } from '../models/registry.ts';

const HELP = `usage: convmixer params [--model NAME | --dim D --depth N [--kernel K] [--patch P] [--classes C]] [--json]

Prints the trainable-parameter count (paper Eq. 4: d[depth(k^2+d+6) + 3p^2 + n + 3] + n) and a per-layer breakdown.
BatchNorm running statistics are not trainable and not counted, as in the paper.
--model also takes the comparison models of Tables 1 and 2 (with --classes C as the only override): their count is
that of the built variables (timm's architecture), grouped by module.

${MODEL_FLAGS_HELP}
  --json                  print {model, config, total, asPaper, layers, buffers, paper} as JSON

named ConvMixers: ${Object.keys(MODELS).join(', ')}
other models: ${listModels().filter((n) => !(n in MODELS)).join(', ')}`;

const fmt = (n: number): string => n.toLocaleString('en-US');

const sameConfig = (a: ConvMixerConfig, b: ConvMixerConfig): boolean => (Object.keys(a) as Array<keyof ConvMixerConfig>).every((k) => a[k] === b[k]);

/** The registry name of exactly this config (the given --model name first), if any. */
function registryName(config: ConvMixerConfig, given?: string): string | undefined {
  if (given && MODELS[given] && sameConfig(MODELS[given], config)) return given;
  return Object.entries(MODELS).find(([, c]) => sameConfig(c, config))?.[0];
}

export const command: Command = {
  summary: 'ConvMixer parameter count (equation 4) and per-layer breakdown',
  async run(argv) {
    const { values, help } = parseFlags<ModelFlagValues & { json?: boolean }>(argv, { ...MODEL_FLAGS, json: { type: 'boolean' } });
    if (help) {
      console.log(HELP);
      return 0;
    }
    if (values.model !== undefined && isRegistered(values.model) && modelFamily(values.model) !== 'convmixer') return familyParams(values);
    const config = configFromFlags(values);
    const name = registryName(config, values.model);
    const total = paramCount(config);
    const layers = paramBreakdown(config);
    const buffers = config.norm === 'batchnorm' ? 2 * config.dim * (1 + 2 * config.depth) : 0;
    const printed = name ? convMixerParamRows().filter((r) => r.model === name) : [];
    const paper = [...new Map(printed.map((r) => [r.where, {
      where: r.where,
      printed: printedParamsText(r),
      discrepancy: PARAM_DISCREPANCIES.find((d) => d.model === name)?.note ?? null,
    }])).values()];
    if (values.json) {
      console.log(JSON.stringify({ model: name ?? null, config, total, asPaper: formatParamsAsPaper(total), layers, buffers, paper }, null, 2));
      return 0;
    }
    console.log(describeConfig(config, name));
    console.log(`parameters: ${formatParamsAsPaper(total)} (${fmt(total)} trainable; paper Eq. 4)`);
    console.log('');
    const rows = layers.map((l) => [l.name, l.what, l.shapes.map((s) => `[${s.join(',')}]`).join(' '), fmt(l.params), `x${l.repeat}`, fmt(l.params * l.repeat)]);
    const head = ['layer', 'what', 'shapes (tfjs layout)', 'params', 'times', 'total'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(line(['', '', '', '', '', fmt(total)]));
    if (buffers) console.log(`\nBatchNorm running statistics: ${fmt(buffers)} values (not trainable, not counted)`);
    for (const p of paper) {
      console.log(`paper (reference value): ${p.printed} in ${p.where}${p.discrepancy ? ` -- DISCREPANCY with Eq. 4: ${p.discrepancy}` : ''}`);
    }
    return 0;
  },
};

interface ModuleParams { module: string; params: number; repeat: number; shapes: number[][] }

/**
 * Trainable parameters of a built model grouped by module: the key less its last part (weight, bias, ...), with the index
 * after `blocks.` / `layerN.` / `convmixN.` / `layers.S.blocks.` (Swin's stages) replaced by {i} so repeated blocks of the same
 * shapes form one row (x repeat); a block whose shapes differ (the first of a ResNet stage) gets its own row. Shapes are tfjs layouts.
 */
export function moduleBreakdown(params: Record<string, { shape: number[]; size: number }>): ModuleParams[] {
  const owners = new Map<string, { module: string; shapes: number[][]; params: number }>();
  for (const [key, v] of Object.entries(params)) {
    const parts = key.split('.');
    const owner = parts.length > 1 ? parts.slice(0, -1).join('.') : key;
    const m = /^((?:blocks|layer\d|convmix\d|layers\.\d+\.blocks)\.)(\d+)(.*)$/.exec(owner); // convmix{s}: ConvMixer-Unet's stages
    const o = owners.get(owner) ?? { module: m ? `${m[1]}{i}${m[3]}` : owner, shapes: [], params: 0 };
    o.shapes.push(v.shape);
    o.params += v.size;
    owners.set(owner, o);
  }
  const rows = new Map<string, ModuleParams & { first: string }>();
  for (const [owner, o] of owners) {
    const key = `${o.module} ${JSON.stringify(o.shapes)}`;
    const row = rows.get(key);
    if (row) row.repeat += 1;
    else rows.set(key, { module: o.module, params: o.params, repeat: 1, shapes: o.shapes, first: owner });
  }
  // A block that differs from its repeats (the first of a ResNet stage) is shown under its own index.
  const seen = new Map<string, number>();
  for (const r of rows.values()) seen.set(r.module, (seen.get(r.module) ?? 0) + 1);
  return [...rows.values()].map(({ first, ...r }) => (r.repeat === 1 && seen.get(r.module)! > 1 ? { ...r, module: first } : r));
}

/** `params --model NAME` for a non-ConvMixer registry model. */
function familyParams(values: ModelFlagValues & { json?: boolean }): number {
  const convMixerOnly = (['dim', 'depth', 'kernel', 'patch', 'activation', 'norm'] as const).filter((f) => values[f] !== undefined);
  if (convMixerOnly.length) throw new UserError(`--${convMixerOnly[0]} applies to ConvMixer models only (${values.model} is a ${modelFamily(values.model!)} model)`);
  const numClasses = numberFlag('classes', values.classes, { int: true, min: 1 });
  const info = modelInfo(values.model!, numClasses === undefined ? {} : { numClasses });
  const model = buildModel(info.name, { numClasses }, { init: 'zeros' }); // the variables, without drawing random numbers
  const total = countParams(model);
  const layers = moduleBreakdown(model.params);
  const buffers = Object.values(model.buffers).reduce((a, v) => a + v.size, 0);
  model.dispose();
  if (total !== info.paramCount) throw new Error(`internal: ${info.name} built ${total} parameters, formula ${info.paramCount}`);
  const paper = numClasses === undefined || numClasses === 1000
    ? [...new Map(comparisonParamRows().filter((r) => r.model === info.name).map((r) => [r.where, { where: r.where, printed: `${r.printed}M` }])).values()]
    : [];
  if (values.json) {
    console.log(JSON.stringify({ model: info.name, family: info.family, inTimm: info.inTimm, config: info.config, total,
      asPaper: formatParamsAsPaper(total), layers, buffers, defaultCfg: info.defaultCfg, paper }, null, 2));
    return 0;
  }
  console.log(`${info.name}: ${info.description}${info.inTimm ? ' (timm architecture)' : ' (not in timm; paper configuration)'}`);
  console.log(`parameters: ${formatParamsAsPaper(total)} (${fmt(total)} trainable, counted from the built variables)`);
  console.log('');
  const rows = layers.map((l) => [l.module, l.shapes.map((s) => `[${s.join(',')}]`).join(' '), fmt(l.params), `x${l.repeat}`, fmt(l.params * l.repeat)]);
  const head = ['module', 'shapes (tfjs layout)', 'params', 'times', 'total'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log(line(['', '', '', '', fmt(total)]));
  if (buffers) console.log(`\nBatchNorm running statistics: ${fmt(buffers)} values (not trainable, not counted)`);
  const c = info.defaultCfg;
  console.log(`default cfg: ${c.inputSize[1]}x${c.inputSize[2]}, crop_pct ${c.cropPct}, ${c.interpolation}, mean [${c.mean.join(', ')}], std [${c.std.join(', ')}] (${c.source})`);
  for (const p of paper) console.log(`paper (reference value): ${p.printed} in ${p.where}`);
  return 0;
}
