// `convmixer params`: the trainable-parameter count of a ConvMixer (paper Eq. 4), as the paper rounds it and exact,
// with a per-layer breakdown; for named models also the count printed in the paper (reference data).
import { parseFlags, type Command } from './args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, configFromFlags, describeConfig, type ModelFlagValues } from './modelFlags.ts';
import { MODELS, formatParamsAsPaper, paramBreakdown, paramCount, type ConvMixerConfig } from '../models/convmixer.ts';
import { PARAM_DISCREPANCIES, convMixerParamRows, printedParamsText } from '../paper/tables.ts';

const HELP = `usage: convmixer params [--model NAME | --dim D --depth N [--kernel K] [--patch P] [--classes C]] [--json]

Prints the trainable-parameter count (paper Eq. 4: d[depth(k^2+d+6) + 3p^2 + n + 3] + n) and a per-layer breakdown.
BatchNorm running statistics are not trainable and not counted, as in the paper.

${MODEL_FLAGS_HELP}
  --json                  print {model, config, total, asPaper, layers, buffers, paper} as JSON

named models: ${Object.keys(MODELS).join(', ')}`;

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
