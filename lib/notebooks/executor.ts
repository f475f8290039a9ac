// Runs a notebook top to bottom in a fresh tslab kernel (started in the notebook's folder, as Jupyter does),
// stores every cell's outputs in the .ipynb (atomically, also when a cell fails), and stops at the first failing
// cell, naming it. Cells after the failing one are left unexecuted with their outputs cleared.
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { gitState } from '../runRecord.ts';
import { startKernel, type NotebookOutput } from './kernel.ts';
import { cellSource, injectParameters, kernelName, readNotebook, writeNotebook, type Notebook, type ParamValue } from './ipynb.ts';

/** Set in the kernel's environment: notebooks know they run headless (e.g. plots skip inlining plotly.js). */
export const HEADLESS_ENV = 'CONVMIXER_NOTEBOOK_HEADLESS';

export interface CellFailure {
  /** 1-based position of the cell in the saved notebook (all cells counted, as Jupyter shows them). */
  cellNumber: number;
  /** First line of the cell's source, to recognize it. */
  firstLine: string;
  /** The error the kernel printed (compile diagnostics or the exception), trimmed. */
  message: string;
}

export interface RunResult {
  path: string;
  ok: boolean;
  executedCells: number;
  seconds: number;
  failure?: CellFailure;
}

/** The commit a notebook ran against, as stored in its metadata. */
export interface GitProvenance {
  commit: string;
  dirty: boolean;
}

export interface RunOptions {
  params?: Record<string, ParamValue>;
  /**
   * Git state to record. A batch reads it once before its first notebook: each notebook's stored outputs dirty the
   * tree, so reading it per notebook would mark every notebook after the first as run from uncommitted code.
   * Default: read from the checkout before this notebook's first cell runs.
   */
  git?: GitProvenance;
  /** Per-cell limit (default 30 minutes). */
  cellTimeoutMs?: number;
  /**
   * Ctrl-C / SIGTERM (stopOnSignals): the running cell is abandoned, the kernel shut down (its connection file
   * removed) and a UserError thrown; the notebook file is left as it was.
   */
  signal?: AbortSignal;
  /** Called once the kernel is up (its pid and connection file). */
  onKernel?: (pid: number | undefined, connectionFile: string) => void;
  /** Called before each code cell runs (progress lines in the CLI). */
  onCell?: (cellNumber: number, total: number, firstLine: string) => void;
}

function errorText(outputs: NotebookOutput[]): string {
  const parts: string[] = [];
  for (const o of outputs) {
    if (o.output_type === 'stream' && o.name === 'stderr') parts.push(o.text);
    if (o.output_type === 'error') parts.push(`${o.ename}: ${o.evalue}`);
  }
  // Keep the message and drop the kernel's own stack frames (tslab's executor, node:vm).
  const lines = parts.join('').split('\n').filter((l) => !/^\s+at .*(node:|tslab[/\\]dist|evalmachine)/.test(l));
  return lines.join('\n').trim() || 'the cell failed without printing an error';
}

export async function runNotebook(path: string, opts: RunOptions = {}): Promise<RunResult> {
  const abs = resolve(path);
  const started = Date.now();
  // The code the notebook runs against, stored beside its outputs so every number traces to a commit.
  const git = opts.git ?? gitState();
  const source = readNotebook(abs);
  const kernel = kernelName(source);
  if (kernel !== 'tslab') throw new UserError(`${path}: kernelspec is '${kernel ?? 'missing'}', expected 'tslab'`);
  const nb: Notebook = injectParameters(source, opts.params ?? {}, abs);
  for (const c of nb.cells) {
    if (c.cell_type !== 'code') continue;
    c.outputs = [];
    c.execution_count = null;
  }
  const interrupted = (where: string) => new UserError(`${basename(abs)}: interrupted ${where}; the kernel was shut down and the notebook left as it was`);
  if (opts.signal?.aborted) throw interrupted('before its kernel started');
  const k = await startKernel({ cwd: dirname(abs), env: { [HEADLESS_ENV]: '1' } });
  let executed = 0;
  let failure: CellFailure | undefined;
  try {
    opts.onKernel?.(k.pid, k.connectionFile);
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type !== 'code') continue;
      const src = cellSource(cell);
      const firstLine = src.split('\n').find((l) => l.trim()) ?? '';
      opts.onCell?.(i + 1, nb.cells.length, firstLine);
      if (!src.trim()) continue;
      if (opts.signal?.aborted) throw interrupted(`before cell ${i + 1}`);
      const res = await k.execute(src, { timeoutMs: opts.cellTimeoutMs, signal: opts.signal }).catch((err: Error) => {
        if (opts.signal?.aborted) throw interrupted(`in cell ${i + 1} (${firstLine.trim().slice(0, 60)})`);
        return {
          status: 'error' as const, executionCount: null, outputs: [{ output_type: 'error' as const, ename: 'KernelError', evalue: err.message, traceback: [] }],
        };
      });
      cell.outputs = res.outputs;
      cell.execution_count = res.executionCount;
      executed += 1;
      if (res.status !== 'ok') {
        failure = { cellNumber: i + 1, firstLine, message: errorText(res.outputs) };
        break;
      }
    }
  } finally {
    await k.shutdown();
  }
  nb.metadata = {
    ...nb.metadata,
    convmixer: { executedAt: new Date().toISOString(), gitCommit: git.commit, gitDirty: git.dirty, parameters: opts.params ?? {}, status: failure ? 'failed' : 'ok', ...(failure ? { failedCell: failure.cellNumber } : {}) },
  };
  writeNotebook(abs, nb);
  return { path: abs, ok: !failure, executedCells: executed, seconds: (Date.now() - started) / 1000, failure };
}
