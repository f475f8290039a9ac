// `convmixer experiment list|status|run TABLE`: the experiment runner on the command line. Tables are data
// (lib/experiments/); `run` trains what is missing and resumes what was interrupted, `status` says where each row is.
import { resolve } from 'node:path';
import { parseFlags, choiceFlag, numberFlag, type FlagSpec, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { existingDir, writableDir } from '../io.ts';
import { PROFILES, type Profile } from '../runRecord.ts';
import { EXPERIMENT_TABLES, experimentTable, parseShard, planRuns, runTable, shardRuns, tableStatus, type RowStatus } from '../experiments/runner.ts';
import { primaryMetric } from '../experiments/table.ts';
import { createProgressBar, epochSummary } from '../train/progress.ts';
import { stopOnSignals } from './interrupt.ts';
import { codeGitState } from '../runRecord.ts';
import { machineCostModel, tableCost, tableCostLine } from '../experiments/cost.ts';

const FLAGS: FlagSpec = {
  profile: { type: 'string' }, seeds: { type: 'string' }, shard: { type: 'string' }, json: { type: 'boolean' },
  'retry-failed': { type: 'boolean' }, 'retrain-stale': { type: 'boolean' }, 'data-root': { type: 'string' }, 'results-dir': { type: 'string' }, 'checkpoint-dir': { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
};

const USAGE = `usage: convmixer experiment list
       convmixer experiment status TABLE [--profile quick] [--seeds 2] [--json]
       convmixer experiment run TABLE [--profile quick] [--seeds 2] [--shard i/n] [--retry-failed] [--retrain-stale] [--quiet]

Tables are typed data in lib/experiments/ (table3, table4, pilot; segmentation and detection for seed 000): rows with
the paper's value and a recipe change relative to the paper recipe (or, for seed 000's tables, the model of the row);
the profile's protocol shrinks what every row shares (README: "Tables 3 and 4", "Segmentation", "Detection").

  run       trains the missing runs (row x seed 0..N-1) one at a time, resumes interrupted ones from their
            checkpoints and skips finished ones; stop it at any time (Ctrl-C) and start it again
  status    each row: finished / stale / running / interrupted / failed / diverged / missing, its mean and spread over
            seeds, and the paper's value; --json prints {"rows": [{"id", "done", "paper", "value", ...}]}
  --shard i/n             run every n-th run starting at the i-th (n machines split a table; scripts/slurm/)
  --seeds N               seeds 0..N-1 (default 2)
  --retry-failed          train again runs that diverged or failed
  --retrain-stale         train again finished runs whose recipe has changed since (a protocol was revised; status
                          says 'stale' and what changed); their old checkpoints move to <checkpoint-dir>/superseded/
  --data-root DIR         dataset root holding cifar10/ (default data/ or CONVMIXER_DATA)
  --results-dir DIR --checkpoint-dir DIR   (default reports/results, reports/checkpoints)`;

type Values = Record<string, string | boolean | undefined>;

function pct(v: number | null, digits = 2): string {
  return v === null ? '-' : v.toFixed(digits);
}

function statusLine(r: RowStatus): string {
  const states = r.runs.map((x) => x.state === 'finished' ? 'ok' : x.state).join(',');
  const spread = r.std === null ? '' : ` ± ${pct(r.std)}`;
  const stale = r.runs.find((x) => x.state === 'stale');
  return `${r.id.padEnd(20)} ${r.done ? 'done   ' : 'not yet'}  ${`${pct(r.value)}${spread}`.padEnd(14)} paper ${pct(r.paper).padEnd(6)} [${states}]${r.runOf.row !== r.id ? `  (run of ${r.runOf.table}/${r.runOf.row})` : ''}${stale ? `  (seed ${stale.seed} ${stale.reason}; run --retrain-stale)` : ''}`;
}

export const command: Command = {
  summary: 'run or inspect the experiment tables (table3, table4, pilot, segmentation, detection): resumable, shardable',
  async run(argv) {
    const { values, positionals, help } = parseFlags<Values>(argv, FLAGS, true);
    const [sub, tableId, ...extra] = positionals;
    if (help || !sub) {
      console.log(USAGE);
      return help ? 0 : 2;
    }
    if (!['list', 'status', 'run'].includes(sub)) throw new UserError(`unknown subcommand '${sub}' (expected list, status or run)`);
    if (extra.length) throw new UserError(`unexpected argument '${extra[0]}'`);
    const profile: Profile = choiceFlag('profile', values['profile'] as string | undefined, PROFILES) ?? 'quick';
    const seeds = numberFlag('seeds', values['seeds'] as string | undefined, { int: true, min: 1, max: 100 }) ?? 2;
    const shard = parseShard(values['shard'] as string | undefined);
    const dir = (flag: string): string | undefined => (typeof values[flag] === 'string' ? resolve(values[flag] as string) : undefined);
    const dirs = { resultsDir: dir('results-dir'), checkpointRoot: dir('checkpoint-dir') };

    if (sub === 'list') {
      for (const t of Object.values(EXPERIMENT_TABLES)) {
        console.log(`${t.id}: ${t.title} (${t.rows.length} rows, ${planRuns(t, profile, seeds).length} runs at ${profile} with ${seeds} seeds)`);
        console.log(`  ${profile}: ${t.protocols[profile].why}`);
      }
      return 0;
    }
    if (!tableId) throw new UserError(`experiment ${sub}: name a table (convmixer experiment list)`);
    const table = experimentTable(tableId);
    // (no cost model is fitted for tables that build their own recipes: tableCost does not estimate them)
    const costLeft = () => tableCost(table, profile, seeds, table.recipe ? null : machineCostModel(dirs.resultsDir), dirs);

    if (sub === 'status') {
      // An explicit --results-dir that is a file or a typo would read as "no records"; the default reports/results may be missing.
      if (dirs.resultsDir) existingDir(dirs.resultsDir, '--results-dir', 'the folder of run records');
      const rows = tableStatus(table, profile, seeds, dirs);
      const cost = costLeft();
      if (values['json']) {
        console.log(JSON.stringify({
          table: table.id, profile, seeds,
          ...(cost ? { cost: { runs: cost.runs, runsLeft: cost.runsLeft, hoursLeft: cost.hoursLeft, hoursTotal: cost.hoursTotal, costModel: cost.model } } : {}),
          rows: rows.map((r) => ({
            id: r.id, label: r.label, group: r.group, done: r.done, paper: r.paper, value: r.value, std: r.std, seedsFinished: r.seedsFinished, runOf: r.runOf,
            runs: r.runs.map((x) => ({ runId: x.runId, seed: x.seed, state: x.state, testAcc: x.testAcc, epochsDone: x.epochsDone, epochs: x.epochs, reason: x.reason })),
          })),
        }, null, 2));
      } else {
        console.log(`${table.title}, profile ${profile}, seeds 0..${seeds - 1} (${primaryMetric(table) === 'testAcc' ? 'test accuracy' : primaryMetric(table)} %, mean ± sample std over finished seeds)`);
        for (const r of rows) console.log(statusLine(r));
        const done = rows.filter((r) => r.done).length;
        console.log(`${done} of ${rows.length} rows done${cost ? `; ${tableCostLine(cost)}` : ''}`);
      }
      return 0;
    }

    // Every run would fail on the same folder: refuse once, before the first run starts.
    if (dirs.resultsDir) writableDir(dirs.resultsDir, '--results-dir');
    if (dirs.checkpointRoot) writableDir(dirs.checkpointRoot, '--checkpoint-dir');
    const runs = shardRuns(planRuns(table, profile, seeds), shard);
    console.log(`experiment run ${table.id}: profile ${profile}, seeds 0..${seeds - 1}${shard ? `, shard ${shard.index}/${shard.count}` : ''}: ${runs.length} runs`);
    const cost = shard ? null : costLeft();
    if (cost) console.log(`  ${tableCostLine(cost)}`);
    const bar = values['quiet'] ? null : createProgressBar();
    codeGitState(); // the commit of the code this process loaded, for every record it writes
    const stop = stopOnSignals('run the same command to resume');
    try {
      const res = await runTable(table, {
        profile, seeds, shard, retryFailed: values['retry-failed'] === true, retrainStale: values['retrain-stale'] === true, signal: stop.signal, ...dirs, dataRoot: dir('data-root'),
        log: (line) => { bar?.clear(); console.log(line); },
        hooks: {
          onProgress: bar ? (p) => bar.update(p) : undefined,
          onEpoch: (e) => { bar?.clear(); console.log(`  epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, ${epochSummary(e)}, ${e.seconds.toFixed(0)} s`); },
        },
      });
      console.log(`experiment run ${table.id}: ${res.trained.length} trained, ${res.skipped.length} skipped, ${res.failed.length} failed`);
      return res.failed.length ? 1 : 0;
    } finally {
      bar?.clear();
      stop.dispose();
    }
  },
};
