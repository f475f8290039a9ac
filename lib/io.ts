// Small filesystem helpers: every write the suite does is atomic (temp file in the same folder, then rename),
// so a kill at any moment leaves either the old file or the new one, never half of one.
import { accessSync, constants, mkdirSync, readdirSync, renameSync, statSync, writeFileSync, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { dirname, basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive } from './lock.ts';
import { UserError } from './errors.ts';

/** The repository checkout this code runs from; every default folder (reports/, data/, notebooks/) hangs off it.
 * fileURLToPath, not URL.pathname, so a checkout under a path with spaces or non-ASCII characters works. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The temporary files atomicWrite creates: `.<name>.<pid>.<ms>.tmp`. */
const TEMP_FILE = /^\..+\.(\d+)\.\d+\.tmp$/;

/** A temporary file exists for the seconds of one write; one untouched this long is stale whichever host wrote it. */
export const STALE_TEMP_MS = 10 * 60_000;

/**
 * Removes atomicWrite's temporary files left in `dir` by processes that no longer run (killed between write and rename):
 * only files matching `.<name>.<pid>.<ms>.tmp` whose pid is not alive (and not this process) and that were last written
 * more than STALE_TEMP_MS ago (on a shared file system a pid that is not alive here may be a live writer on another
 * host). Never throws.
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
      if (Date.now() - statSync(join(dir, entry)).mtimeMs < STALE_TEMP_MS) continue;
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

/** 'ENOTDIR: not a directory' for a filesystem error (node's code and its text, without the syscall and path); null for other errors. */
export function fsErrorText(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return null;
  const m = /^(E[A-Z]+: [^,]+)/.exec(e.message);
  return m ? m[1]! : e.code;
}

/**
 * Runs a write under a folder given by a flag; a filesystem error (ENOTDIR, EACCES, ENOSPC, EROFS, ...) becomes a one-line
 * UserError naming the flag and the path. Other errors pass through.
 */
export function underFlag<T>(flag: string, path: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    const text = fsErrorText(err);
    if (text === null || err instanceof UserError) throw err;
    throw new UserError(`${flag} ${path}: cannot write (${text})`);
  }
}

/**
 * Checks that an explicit flag names an existing folder (a typo or a file would otherwise read as "nothing there"); a one-line
 * UserError naming the flag, the path and `expected` otherwise. Creates nothing.
 */
export function existingDir(path: string, flag: string, expected: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : `cannot read (${fsErrorText(err) ?? String(err)})`} (expected ${expected})`);
  }
  if (!isDir) throw new UserError(`${flag} ${path}: not a folder (expected ${expected})`);
}

/** Creates the folder a flag names if needed and checks that it is a writable folder; a one-line UserError naming the flag otherwise. */
export function writableDir(path: string, flag: string): void {
  try {
    mkdirSync(path, { recursive: true });
    if (!statSync(path).isDirectory()) throw new UserError(`${flag} ${path}: not a folder`);
    accessSync(path, constants.W_OK);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const text = fsErrorText(err);
    if (text === null) throw err;
    throw new UserError(`${flag} ${path}: not a writable folder (${text})`);
  }
}

/** A path relative to the repository when it lies inside it (records travel with the repo), else absolute. */
export function repoRelative(path: string): string {
  const rel = relative(REPO_ROOT, path);
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? path : rel;
}
