// Lock files: one process at a time per run id (training) or per dataset folder (`convmixer data`). A lock is a file
// holding its owner's pid, created atomically ('wx': fails when it exists). A lock whose owner is no longer alive
// (kill -9, a crash, the end of a session) is stale and taken over; one whose owner is alive is a one-line refusal.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from './errors.ts';

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks this process holds (a lock file with our own pid that is not in here is a leftover of an earlier process that had our pid). */
const held = new Set<string>();

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pid written in a lock file; undefined when there is no such file, NaN while it is being written or when it is garbage. */
function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return /^\d+\n?$/.test(text) ? Number(text) : NaN;
}

/** The pid of the live process holding the lock at `path`, or null when nobody holds it (no file, or a stale one). */
export function lockOwner(path: string): number | null {
  const pid = readPid(path);
  if (pid === undefined || Number.isNaN(pid)) return null;
  if (pid === process.pid) return held.has(path) ? pid : null;
  return pidAlive(pid) ? pid : null;
}

export interface Lock {
  path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): void;
}

/**
 * Takes the lock at `path` for this process, or throws a one-line UserError: `<what> is in use by process <pid> (lock <path>)`.
 * A stale lock (its pid is not alive) is taken over.
 */
export function acquireLock(path: string, what: string): Lock {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(path);
      return { path, release: () => releaseLock(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = readPid(path);
    if (pid === undefined) continue; // released meanwhile: try again
    if (Number.isNaN(pid)) {
      // Just created by another process that has not written its pid yet, or garbage: wait a moment before calling it stale.
      let age = 0;
      try { age = Date.now() - statSync(path).mtimeMs; } catch { continue; }
      if (age < 2000) { sleepMs(50); continue; }
    } else if (pid === process.pid ? held.has(path) : pidAlive(pid)) {
      throw new UserError(`${what} is in use by process ${pid} (lock ${path})`);
    }
    takeOver(path, pid);
  }
  throw new UserError(`${what}: could not take the lock ${path} (it keeps changing); try again`);
}

/** Moves a stale lock aside; if what was moved turns out to be a fresh lock of another process (a race), puts it back. */
function takeOver(path: string, stalePid: number): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readPid(aside);
  if (moved !== stalePid && !(Number.isNaN(moved) && Number.isNaN(stalePid))) {
    try { linkSync(aside, path); } catch { /* another process took it meanwhile: it holds the lock */ }
  }
  rmSync(aside, { force: true });
}

function releaseLock(path: string): void {
  if (!held.delete(path)) return;
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}
