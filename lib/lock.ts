// Lock files: one process at a time per run id (training) or per dataset folder (`convmixer data`). A lock is a file
// holding its owner's pid and host, created atomically ('wx': fails when it exists). A lock whose owner is no longer
// alive (kill -9, a crash, the end of a session) is stale and taken over; one whose owner is alive is a one-line
// refusal. A lock written on another host (a shared file system, Slurm) cannot be checked from here: it counts as held,
// and the refusal says to delete it if that process is gone. A lock holding only a pid (written before hosts were
// recorded) counts as this host's.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
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

const HOST = hostname();

interface Owner { pid: number; host: string | null }

/** The owner written in a lock file; undefined when there is no such file, null while it is being written or when it is garbage. */
function readOwner(path: string): Owner | null | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const m = /^(\d+)(?: (\S+))?\n?$/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2] ?? null } : null;
}

const sameOwner = (a: Owner | null | undefined, b: Owner | null | undefined): boolean =>
  a === b || (!!a && !!b && a.pid === b.pid && a.host === b.host);

const onThisHost = (o: Owner): boolean => o.host === null || o.host === HOST;

/** Whether the owner still holds the lock: its process is alive (this host), or it is on another host (cannot tell). */
function ownerAlive(o: Owner, path: string): boolean {
  if (!onThisHost(o)) return true;
  if (o.pid === process.pid) return held.has(path);
  return pidAlive(o.pid);
}

function describe(o: Owner): string {
  return onThisHost(o) ? `process ${o.pid}` : `process ${o.pid} on host ${o.host}`;
}

/** The pid of the live process holding the lock at `path`, or null when nobody holds it (no file, or a stale one). */
export function lockOwner(path: string): number | null {
  const o = readOwner(path);
  return o && ownerAlive(o, path) ? o.pid : null;
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
  const me: Owner = { pid: process.pid, host: HOST };
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${me.pid} ${me.host}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(path);
      return { path, release: () => releaseLock(path, me) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(path);
    if (owner === undefined) continue; // released meanwhile: try again
    if (owner === null) {
      // Just created by another process that has not written its pid yet, or garbage: wait a moment before calling it stale.
      let age = 0;
      try { age = Date.now() - statSync(path).mtimeMs; } catch { continue; }
      if (age < 2000) { sleepMs(50); continue; }
    } else if (ownerAlive(owner, path)) {
      const hint = onThisHost(owner) ? '' : '; delete the lock if that process is gone';
      throw new UserError(`${what} is in use by ${describe(owner)} (lock ${path})${hint}`);
    }
    takeOver(path, owner);
  }
  throw new UserError(`${what}: could not take the lock ${path} (it keeps changing); try again`);
}

/** Moves a stale lock aside; if what was moved turns out to be a fresh lock of another process (a race), puts it back. */
function takeOver(path: string, stale: Owner | null): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!sameOwner(readOwner(aside), stale)) {
    try { linkSync(aside, path); } catch { /* another process took it meanwhile: it holds the lock */ }
  }
  rmSync(aside, { force: true });
}

function releaseLock(path: string, me: Owner): void {
  if (!held.delete(path)) return;
  if (sameOwner(readOwner(path), me)) rmSync(path, { force: true });
}
