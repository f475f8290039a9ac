// What notebooks 02 (Table 3) and 03 (Table 4) show: every run of a table as a flat row (for danfojs to aggregate
// over seeds), the paper's effects with the reproduced difference and whether it exceeds the seed spread, and the
// figures (accuracy vs parameters, vs kernel size, vs patch size). Numbers come from run records; paper values are
// reference data from lib/paper/tables.ts.
import { experimentTable, tableStatus, type Dirs, type RowStatus } from '../experiments/runner.ts';
import { PILOT_EPOCHS, PILOT_SEEDS } from '../experiments/pilot.ts';
import { QUICK_CIFAR_PROTOCOL } from '../experiments/protocol.ts';
import { rowRecipe } from '../experiments/table.ts';
import { paramCount } from '../models/convmixer.ts';
import type { Profile, RunRecord } from '../runRecord.ts';
import { round, signedPoints } from './format.ts';
import { lineFigure, scatterFigure, type Figure } from './plots.ts';

/** One run of one row (a row that is another row's run shows that run). Accuracies in percent. */
export interface CifarRun {
  table: string;
  row: string;
  label: string;
  group: string;
  seed: number;
  state: string;
  /** Final test accuracy (%), finished runs only. */
  acc: number | null;
  /** The paper's accuracy for the row (%, reference). */
  paper: number | null;
  params: number;
  width: number;
  depth: number;
  kernel: number;
  patch: number;
  weightDecay: number;
  runId: string;
  epochsDone: number;
  epochs: number;
}

export interface CifarTableView {
  id: string;
  title: string;
  profile: Profile;
  seeds: number;
  /** What the profile shrinks, and why (the protocol's own words). */
  protocol: string;
  rows: RowStatus[];
  runs: CifarRun[];
  /** The finished run records, for learning curves. */
  records: RunRecord[];
}

/** A table at a profile: its rows' states and every run, from the run records in `dirs`. */
export function cifarTableView(tableId: string, profile: Profile, seeds: number, dirs: Dirs = {}): CifarTableView {
  const table = experimentTable(tableId);
  const rows = tableStatus(table, profile, seeds, dirs);
  const runs: CifarRun[] = [];
  const records: RunRecord[] = [];
  for (const [i, r] of rows.entries()) {
    const recipe = rowRecipe(table, table.rows[i]!, profile, 0);
    for (const run of r.runs) {
      runs.push({
        table: table.id, row: r.id, label: r.label, group: r.group, seed: run.seed, state: run.state,
        acc: run.testAcc === null ? null : 100 * run.testAcc, paper: r.paper, params: paramCount(recipe.model),
        width: recipe.model.dim, depth: recipe.model.depth, kernel: recipe.model.kernelSize, patch: recipe.model.patchSize,
        weightDecay: recipe.weightDecay, runId: run.runId, epochsDone: run.epochsDone, epochs: run.epochs,
      });
      if (run.record && run.state === 'finished' && !records.some((x) => x.id === run.record!.id)) records.push(run.record);
    }
  }
  return { id: table.id, title: table.title, profile, seeds, protocol: table.protocols[profile].why, rows, runs, records };
}

/** An effect the paper reports: accuracy of row `a` minus accuracy of row `b` (paper sign = the claim). */
export interface Effect {
  id: string;
  claim: string;
  a: { table: string; row: string };
  b: { table: string; row: string };
}

const t3 = (row: string) => ({ table: 'table3', row });
const t4 = (row: string) => ({ table: 'table4', row });
const ABLATIONS: Array<[string, string]> = [
  ['no-residual-eq2', '– residual in Eq. 2 hurts'], ['residual-eq3', '+ residual in Eq. 3 hurts'], ['layernorm', 'LayerNorm instead of BatchNorm hurts'],
  ['relu', 'ReLU instead of GELU hurts (slightly)'], ['no-mixup-cutmix', '– mixup and CutMix: no effect (+0.04)'], ['no-random-erasing', '– random erasing hurts'],
  ['no-randaug', '– RandAugment hurts (3 points)'], ['no-random-scaling', '– random scaling hurts (10 points)'], ['no-grad-clip', '– gradient-norm clipping hurts (10 points)'],
];

export const TABLE3_EFFECTS: Effect[] = ABLATIONS.map(([row, claim]) => ({ id: row, claim, a: t3(row), b: t3('baseline') }));

