// Small filesystem helpers: every write the suite does is atomic (temp file in the same folder, then rename),
// so a kill at any moment leaves either the old file or the new one, never half of one.
import { mkdirSync, readdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive } from './lock.ts';

/** The repository checkout this code runs from; every default folder (reports/, data/, notebooks/) hangs off it.
 * fileURLToPath, not URL.pathname, so a checkout under a path with spaces or non-ASCII characters works. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The temporary files atomicWrite creates: `.<name>.<pid>.<ms>.tmp`. */
const TEMP_FILE = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Removes atomicWrite's temporary files left in `dir` by processes that no longer run (killed between write and rename);
 * only files matching `.<name>.<pid>.<ms>.tmp` whose pid is not alive (and not this process). Never throws.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const m = TEMP_FILE.exec(entry);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      rmSync(join(dir, entry), { force: true });
      removed.push(entry);
    } catch { /* not ours to remove after all (permissions): leave it */ }
  }
  return removed;
}

export function atomicWrite(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemps(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function atomicWriteJson(path: string, value: unknown): void {
  atomicWrite(path, JSON.stringify(value, null, 2) + '\n');
}
