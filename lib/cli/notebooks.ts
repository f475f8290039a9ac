// `convmixer notebooks run [NAME...] [-p key=value ...] [--profile P]`: executes notebooks headless with the tslab
// kernel and stores their outputs; `convmixer notebooks list`: what there is and each one's parameters.
import { choiceFlag, numberFlag, parseFlags, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { PROFILES } from '../runRecord.ts';
import { parseParamAssignments } from '../notebooks/ipynb.ts';
import { findNotebook, listNotebooks } from '../notebooks/paths.ts';
import { notebookParameters, runNotebooks } from '../notebooks/run.ts';
import { basename } from 'node:path';
import { stopOnSignals } from './interrupt.ts';

const USAGE = `usage: convmixer notebooks run [NAME...] [-p key=value ...] [--profile P] [--timeout SEC]
       convmixer notebooks list

Runs notebooks (default: every notebooks/*.ipynb, in name order) top to bottom in a fresh tslab kernel, stores
their outputs in the .ipynb and stops at the first failing cell (exit 1, naming the cell).
  -p, --param key=value  override a name of the notebook's 'parameters' cell (value parsed as JSON when it can be)
  --profile P            shorthand for -p profile=P (${PROFILES.join('|')})
  --timeout SEC          per-cell limit in seconds (default 1800)`;

export const command: Command = {
  summary: 'run notebooks headless with the tslab kernel',
  async run(argv) {
    const [sub, ...rest] = argv;
    if (!sub || sub === '--help' || sub === '-h') {
      console.log(USAGE);
      return sub ? 0 : 1;
    }
    if (sub === 'list') {
      for (const p of listNotebooks()) {
        console.log(`${basename(p)}  parameters: ${notebookParameters(p).join(', ') || 'none'}`);
      }
      return 0;
    }
    if (sub !== 'run') throw new UserError(`unknown subcommand '${sub}' (expected run or list)`);
    const { values, positionals, help } = parseFlags<{ param?: string[]; profile?: string; timeout?: string }>(rest, {
      param: { type: 'string', short: 'p', multiple: true },
      profile: { type: 'string' },
      timeout: { type: 'string' },
    }, true);
    if (help) {
      console.log(USAGE);
      return 0;
    }
    const params = parseParamAssignments(values.param ?? []);
    if (values.profile !== undefined) {
      params.profile = choiceFlag('profile', values.profile, PROFILES)!;
    }
    const timeout = numberFlag('timeout', values.timeout, { min: 1 });
    const paths = positionals.length ? positionals.map((n) => findNotebook(n)) : listNotebooks();
    if (paths.length === 0) throw new UserError('no notebooks found in notebooks/');
    const stop = stopOnSignals('later notebooks are not run', 'shutting down the kernel');
    try {
      const results = await runNotebooks(paths, { params, cellTimeoutMs: timeout ? timeout * 1000 : undefined, signal: stop.signal });
      return results.every((r) => r.ok) ? 0 : 1;
    } finally {
      stop.dispose();
    }
  },
};
