// `convmixer notebooks run [NAME...] [-p key=value ...] [--profile P]`: executes notebooks headless with the tslab
// kernel and stores their outputs; `convmixer notebooks list`: what there is and each one's parameters.
import type { Command } from './main.ts';
import { choiceFlag, numberFlag, parseFlags } from './args.ts';
import { UserError } from '../errors.ts';
import { gitState, PROFILES } from '../runRecord.ts';
import { runNotebook, type GitProvenance, type RunResult } from '../report/executor.ts';
import { cellSource, declaredParameters, hasTag, injectParameters, parseParamAssignments, readNotebook, type ParamValue } from '../report/notebook.ts';
import { findNotebook, listNotebooks } from '../report/paths.ts';
import { basename, relative } from 'node:path';

const USAGE = `usage: convmixer notebooks run [NAME...] [-p key=value ...] [--profile P] [--timeout SEC]
       convmixer notebooks list

Runs notebooks (default: every notebooks/*.ipynb, in name order) top to bottom in a fresh tslab kernel, stores
their outputs in the .ipynb and stops at the first failing cell (exit 1, naming the cell).
  -p, --param key=value  override a name of the notebook's 'parameters' cell (value parsed as JSON when it can be)
  --profile P            shorthand for -p profile=P (${PROFILES.join('|')})
  --timeout SEC          per-cell limit in seconds (default 1800)`;

export interface RunManyOptions {
  params: Record<string, ParamValue>;
  cellTimeoutMs?: number;
  /** Pass each notebook only the overrides it declares, with no error for a name none declares (the report's knobs). */
  allowUnused?: boolean;
  /** Git state recorded in every notebook of the batch (default: read once, before the first notebook runs). */
  git?: GitProvenance;
  log?: (line: string) => void;
}

/** Runs notebooks one after another; stops at the first that fails. Shared with `convmixer report`. */
export async function runNotebooks(paths: string[], opts: RunManyOptions): Promise<RunResult[]> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const declaredBy = new Map(paths.map((p) => [p, notebookParameters(p)]));
  const unused = Object.keys(opts.params).filter((k) => ![...declaredBy.values()].some((names) => names.includes(k)));
  if (paths.length > 1 && !opts.allowUnused && unused.length > 0) throw new UserError(`no notebook has a parameter '${unused[0]}'`);
  // Only pass the overrides a notebook declares, so `--profile` applies to all and a knob to the ones that have it.
  const paramsFor = (path: string) => {
    const declared = declaredBy.get(path)!;
    return paths.length > 1 || opts.allowUnused ? Object.fromEntries(Object.entries(opts.params).filter(([k]) => declared.includes(k))) : opts.params;
  };
  // Check every override against its notebook before any kernel starts.
  for (const path of paths) injectParameters(readNotebook(path), paramsFor(path), path);
  // Once for the whole batch: the first notebook's stored outputs would otherwise make the rest look 'dirty'.
  const git = opts.git ?? gitState();
  const results: RunResult[] = [];
  for (const path of paths) {
    const params = paramsFor(path);
    log(`notebooks: running ${relative(process.cwd(), path)}${Object.keys(params).length ? ` with ${JSON.stringify(params)}` : ''}`);
    const res = await runNotebook(path, { params, git, cellTimeoutMs: opts.cellTimeoutMs });
    results.push(res);
    if (!res.ok) {
      const f = res.failure!;
      log(`notebooks: ${basename(path)}: cell ${f.cellNumber} failed (${f.firstLine.trim().slice(0, 80)}):\n${f.message.split('\n').map((l) => `  ${l}`).join('\n')}`);
      break;
    }
    log(`notebooks: ${basename(path)}: ok, ${res.executedCells} cells in ${res.seconds.toFixed(1)} s`);
  }
  return results;
}

function notebookParameters(path: string): string[] {
  const cell = readNotebook(path).cells.find((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
  return cell ? declaredParameters(cellSource(cell)) : [];
}

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
    const results = await runNotebooks(paths, { params, cellTimeoutMs: timeout ? timeout * 1000 : undefined });
    return results.every((r) => r.ok) ? 0 : 1;
  },
};