export const TABLE4_EFFECTS: Effect[] = [
  { id: 'kernel-3-vs-9', claim: 'kernel 3 < kernel 9 (patch 1)', a: t4('k3-p1'), b: t4('k9-p1') },
  { id: 'kernel-15-vs-9', claim: 'kernel 15 ≥ kernel 9 (patch 1)', a: t4('k15-p1'), b: t4('k9-p1') },
  { id: 'kernel-3-vs-7-p2', claim: 'kernel 3 < kernel 7 (patch 2)', a: t4('k3-p2'), b: t4('k7-p2') },
  { id: 'patch-2-vs-1', claim: 'patch 2 < patch 1 (0.9 points)', a: t4('p2-k9'), b: t4('k9-p1') },
  { id: 'patch-4-vs-1', claim: 'patch 4 << patch 1', a: t4('p4-k9'), b: t4('k9-p1') },
  { id: 'patch-8-vs-1', claim: 'patch 8 << patch 1 (10 points)', a: t4('p8-k9'), b: t4('k9-p1') },
  { id: 'depth-8-vs-4', claim: 'deeper helps: 256/8 > 256/4', a: t4('w256-d8'), b: t4('w256-d4') },
  { id: 'depth-16-vs-8', claim: 'deeper helps: 256/16 > 256/8', a: t4('w256-d16'), b: t4('w256-d8') },
  { id: 'width-256-vs-128', claim: 'wider helps: 256/8 > 128/8', a: t4('w256-d8'), b: t4('w128-d8') },
  { id: 'weight-decay', claim: 'tuned weight decay helps (+0.15; row 2 of its section)', a: t4('wd2-p1'), b: t4('k9-p1') },
  { id: 'appendix-k9-vs-k3-deeper', claim: 'Appendix B: 256/8 k9 > 256/10 k3 at about equal parameters', a: t4('k9-p1'), b: t4('w256-d10-k3') },
];

export type Verdict = 'reproduced' | 'opposite' | 'within seed spread' | 'too few seeds' | 'not run';

export interface EffectResult extends Effect {
  /** Paper delta in points (reference). */
  paperDelta: number | null;
  /** Reproduced delta (mean a - mean b), points. */
  delta: number | null;
  /** Standard error of that difference from the seeds' sample std: sqrt(sa^2/na + sb^2/nb). */
  se: number | null;
  /** The difference within each seed that both rows finished (points): rows of one seed share the data order and the
   * test images, so consistent per-seed differences show an effect the unpaired SE may hide. Shown, not used by the verdict. */
  seedDeltas: number[];
  verdict: Verdict;
  /** Seeds per row at which EFFECT_SE_FACTOR standard errors of a difference, at the pooled seed spread of the rows
   * given (pooledSeedStd), fall below the paper's |Δ|: how many seeds this profile would need to resolve the paper's effect. */
  seedsToResolve: number | null;
}

/** How many standard errors a difference must exceed to count as reproduced (or as the opposite). */
export const EFFECT_SE_FACTOR = 2;

/**
 * Each effect with its reproduced difference and verdict: 'reproduced' when the sign is the paper's and the difference
 * exceeds EFFECT_SE_FACTOR standard errors of the difference over seeds; 'opposite' when it exceeds them with the other
 * sign; 'within seed spread' otherwise. Rows are looked up by table and row id (a row that is another row's run
 * reports that run).
 */
export function effectResults(effects: Effect[], rows: RowStatus[]): EffectResult[] {
  const find = (ref: { table: string; row: string }) => rows.find((r) => r.table === ref.table && r.id === ref.row);
  const spread = pooledSeedStd(rows);
  return effects.map((e) => {
    const a = find(e.a), b = find(e.b);
    const paperDelta = a?.paper != null && b?.paper != null ? a.paper - b.paper : null;
    const seedsToResolve = paperDelta === null || spread === null ? null : seedsToResolveDelta(paperDelta, spread);
    const base = { ...e, paperDelta, seedsToResolve };
    if (!a || !b || a.value === null || b.value === null) return { ...base, delta: null, se: null, seedDeltas: [], verdict: 'not run' as const };
    const delta = a.value - b.value;
    const seedDeltas = a.runs.flatMap((ra) => {
      const rb = b.runs.find((x) => x.seed === ra.seed);
      return ra.state === 'finished' && ra.score !== null && rb?.state === 'finished' && rb.score !== null ? [100 * (ra.score - rb.score)] : [];
    });
    if (a.std === null || b.std === null) return { ...base, delta, se: null, seedDeltas, verdict: 'too few seeds' as const };
    const se = Math.sqrt(a.std ** 2 / a.seedsFinished + b.std ** 2 / b.seedsFinished);
    const clear = Math.abs(delta) > EFFECT_SE_FACTOR * se;
    const verdict: Verdict = !clear || paperDelta === null ? 'within seed spread' : Math.sign(delta) === Math.sign(paperDelta) ? 'reproduced' : 'opposite';
    return { ...base, delta, se, seedDeltas, verdict };
  });
}

