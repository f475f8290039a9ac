// The "# Params" columns of the paper's Tables 1, 2 and 4 reproduced three ways: as printed (reference value),
// by equation 4 (paramCount), and by counting the trainable variables of a built model. Building the ImageNet-size
// models just to count them is slow and heavy, so only models under `buildLimit` parameters are built.
// Also: learning curves of training records, as plotly figures.
import { MODELS, countTrainable, createModel, formatParamsAsPaper, paramCount, registryName, type ConvMixerConfig } from '../models/convmixer.ts';
import { countParams, createModel as createRegistryModel, modelInfo } from '../models/registry.ts';
import { PARAM_DISCREPANCIES, comparisonParamRows, convMixerParamRows, printedParamsText } from '../paper/tables.ts';
import type { RunRecord } from '../runRecord.ts';
import { lineFigure, type Figure } from './plots.ts';
import type { Badge } from './tables.ts';

export interface ParamsRow {
  where: string;
  model: string;
  /** As printed in the paper (reference value), e.g. '51.6M'. */
  printed: string;
  /** Equation 4, exact. */
  eq4: number;
  /** Equation 4 rounded the way the paper rounds that table. */
  eq4AsPrinted: string;
  /** Trainable parameters of the built model; null when not built (over buildLimit). */
  built: number | null;
  status: Badge;
  note: string;
}

/**
 * The input resolution the paper uses for a configuration: a named model's default cfg input size (registry: ImageNet
 * ConvMixers of Tables 1 and 2 at 224 x 224, CIFAR-10 ones of Tables 3 and 4 at 32 x 32). An unnamed config falls back
 * to its class count (1000: ImageNet-1k, 224; 10: CIFAR-10, 32).
 */
export function paperInputSize(config: { numClasses: number } & Partial<ConvMixerConfig>): number {
  const name = registryName(config as ConvMixerConfig);
  if (name) return modelInfo(name).defaultCfg.inputSize[1];
  if (config.numClasses === 1000) return 224;
  if (config.numClasses === 10) return 32;
  throw new Error(`no input size in the paper for a model with ${config.numClasses} classes (it uses ImageNet-1k: 1000, CIFAR-10: 10)`);
}

/** Every printed ConvMixer "# Params" value of Tables 1, 2 and 4 (and the Appendix B text) against Eq. 4 and the built model. */
export function paramsTable(opts: { buildLimit?: number; tables?: string[] } = {}): ParamsRow[] {
  const limit = opts.buildLimit ?? 2e6;
  const builtCache = new Map<string, number>();
  const rows = convMixerParamRows().filter((r) => !opts.tables || opts.tables.some((t) => r.where.startsWith(t)));
  return rows.map((r) => {
    const config = MODELS[r.model];
    if (!config) throw new Error(`paper row '${r.where}' names model '${r.model}', which is not in MODELS`);
    const eq4 = paramCount(config);
    const printed = printedParamsText(r);
    const eq4AsPrinted = formatParamsAsPaper(eq4, r.unit);
    let built: number | null = null;
    if (eq4 <= limit) {
      if (!builtCache.has(r.model)) {
        const model = createModel(r.model, undefined, { seed: 0 });
        builtCache.set(r.model, countTrainable(model));
        model.dispose();
      }
      built = builtCache.get(r.model)!;
    }
    const known = PARAM_DISCREPANCIES.find((d) => d.model === r.model);
    const matches = eq4AsPrinted === printed && (built === null || built === eq4);
    const status: Badge = matches ? 'matches' : 'discrepancy';
    const note = built !== null && built !== eq4 ? `built model has ${built}, Eq. 4 gives ${eq4}` : !matches ? (known?.note ?? 'printed value differs from Eq. 4') : '';
    return { where: r.where, model: r.model, printed, eq4, eq4AsPrinted, built, status, note };
  });
}

/** Test accuracy (%) and training loss per epoch of training records, one trace per run. */
export function learningCurveFigures(records: RunRecord[]): { accuracy: Figure; loss: Figure } {
  const runs = records.filter((r) => (r.epochs?.length ?? 0) > 0);
  const label = (r: RunRecord) => `${r.id} (${r.profile}${r.status === 'finished' ? '' : `, ${r.status}`})`;
  const accuracy = lineFigure(runs.map((r) => ({
    name: label(r),
    x: r.epochs!.map((e) => e.epoch!),
    y: r.epochs!.map((e) => (typeof e.testAcc === 'number' ? Math.round(e.testAcc * 1e4) / 100 : null)),
  })), { title: 'Test accuracy per epoch', xTitle: 'epoch', yTitle: 'test accuracy (%)' });
  const loss = lineFigure(runs.map((r) => ({
    name: label(r),
    x: r.epochs!.map((e) => e.epoch!),
    y: r.epochs!.map((e) => (typeof e.trainLoss === 'number' ? e.trainLoss : null)),
  })), { title: 'Training loss per epoch', xTitle: 'epoch', yTitle: 'train loss (soft-target CE)' });
  return { accuracy, loss };
}

/** One comparison row of Tables 1 and 2 (ResNet, DeiT, ViT, Mixer, ResMLP, Swin): printed "# Params" vs the built model's. */
export interface ComparisonParamsRow {
  where: string;
  model: string;
  /** In timm under this name (false: the paper's own variant, e.g. DeiT with 7x7 patches). */
  inTimm: boolean;
  /** As printed, millions (reference value). */
  printed: number;
  /** Trainable parameters of the built model (the registry's, equal to timm's implementation). */
  built: number;
  status: Badge;
  note: string;
}

/**
 * The comparison models' printed counts against the built models (built with zero init: only shapes matter). The paper
 * rounds most to one decimal, some to whole millions, and truncates others (86M for 86.57M): a printed value matches
 * when it is any of these.
 */
export function comparisonParamsTable(): ComparisonParamsRow[] {
  return comparisonParamRows().map((r) => {
    const model = createRegistryModel(r.model, {}, { init: 'zeros' });
    const built = countParams(model);
    model.dispose();
    const m = built / 1e6;
    const matches = Math.round(m * 10) / 10 === r.printed || (Number.isInteger(r.printed) && (Math.floor(m) === r.printed || Math.round(m) === r.printed));
    // rounded to two decimals first, then to one (44.549 -> 44.55 -> 44.6)
    const doubleRounded = Math.round(Math.round(m * 100) / 10) / 10 === r.printed;
    return {
      where: r.where, model: r.model, inTimm: modelInfo(r.model).inTimm, printed: r.printed, built,
      status: matches ? 'matches' : 'discrepancy',
      note: matches ? '' : `built ${(built / 1e6).toFixed(3)}M; the printed ${r.printed}M is neither its rounding nor its truncation${doubleRounded ? ' (rounding twice, to 2 then 1 decimals, gives it)' : ''}`,
    };
  });
}
