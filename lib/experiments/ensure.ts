// "A notebook re-runs an experiment only when asked or when no record exists for its profile." The run is the
// library's training loop, in the calling process (a notebook's kernel), on a recipe that is data; the record it
// writes is the same as one `convmixer train` would write.
import { loadRunRecords, RESULTS_DIR, type RunRecord } from '../runRecord.ts';
import { UserError } from '../errors.ts';
import type { Recipe } from '../train/config.ts';
import { epochSummary } from '../train/progress.ts';

export interface EnsureResult {
  /** Whether a run was trained (no finished record of the experiment at this profile, or rerun asked for). */
  ran: boolean;
  /** The finished records of the experiment at this profile, newest first (after the run, when it ran). */
  records: RunRecord[];
  /** The one-line reason when training was refused (bad input, e.g. the dataset is not prepared); null otherwise. */
  error: string | null;
}

/**
 * Trains `recipe` when `rerun` is true or no finished record of its experiment at its profile exists in `resultsDir`,
 * and returns the matching records either way. A refusal (a UserError: missing data, ...) comes back as `error` so the
 * notebook can say why; anything else throws.
 */
export async function ensureRecords(opts: { recipe: Recipe; rerun: boolean; resultsDir?: string; checkpointRoot?: string; dataRoot?: string; quiet?: boolean }): Promise<EnsureResult> {
  const dir = opts.resultsDir ?? RESULTS_DIR;
  const { experiment, profile } = opts.recipe;
  const load = (): RunRecord[] => loadRunRecords({ kind: 'train', experiment, profile, status: 'finished' }, dir);
  const existing = load();
  if (existing.length > 0 && !opts.rerun) return { ran: false, records: existing, error: null };
  const { trainRun } = await import('../train/loop.ts');
  try {
    const out = await trainRun({ ...opts.recipe, run: { resume: false, backend: 'auto', explicit: [], checkpoint: true, dataRoot: opts.dataRoot } }, {
      resultsDir: dir,
      checkpointRoot: opts.checkpointRoot,
      // Through console, so the lines land in the notebook cell.
      onEpoch: opts.quiet ? undefined : (e) => console.log(`${experiment} (${profile}) epoch ${e.epoch}: ${epochSummary(e)}, ${e.seconds.toFixed(1)} s`),
    });
    out.model.dispose();
  } catch (err) {
    if (err instanceof UserError) return { ran: false, records: existing, error: err.message };
    throw err;
  }
  return { ran: true, records: load(), error: null };
}
