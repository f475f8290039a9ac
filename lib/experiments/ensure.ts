// "A notebook re-runs an experiment only when asked or when no record exists for its profile." The run itself is the
// CLI's (a child process writing a run record), so notebooks stay free of training code and a run made from a
// notebook is the same as one made by hand.
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../io.ts';
import { loadRunRecords, RESULTS_DIR, type Profile, type RunRecord } from '../runRecord.ts';

export interface EnsureResult {
  /** Whether the CLI ran (no finished record of the experiment at this profile, or rerun asked for). */
  ran: boolean;
  /** The finished records of the experiment at this profile, newest first (after the run, when it ran). */
  records: RunRecord[];
  /** The CLI's one-line error when it refused (exit 2: e.g. the dataset is not prepared); null otherwise. */
  error: string | null;
}

/**
 * Runs `convmixer <cliArgs> --profile P [--results-dir DIR]` when `rerun` is true or no finished record of
 * `experiment` at profile P exists in `resultsDir`, and returns the matching records either way. A refusal
 * (bad input, missing data: exit code 2) comes back as `error` so the notebook can say why; a crash throws.
 */
export function ensureRecords(opts: { experiment: string; profile: Profile; rerun: boolean; cliArgs: string[]; resultsDir?: string }): EnsureResult {
  const dir = opts.resultsDir ?? RESULTS_DIR;
  const load = (): RunRecord[] => loadRunRecords({ experiment: opts.experiment, profile: opts.profile, status: 'finished' }, dir);
  const existing = load();
  if (existing.length > 0 && !opts.rerun) return { ran: false, records: existing, error: null };
  const args = ['bin/convmixer.mjs', ...opts.cliArgs, '--profile', opts.profile, ...(opts.resultsDir ? ['--results-dir', opts.resultsDir] : [])];
  const res = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Through console, so the output lands in the notebook cell (the kernel redirects console, not file descriptors).
  if (res.stdout) console.log(res.stdout.trimEnd());
  if (res.status === 2) {
    const lines = (res.stderr ?? '').trim().split('\n');
    return { ran: false, records: existing, error: lines[lines.length - 1] || `convmixer ${opts.cliArgs[0]} refused its arguments` };
  }
  if (res.stderr) console.error(res.stderr.trimEnd());
  if (res.status !== 0) throw new Error(`convmixer ${opts.cliArgs.join(' ')} --profile ${opts.profile} failed (${res.status === null ? `signal ${res.signal}` : `exit code ${res.status}`})`);
  return { ran: true, records: load(), error: null };
}