/**
 * The seed spread of a profile as one number: the pooled sample std over seeds (points) of the rows with at least two
 * finished seeds, Σ(n-1)s² / Σ(n-1) under the root. Rows that report the same run (Table 3's baseline is Table 4's
 * k9 row) count once. Null when no row has two seeds.
 */
export function pooledSeedStd(rows: RowStatus[]): number | null {
  let sum = 0, dof = 0;
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.runOf.table}/${r.runOf.row}`;
    if (seen.has(key) || r.std === null || r.seedsFinished < 2) continue;
    seen.add(key);
    sum += (r.seedsFinished - 1) * r.std ** 2;
    dof += r.seedsFinished - 1;
  }
  return dof === 0 ? null : Math.sqrt(sum / dof);
}

/** The smallest difference of two row means with `seeds` seeds each that counts at seed std s: F·s·√(2/n), F = EFFECT_SE_FACTOR. */
export function minResolvableDelta(seedStd: number, seeds: number): number {
  return EFFECT_SE_FACTOR * seedStd * Math.sqrt(2 / seeds);
}

/**
 * Seeds per row (at least 2) at which minResolvableDelta falls below |delta|, F·s·√(2/n) < |delta| solved for n:
 * n > 2(F·s/delta)². Infinite for a zero delta.
 */
export function seedsToResolveDelta(delta: number, seedStd: number): number {
  if (delta === 0) return Infinity;
  return Math.max(2, Math.floor(2 * (EFFECT_SE_FACTOR * seedStd / delta) ** 2) + 1);
}

/** The notebooks' effect table, one record per effect (keys are the column headers; paper values marked as reference). */
export function effectTableRows(effects: EffectResult[]): Array<Record<string, string | number | null>> {
  return effects.map((e) => ({
    'Effect the paper reports': e.claim, 'Paper Δ (points) [reference]': signedPoints(e.paperDelta), 'Reproduced Δ': signedPoints(e.delta),
    'Δ per seed': e.seedDeltas.map((d) => signedPoints(d)).join(', '), [`${EFFECT_SE_FACTOR} × SE`]: e.se === null ? null : round(EFFECT_SE_FACTOR * e.se), 'Verdict': e.verdict,
    'Seeds per row to resolve the paper Δ': e.seedsToResolve === null ? null : Number.isFinite(e.seedsToResolve) ? e.seedsToResolve : '∞',
  }));
}

/**
 * What the effect table says in prose: the tally of verdicts, each effect that did not reproduce with both numbers,
 * and the seed spread of the rows (pooledSeedStd) with what it means for effects the size of the paper's.
 */
export function effectSummaryLines(effects: EffectResult[], rows: RowStatus[]): string[] {
  const tally = new Map<Verdict, number>();
  for (const e of effects) tally.set(e.verdict, (tally.get(e.verdict) ?? 0) + 1);
  const lines = [`Of ${effects.length} effects: ${[...tally].map(([k, v]) => `${v} ${k}`).join(', ')}.`];
  for (const e of effects.filter((x) => x.verdict !== 'reproduced' && x.verdict !== 'not run')) {
    lines.push(`- not reproduced (${e.verdict}): ${e.claim}; paper ${signedPoints(e.paperDelta)}, here ${signedPoints(e.delta)}${e.se === null ? '' : ` (${EFFECT_SE_FACTOR} SE ${(EFFECT_SE_FACTOR * e.se).toFixed(2)})`}`);
  }
  const spread = pooledSeedStd(rows);
  if (spread !== null) {
    // The threshold for the rows with the fewest seeds among those the spread comes from (rows with two or more).
    const counts = rows.map((r) => r.seedsFinished).filter((n) => n >= 2);
    const seeds = Math.min(...counts);
    const perRow = counts.every((n) => n === seeds) ? `${seeds} seeds per row` : `${seeds} seeds per row (the fewest of any row with two or more)`;
    lines.push(`Seed spread: pooled std over seeds ${spread.toFixed(2)} points, so with ${perRow} a difference must exceed ` +
      `${minResolvableDelta(spread, seeds).toFixed(2)} points to count. The last column is the seeds per row an effect of the paper's size would need at this spread.`);
  }
  return lines;
}

