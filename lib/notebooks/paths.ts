// Where notebooks and the rendered report live, and how a notebook name given on the command line is found.
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { REPO_ROOT } from '../io.ts';

export { REPO_ROOT };
export const NOTEBOOKS_DIR = join(REPO_ROOT, 'notebooks');
export const REPORTS_DIR = join(REPO_ROOT, 'reports');

/** Every .ipynb in a folder, in name order (the numeric prefixes give the reading order). */
export function listNotebooks(dir = NOTEBOOKS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort().map((f) => join(dir, f));
}

/**
 * A notebook named on the command line: a path to an .ipynb, or a name in notebooks/ with or without
 * extension, or an unambiguous prefix/substring of one ('00', 'overview').
 */
export function findNotebook(name: string, dir = NOTEBOOKS_DIR): string {
  if (name.endsWith('.ipynb') && existsSync(name)) return resolve(name);
  const all = listNotebooks(dir);
  const stem = (p: string) => basename(p, '.ipynb');
  const exact = all.find((p) => stem(p) === name || basename(p) === name);
  if (exact) return exact;
  const matches = all.filter((p) => stem(p).startsWith(name) || stem(p).includes(name));
  if (matches.length === 1) return matches[0]!;
  const known = all.map(stem).join(', ') || 'none';
  if (matches.length > 1) throw new UserError(`notebook '${name}' is ambiguous (matches: ${matches.map(stem).join(', ')})`);
  throw new UserError(`notebook '${name}' not found (expected a path to an .ipynb or one of: ${known})`);
}
