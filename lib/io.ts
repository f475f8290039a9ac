// Small filesystem helpers: every write the suite does is atomic (temp file in the same folder, then rename),
// so a kill at any moment leaves either the old file or the new one, never half of one.
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository checkout this code runs from; every default folder (reports/, data/, notebooks/) hangs off it.
 * fileURLToPath, not URL.pathname, so a checkout under a path with spaces or non-ASCII characters works. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export function atomicWrite(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
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
