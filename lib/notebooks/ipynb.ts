// The .ipynb format (nbformat 4) as far as the suite needs it: read and validate, find the `parameters` cell,
// inject overrides after it as a cell tagged `injected-parameters` (papermill's convention), write atomically.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { atomicWrite } from '../io.ts';
import { PROFILES } from '../runRecord.ts';
import type { NotebookOutput } from './kernel.ts';

const sourceSchema = z.union([z.string(), z.array(z.string())]);
const cellSchema = z.object({
  cell_type: z.enum(['code', 'markdown', 'raw']),
  source: sourceSchema,
  metadata: z.record(z.unknown()).default({}),
  outputs: z.array(z.record(z.unknown())).optional(),
  execution_count: z.number().nullable().optional(),
  id: z.string().optional(),
}).passthrough();
const notebookSchema = z.object({
  nbformat: z.literal(4),
  nbformat_minor: z.number(),
  metadata: z.record(z.unknown()),
  cells: z.array(cellSchema),
}).passthrough();

export interface NotebookCell {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  id?: string;
  [extra: string]: unknown;
}

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
  [extra: string]: unknown;
}

export type ParamValue = string | number | boolean | null | ParamValue[];

export function readNotebook(path: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not a readable JSON notebook (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = notebookSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${path}: not an nbformat 4 notebook (${issue.path.join('.') || 'root'}: ${issue.message})`);
  }
  return parsed.data as unknown as Notebook;
}

/** Serializes like Jupyter does (1-space indent, trailing newline), so saved notebooks diff cleanly. */
export function writeNotebook(path: string, nb: Notebook): void {
  atomicWrite(path, JSON.stringify(nb, null, 1) + '\n');
}

export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** Source as nbformat stores it: one string per line, each keeping its newline. */
export function toSourceLines(text: string): string[] {
  return text.split(/(?<=\n)/).filter((l) => l.length > 0);
}

export function hasTag(cell: NotebookCell, tag: string): boolean {
  return Array.isArray(cell.metadata.tags) && cell.metadata.tags.includes(tag);
}

export function kernelName(nb: Notebook): string | undefined {
  const spec = nb.metadata.kernelspec as { name?: string } | undefined;
  return spec?.name;
}

/** Names declared at the top level of a parameters cell (`const x = ...`, `let y: T = ...`). */
export function declaredParameters(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)/gm)) names.push(m[1]!);
  return names;
}

/**
 * The type each parameter declares (`const seeds: number = 2;`), or, without an annotation, the type of a plain
 * literal initializer (`const rerun = false;`). Names with any other type (arrays, unions) are left out: not checked.
 */
export function declaredParameterTypes(source: string): Map<string, 'string' | 'number' | 'boolean'> {
  const types = new Map<string, 'string' | 'number' | 'boolean'>();
  for (const m of source.matchAll(/^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*([^=;]+?))?\s*(?:=\s*([^;\n]*))?;?\s*$/gm)) {
    const [, name, annotation, init] = m;
    let type: string | undefined = annotation?.trim();
    if (!type && init !== undefined) {
      const v = init.trim();
      type = /^(['"`]).*\1$/.test(v) ? 'string' : /^(true|false)$/.test(v) ? 'boolean' : /^[-+]?(\d|\.\d)[\d_.eE+-]*$/.test(v) ? 'number' : undefined;
    }
    if (type === 'string' || type === 'number' || type === 'boolean') types.set(name!, type);
  }
  return types;
}

/** Checks overrides against the parameters cell's declared types (and `profile` against the profiles): one-line UserError. */
export function checkParameterTypes(source: string, params: Record<string, ParamValue>, path = 'notebook'): void {
  const types = declaredParameterTypes(source);
  for (const [name, value] of Object.entries(params)) {
    const expected = types.get(name);
    const shown = JSON.stringify(value);
    if (expected && typeof value !== expected) {
      throw new UserError(`${basename(path)}: parameter '${name}' expects a ${expected}, got ${shown}${expected === 'number' && typeof value === 'string' ? ' (not a number)' : ''}`);
    }
    if (expected === 'number' && !Number.isFinite(value as number)) throw new UserError(`${basename(path)}: parameter '${name}' expects a finite number, got ${shown}`);
    if (name === 'profile' && !(PROFILES as readonly unknown[]).includes(value)) {
      throw new UserError(`${basename(path)}: parameter 'profile' expects one of ${PROFILES.join('|')}, got ${shown}`);
    }
  }
}

/**
 * Parses `key=value` overrides. The value is JSON when it parses as JSON (numbers, true/false, null, "quoted",
 * [arrays]), otherwise a plain string, so `-p profile=quick -p epochs=3 -p rerun=true` do what they say.
 */
export function parseParamAssignments(assignments: string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(0, eq).trim() : '';
    if (!/^[A-Za-z_$][\w$]*$/.test(key)) throw new UserError(`-p ${a}: expected key=value with an identifier as key`);
    const raw = a.slice(eq + 1);
    let value: ParamValue;
    try {
      value = JSON.parse(raw) as ParamValue;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) value = raw;
    } catch {
      value = raw;
    }
    out[key] = value;
  }
  return out;
}

/**
 * A copy of the notebook with earlier injected cells removed and, when there are overrides, a new code cell
 * tagged `injected-parameters` right after the `parameters` cell re-declaring each overridden name (tslab
 * accepts re-declared `const`s across cells). Unknown names are an error: a typo must not be silently ignored.
 */
export function injectParameters(nb: Notebook, params: Record<string, ParamValue>, path = 'notebook'): Notebook {
  const cells = nb.cells.filter((c) => !hasTag(c, 'injected-parameters'));
  const keys = Object.keys(params);
  if (keys.length === 0) return { ...nb, cells };
  const at = cells.findIndex((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
  if (at < 0) throw new UserError(`${basename(path)}: has no cell tagged 'parameters', so -p ${keys[0]}=... cannot be applied`);
  const declared = declaredParameters(cellSource(cells[at]!));
  const unknown = keys.filter((k) => !declared.includes(k));
  if (unknown.length > 0) throw new UserError(`${basename(path)}: no parameter '${unknown[0]}' in its parameters cell (it has: ${declared.join(', ') || 'none'})`);
  checkParameterTypes(cellSource(cells[at]!), params, path);
  const text = ['// Injected parameters', ...keys.map((k) => `const ${k} = ${JSON.stringify(params[k])};`)].join('\n');
  const injected: NotebookCell = {
    cell_type: 'code',
    execution_count: null,
    id: 'injected-parameters',
    metadata: { tags: ['injected-parameters'] },
    outputs: [],
    source: toSourceLines(text),
  };
  return { ...nb, cells: [...cells.slice(0, at + 1), injected, ...cells.slice(at + 1)] };
}
