// Runs a batch of notebooks one after another (shared by `convmixer notebooks run` and `convmixer report`): checks every
// override against the notebook that declares it before any kernel starts, records one git state for the batch.
import { basename, relative } from 'node:path';
import { UserError } from '../errors.ts';
import { gitState } from '../runRecord.ts';
import { runNotebook, type GitProvenance, type RunResult } from './executor.ts';
import { cellSource, declaredParameters, hasTag, injectParameters, readNotebook, type ParamValue } from './ipynb.ts';

export interface RunManyOptions {
  params: Record<string, ParamValue>;
  cellTimeoutMs?: number;
  /** Pass each notebook only the overrides it declares, with no error for a name none declares (the report's knobs). */
  allowUnused?: boolean;
  /** Git state recorded in every notebook of the batch (default: read once, before the first notebook runs). */
  git?: GitProvenance;
  log?: (line: string) => void;
  /** Ctrl-C / SIGTERM: the running notebook's kernel is shut down and runNotebook throws (see RunOptions.signal). */
  signal?: AbortSignal;
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
    const res = await runNotebook(path, { params, git, cellTimeoutMs: opts.cellTimeoutMs, signal: opts.signal });
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

export function notebookParameters(path: string): string[] {
  const cell = readNotebook(path).cells.find((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
  return cell ? declaredParameters(cellSource(cell)) : [];
}