/** The verdict rule as a sentence generated from EFFECT_SE_FACTOR, so the notebooks' text cannot drift from the code. */
export function effectRuleMarkdown(): string {
  return `An effect counts as **reproduced** only when the reproduced difference has the paper's sign and exceeds ` +
    `${EFFECT_SE_FACTOR} standard errors of the difference over seeds (√(s_a²/n_a + s_b²/n_b), sample std over seeds); ` +
    `**opposite** when it exceeds them with the other sign; otherwise it is **within seed spread**.`;
}

/** Mean accuracy per finished row vs trainable parameters, one colour per group, and the paper's rows (reference). */
export function accuracyVsParamsFigure(view: CifarTableView): Figure {
  const pts = view.rows.flatMap((r) => {
    const run = view.runs.find((x) => x.row === r.id)!;
    const ours = r.value === null ? [] : [{ label: `${r.label}: ${r.value.toFixed(2)}% (${r.seedsFinished} seeds)`, x: run.params, y: r.value, group: `${r.group} (${view.profile})` }];
    const paper = r.paper === null ? [] : [{ label: `${r.label}: paper ${r.paper}%`, x: run.params, y: r.paper, group: 'paper (reference)' }];
    return [...ours, ...paper];
  });
  return scatterFigure(pts, { title: `Accuracy vs parameters (${view.profile} profile and the paper)`, xTitle: 'trainable parameters', yTitle: 'test accuracy (%), mean over seeds', logX: true });
}

function seriesBy(view: CifarTableView, pick: (run: CifarRun) => number | null, rowsOf: string[]): { x: number[]; ours: (number | null)[]; paper: (number | null)[] } {
  const pts = rowsOf.map((id) => {
    const r = view.rows.find((x) => x.id === id)!;
    const run = view.runs.find((x) => x.row === id)!;
    return { x: pick(run)!, ours: r.value, paper: r.paper };
  }).sort((p, q) => p.x - q.x);
  return { x: pts.map((p) => p.x), ours: pts.map((p) => p.ours), paper: pts.map((p) => p.paper) };
}

/** Accuracy vs kernel size at patch 1 and patch 2: ours (mean over seeds) and the paper's (reference). */
export function accuracyVsKernelFigure(view: CifarTableView): Figure {
  const p1 = seriesBy(view, (r) => r.kernel, view.rows.filter((r) => r.group === 'kernel-p1').map((r) => r.id));
  const p2 = seriesBy(view, (r) => r.kernel, view.rows.filter((r) => r.group === 'kernel-p2').map((r) => r.id));
  return lineFigure([
    { name: `patch 1 (${view.profile})`, x: p1.x, y: p1.ours }, { name: `patch 2 (${view.profile})`, x: p2.x, y: p2.ours },
    { name: 'patch 1, paper (reference)', x: p1.x, y: p1.paper }, { name: 'patch 2, paper (reference)', x: p2.x, y: p2.paper },
  ], { title: 'Accuracy vs kernel size (ConvMixer-256/8)', xTitle: 'depthwise kernel size', yTitle: 'test accuracy (%)' });
}

/** Accuracy vs patch size at kernel 9: ours and the paper's (reference). */
export function accuracyVsPatchFigure(view: CifarTableView): Figure {
  const ids = ['k9-p1', ...view.rows.filter((r) => r.group === 'patch').map((r) => r.id)];
  const s = seriesBy(view, (r) => r.patch, ids);
  return lineFigure([{ name: `${view.profile} profile`, x: s.x, y: s.ours }, { name: 'paper (reference)', x: s.x, y: s.paper }],
    { title: 'Accuracy vs patch size (ConvMixer-256/8, kernel 9)', xTitle: 'patch size', yTitle: 'test accuracy (%)' });
}

/** The pilot's effects at one budget: each pilot row against the baseline trained for the same number of epochs. */
export function pilotEffects(rows: RowStatus[], epochs: readonly number[]): Array<EffectResult & { epochs: number; ratio: number | null }> {
  return epochs.flatMap((e) => {
    const ref = (row: string) => ({ table: 'pilot', row: `${row}-e${e}` });
    const effects: Effect[] = [
      { id: `k3-e${e}`, claim: 'kernel 3 < kernel 9', a: ref('k3-p1'), b: ref('baseline') },
      { id: `p8-e${e}`, claim: 'patch 8 << patch 1', a: ref('p8'), b: ref('baseline') },
      { id: `no-randaug-e${e}`, claim: '– RandAugment hurts', a: ref('no-randaug'), b: ref('baseline') },
    ];
    return effectResults(effects, rows).map((r) => ({ ...r, epochs: e, ratio: r.delta !== null && r.se ? Math.abs(r.delta) / r.se : null }));
  });
}

