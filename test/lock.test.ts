// lib/lock.ts: pid lock files created with 'wx'; a live owner refuses in one line naming the pid, a dead one's lock is taken over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, lockOwner, pidAlive } from '../lib/lock.ts';
import { UserError } from '../lib/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-lock-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

test('lock: acquire writes our pid, a second acquire in this process is refused, release removes it', () => {
  const path = join(tmp, 'sub', 'a.lock');
  const lock = acquireLock(path, "run 'a'");
  assert.equal(readFileSync(path, 'utf8'), `${process.pid} ${hostname()}\n`);
  assert.equal(lockOwner(path), process.pid);
  assert.throws(() => acquireLock(path, "run 'a'"), (err: Error) => err instanceof UserError && err.message === `run 'a' is in use by process ${process.pid} (lock ${path})`);
  lock.release();
  lock.release();
  assert.equal(existsSync(path), false);
  assert.equal(lockOwner(path), null);
});

test('lock: a live owner refuses; dead owners, garbage older than 2 s and leftovers with our pid are taken over', async () => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    const live = join(tmp, 'live.lock');
    writeFileSync(live, `${child.pid}\n`);
    assert.equal(pidAlive(child.pid!), true);
    assert.equal(lockOwner(live), child.pid);
    assert.throws(() => acquireLock(live, 'x'), new RegExp(`: x is in use by process ${child.pid} \\(lock `));
    assert.equal(readFileSync(live, 'utf8'), `${child.pid}\n`);
  } finally {
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
  }
  const dead = deadPid();
  assert.equal(pidAlive(dead), false);
  for (const [name, content, old] of [['dead', `${dead}\n`, false], ['dead-here', `${dead} ${hostname()}\n`, false], ['garbage', 'zzz', true], ['mine', `${process.pid}\n`, false]] as const) {
    const path = join(tmp, `${name}.lock`);
    writeFileSync(path, content);
    if (old) utimesSync(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    assert.equal(lockOwner(path), null, name);
    const lock = acquireLock(path, name);
    assert.equal(readFileSync(path, 'utf8'), `${process.pid} ${hostname()}\n`, name);
    lock.release();
    assert.equal(existsSync(path), false, name);
  }
});

test('lock: a lock written on another host counts as held (its pid cannot be checked from here); the refusal says to delete it if stale', () => {
  const path = join(tmp, 'remote.lock');
  writeFileSync(path, `${deadPid()} some-other-node\n`);
  assert.notEqual(lockOwner(path), null);
  assert.throws(() => acquireLock(path, "run 'r'"), (err: Error) => err instanceof UserError &&
    /^run 'r' is in use by process \d+ on host some-other-node \(lock .*remote\.lock\); delete the lock if that process is gone$/.test(err.message));
  assert.match(readFileSync(path, 'utf8'), / some-other-node\n$/);
});