/**
 * How each pilot effect changes with the training budget, one line per effect, for the tables' effect sections: an
 * effect that is within seed spread at the quick protocol's budget may resolve at a longer one (or reverse), and the
 * reader should see that next to the table's verdict. `only` picks effects by id ('k3', 'p8', 'no-randaug').
 */
export function pilotTrendLines(effects: ReturnType<typeof pilotEffects>, only?: readonly string[]): string[] {
  const base = (id: string) => id.replace(/-e\d+$/, '');
  const ids = [...new Set(effects.map((e) => base(e.id)))].filter((id) => !only || only.includes(id));
  return ids.map((id) => {
    const at = effects.filter((e) => base(e.id) === id).sort((a, b) => a.epochs - b.epochs);
    const steps = at.map((e) => `${e.epochs} epoch${e.epochs > 1 ? 's' : ''} ${e.delta === null ? 'not run' : `${signedPoints(e.delta)} (${e.verdict})`}`);
    return `${at[0]!.claim} (paper ${signedPoints(at[0]!.paperDelta)}): ${steps.join('; ')}`;
  });
}

/** The pilot's trend lines for some effects, as the tables' notebooks print them (quick profile: the pilot's runs). */
export function pilotTrendText(only: readonly string[], dirs: Dirs = {}): string {
  const pilot = cifarTableView('pilot', 'quick', PILOT_SEEDS, dirs);
  const lines = pilotTrendLines(pilotEffects(pilot.rows, PILOT_EPOCHS), only);
  return `The same effects in the pilot, by training budget (the quick protocol trains ${QUICK_CIFAR_PROTOCOL.epochs} epochs):\n` + lines.map((l) => `- ${l}`).join('\n');
}

/** Mean training seconds of a row's finished runs (what one run of it costs here), from the run records. */
export function meanTrainSeconds(row: RowStatus): number | null {
  const secs = row.runs.flatMap((r) => (r.state === 'finished' && typeof r.record?.metrics['trainSeconds'] === 'number' ? [r.record.metrics['trainSeconds'] as number] : []));
  return secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : null;
}

/** The wall-time budget of all runs of Tables 3 and 4 with 2 seeds on the 2-core machine (the issue's "about 20 hours"). */
export const QUICK_TABLES_HOURS = 20;

export interface PilotBudget {
  epochs: number;
  /** Mean over the pilot's effects of |Δ| / SE at this budget; null until every effect has 2+ seeds on both sides. */
  score: number | null;
  /** Estimated hours of every distinct run of Tables 3 and 4 with 2 seeds at this budget; null without a cost model. */
  hours: number | null;
  fits: boolean;
}

/**
 * The pilot's rule, fixed before its last runs were in (commit history): a budget is affordable when all of Tables 3
 * and 4 with 2 seeds are estimated to train within QUICK_TABLES_HOURS here; among those, the quick protocol takes the
 * one whose effects are largest relative to the seed spread (mean |Δ| / SE over the pilot's effects, whatever their
 * sign: the protocol's resolving power). A larger budget within 10% of the best score wins, being closer to the paper's
 * regime.
 */
export function pilotBudgets(effects: ReturnType<typeof pilotEffects>, hoursAt: (epochs: number) => number | null, alsoCost: readonly number[] = []): PilotBudget[] {
  const budgets = [...new Set([...effects.map((e) => e.epochs), ...alsoCost])].sort((a, b) => a - b);
  return budgets.map((epochs) => {
    const at = effects.filter((e) => e.epochs === epochs);
    // a budget without pilot effects (one dropped before its runs, in alsoCost) has a cost but no score
    const score = at.length && at.every((e) => e.ratio !== null) ? at.reduce((s, e) => s + e.ratio!, 0) / at.length : null;
    const hours = hoursAt(epochs);
    return { epochs, score, hours, fits: hours !== null && hours <= QUICK_TABLES_HOURS };
  });
}

/** The budget the rule picks (pilotBudgets), or null while no affordable budget has a score. */
export function chosenPilotBudget(budgets: PilotBudget[]): number | null {
  const ok = budgets.filter((b) => b.fits && b.score !== null);
  if (!ok.length) return null;
  const best = Math.max(...ok.map((b) => b.score!));
  return Math.max(...ok.filter((b) => b.score! >= 0.9 * best).map((b) => b.epochs));
}
