// Hardening (issue 9), through the real CLI in child processes: each refusal exits non-zero with exactly one line on
// stderr naming the flag or file, and leaves what was on disk as it was. Records and checkpoints go to temporary
// folders, never into the repository.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';
import { convmixer, convmixerAsync, REPO, tinyTrainFlags, type CliResult } from './helpers/cli.ts';
import { loadCifar10, prepareCifar10 } from '../lib/data/cifar10.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm-robust-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dataRoot = await tinyCifarDataRoot(tmp, 20, 20);

let n = 0;
/** Fresh results and checkpoint folders for one test. */
function dirs(): { R: string; C: string } {
  const d = join(tmp, `case-${++n}`);
  return { R: join(d, 'results'), C: join(d, 'checkpoints') };
}

/** Every file under a folder with the sha256 of its contents (folders as 'dir'): "nothing lost or changed on disk". */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { out[relative(root, p)] = 'dir'; walk(p); }
      else out[relative(root, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

/** A refusal: non-zero exit, exactly one line on stderr, matching `pattern`. */
function refused(r: CliResult, pattern: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  assert.notEqual(r.status, 0, `expected a refusal:\n${r.stdout}${r.stderr}`);
  assert.equal(r.signal, null);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

function ok(r: CliResult): void {
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
}

/** The pid of a process that has exited (and been reaped): a dead owner. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid!;
}

test('--run-id must be one safe folder name: ".", "..", dots only, separators and > 100 characters are refused before anything is written', () => {
  const { R, C } = dirs();
  // another run's checkpoint folder named like an epoch folder, and another run's record: cleanup must never reach them
  mkdirSync(join(C, 'epoch-0007'), { recursive: true });
  writeFileSync(join(C, 'epoch-0007', 'keep.txt'), 'another run\n');
  mkdirSync(R, { recursive: true });
  writeFileSync(join(R, 'other.json'), '{}\n');
  const before = { R: snapshot(R), C: snapshot(C) };
  for (const id of ['.', '..', '...', 'a/b', '../escape', 'a\\b', '.hidden', 'x'.repeat(101)]) {
    const r = convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', id]);
    refused(r, /^convmixer train: --run-id: /);
  }
  assert.deepEqual({ R: snapshot(R), C: snapshot(C) }, before);
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'x'.repeat(100)]));
});

test('an existing run record is not overwritten without --overwrite (a --no-checkpoint run, a record shipped in git)', () => {
  const { R, C } = dirs();
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'kept', '--no-checkpoint']));
  const record = join(R, 'kept.json');
  const before = snapshot(R);
  refused(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'kept', '--no-checkpoint']),
    new RegExp(`^convmixer train: run record ${record.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already exists; .*--overwrite`));
  refused(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'kept']), /run record .*kept\.json already exists; .*--overwrite/);
  assert.deepEqual(snapshot(R), before);
  // a record that came with the repository (no checkpoint anywhere)
  writeFileSync(join(R, 'shipped.json'), readFileSync(record, 'utf8').replace('"kept"', '"shipped"'));
  const shipped = snapshot(R);
  refused(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'shipped']), /run record .*shipped\.json already exists/);
  assert.deepEqual(snapshot(R), shipped);
  // --overwrite replaces it
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'kept', '--no-checkpoint', '--overwrite']));
  assert.notEqual(snapshot(R)['kept.json'], before['kept.json']);
  assert.equal(JSON.parse(readFileSync(record, 'utf8')).status, 'finished');
});

test('--resume of a finished run is refused and leaves its record and checkpoint as they are', () => {
  const { R, C } = dirs();
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'done']));
  const before = { R: snapshot(R), C: snapshot(C) };
  refused(convmixer(['train', '--resume', '--run-id', 'done', '--data-root', dataRoot, '--quiet', '--results-dir', R, '--checkpoint-dir', C]),
    /^convmixer train: --resume: run 'done' already finished \(.*done\.json\)/);
  assert.deepEqual({ R: snapshot(R), C: snapshot(C) }, before);
});

test('one process per run id: a live owner\'s lock refuses naming the run and pid; a dead owner\'s lock is taken over', async () => {
  const { R, C } = dirs();
  mkdirSync(C, { recursive: true });
  writeFileSync(join(C, 'busy.lock'), `${process.pid}\n`);
  refused(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'busy']), new RegExp(`^convmixer train: run 'busy' is in use by process ${process.pid} \\(lock .*busy\\.lock\\)`));
  assert.equal(existsSync(join(R, 'busy.json')), false);
  assert.equal(readFileSync(join(C, 'busy.lock'), 'utf8'), `${process.pid}\n`);

  writeFileSync(join(C, 'stale.lock'), `${deadPid()}\n`);
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'stale']));
  assert.equal(existsSync(join(C, 'stale.lock')), false, 'the lock is released at the end');

  // two processes at once on one run id: one trains, the other is refused in one line (by the lock, or by the record)
  const [a, b] = await Promise.all([0, 1].map(() => convmixerAsync([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'race'])));
  const results = [a!, b!].sort((x, y) => (x.status ?? 9) - (y.status ?? 9));
  ok(results[0]!);
  refused(results[1]!, /^convmixer train: (run 'race' is in use by process \d+|run record .*race\.json already exists)/);
  assert.equal(JSON.parse(readFileSync(join(R, 'race.json'), 'utf8')).status, 'finished');
  assert.equal(existsSync(join(C, 'race.lock')), false);
});

test('convmixer data cifar10: a cache folder in use is refused in one line; two at once never crash with a stack trace', async () => {
  const root = join(tmp, 'data-twice');
  const from = join(tmp, 'tiny.tar.gz');
  mkdirSync(join(root, 'cifar10'), { recursive: true });
  writeFileSync(join(root, 'cifar10', 'prepare.lock'), `${process.pid}\n`);
  refused(convmixer(['data', 'cifar10', '--from', from, '--root', root, '--quiet']), new RegExp(`^convmixer data: .*cifar10 is in use by process ${process.pid} \\(lock .*prepare\\.lock\\)`));
  rmSync(join(root, 'cifar10', 'prepare.lock'));
  const both = await Promise.all([0, 1].map(() => convmixerAsync(['data', 'cifar10', '--from', from, '--root', root, '--quiet'])));
  for (const r of both) {
    if (r.status !== 0) refused(r, /^convmixer data: .*is in use by process \d+/);
  }
  assert.ok(both.some((r) => r.status === 0), both.map((r) => r.stderr).join('\n'));
  assert.equal((await loadCifar10('train', { root })).n, 100);
  assert.equal(existsSync(join(root, 'cifar10', 'prepare.lock')), false);
});

test('temp files of killed processes (.<name>.<pid>.<ts>.tmp with a dead pid, untouched for 10 minutes) are removed by the next train and data run; others stay', () => {
  const { R, C } = dirs();
  const dead = deadPid();
  mkdirSync(R, { recursive: true });
  const cacheDir = join(dataRoot, 'cifar10', 'cache');
  const stale = [join(R, `.x.json.${dead}.1764000000000.tmp`), join(cacheDir, `.train.bin.${dead}.1764000000000.tmp`)];
  const keep = [join(R, `.y.json.${process.pid}.1764000000000.tmp`), join(R, '.notes.tmp'), join(R, `x.json.${dead}.1.tmp`), join(R, `.x.json.${dead}.tmp`)];
  // a dead writer's temp file written just now may be a live writer's on another host (shared file system): kept for now
  const fresh = join(R, `.z.json.${dead}.1764000000001.tmp`);
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const f of [...stale, ...keep]) { writeFileSync(f, 'partial'); utimesSync(f, hourAgo, hourAgo); }
  writeFileSync(fresh, 'partial');
  keep.push(fresh);
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'cleanup', '--no-checkpoint']));
  assert.equal(existsSync(stale[0]!), false);
  for (const f of keep) assert.ok(existsSync(f), `${f} was removed`);
  ok(convmixer(['data', 'cifar10', '--from', join(tmp, 'tiny.tar.gz'), '--root', dataRoot, '--quiet']));
  assert.equal(existsSync(stale[1]!), false);
  for (const f of keep) rmSync(f);
});

test('temp files of killed processes in a run\'s checkpoint folder (.LATEST.<pid>.<ts>.tmp, a half-written .epoch-NNNN.<pid>.tmp/) are removed by its next train', () => {
  const { R, C } = dirs();
  const dead = deadPid();
  const runDir = join(C, 'ckpt-temps');
  const epochTmp = join(runDir, `.epoch-0003.${dead}.tmp`);
  mkdirSync(epochTmp, { recursive: true });
  writeFileSync(join(epochTmp, 'state.safetensors'), 'partial');
  const latestTmp = join(runDir, `.LATEST.${dead}.1764000000000.tmp`);
  writeFileSync(latestTmp, 'epoch-0003\n');
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(latestTmp, hourAgo, hourAgo);
  ok(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'ckpt-temps']));
  assert.deepEqual(readdirSync(runDir).sort(), ['LATEST', 'epoch-0001', 'final.weights.safetensors']);
});

test('--patch larger than the images is refused naming the flag, before a record exists', () => {
  const { R, C } = dirs();
  refused(convmixer([...tinyTrainFlags(dataRoot, R, C), '--run-id', 'bigpatch', '--patch', '64']), /^convmixer train: --patch: 64 is larger than the 32x32 images/);
  assert.deepEqual(snapshot(R), {});
});

test('a cache with another number of classes than the model is refused naming --classes, before a record exists', async () => {
  // an image-folder dataset with 2 classes, prepared by the real data pipeline
  const src = join(tmp, 'two-classes');
  for (const split of ['train', 'test']) for (const [c, cls] of ['cat', 'dog'].entries()) {
    mkdirSync(join(src, split, cls), { recursive: true });
    for (let i = 0; i < 2; i++) {
      await sharp(Buffer.alloc(32 * 32 * 3, 60 + 100 * c + i), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(src, split, cls, `${i}.png`));
    }
  }
  const root = join(tmp, 'two-classes-data');
  await prepareCifar10({ from: src, root, quiet: true });
  const { R, C } = dirs();
  refused(convmixer([...tinyTrainFlags(root, R, C), '--run-id', 'classes']), /^convmixer train: --classes: the model has 10 classes, the data .* has 2/);
  assert.deepEqual(snapshot(R), {});
});

test('--results-dir / --checkpoint-dir / --data-root / --root naming a file are one-line errors naming the flag', () => {
  const { R, C } = dirs();
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'not a folder\n');
  refused(convmixer([...tinyTrainFlags(dataRoot, file, C), '--run-id', 'edges']), /^convmixer train: --results-dir .*a-file: /);
  refused(convmixer([...tinyTrainFlags(dataRoot, R, file), '--run-id', 'edges']), /^convmixer train: --checkpoint-dir .*a-file: /);
  refused(convmixer([...tinyTrainFlags(file, R, C), '--run-id', 'edges']), /^convmixer train: .*a-file/);
  refused(convmixer(['data', 'cifar10', '--from', join(tmp, 'tiny.tar.gz'), '--root', file, '--quiet']), /^convmixer data: --root .*a-file: /);
  // a data folder whose cache folder is a file: found while writing the cache, still one line naming --root
  const blocked = join(tmp, 'blocked-data');
  mkdirSync(join(blocked, 'cifar10'), { recursive: true });
  writeFileSync(join(blocked, 'cifar10', 'cache'), 'not a folder\n');
  refused(convmixer(['data', 'cifar10', '--from', join(tmp, 'tiny.tar.gz'), '--root', blocked, '--quiet']), /^convmixer data: --root .*blocked-data.*: cannot write .*\((EEXIST|ENOTDIR): /);
  assert.equal(readFileSync(join(blocked, 'cifar10', 'cache'), 'utf8'), 'not a folder\n');
  const blocked2 = join(tmp, 'blocked-data-2');
  mkdirSync(blocked2);
  writeFileSync(join(blocked2, 'cifar10'), 'not a folder\n');
  refused(convmixer(['data', 'cifar10', '--from', join(tmp, 'tiny.tar.gz'), '--root', blocked2, '--quiet']), /^convmixer data: --root .*blocked-data-2.*: cannot write \((EEXIST|ENOTDIR): /);
  assert.equal(readFileSync(file, 'utf8'), 'not a folder\n');
  assert.deepEqual(snapshot(R), {});
  assert.ok(!existsSync(C) || statSync(C).isDirectory());
});

test('convmixer data cifar10 --from something that is neither a file nor a folder (/dev/null) is a one-line error naming --from', () => {
  const root = join(tmp, 'from-device');
  for (const from of ['/dev/null', '/dev/zero']) {
    refused(convmixer(['data', 'cifar10', '--from', from, '--root', root, '--quiet']), new RegExp(`^convmixer data: --from ${from}: not a file or folder`));
  }
  assert.equal(existsSync(join(root, 'cifar10', 'cache', 'manifest.json')), false);
  assert.equal(existsSync(join(root, 'cifar10', 'prepare.lock')), false);
});

test('convmixer bench infer --results-dir: the record goes there, not into reports/results; a file there is one line naming the flag', () => {
  const { R } = dirs();
  const repoResults = join(REPO, 'reports', 'results');
  const flags = ['bench', 'infer', '--dim', '8', '--depth', '1', '--kernel', '3', '--patch', '2', '--batch', '1', '--steps', '1', '--warmup', '0', '--backend', 'cpu', '--json'];
  const tiny = (d: string): string[] => (existsSync(d) ? readdirSync(d).filter((f) => f.startsWith('bench-infer-8-1-k3-p2-b1-')) : []);
  const before = tiny(repoResults);
  try {
    ok(convmixer([...flags, '--results-dir', R]));
    assert.equal(tiny(R).length, 1);
    assert.deepEqual(tiny(repoResults), before);
    const file = join(tmp, 'bench-file');
    writeFileSync(file, 'not a folder\n');
    refused(convmixer([...flags, '--results-dir', file]), /^convmixer bench: --results-dir .*bench-file: not a writable folder/);
    assert.deepEqual(tiny(repoResults), before);
  } finally {
    for (const f of tiny(repoResults)) if (!before.includes(f)) rmSync(join(repoResults, f)); // never leave a test's record in the repository
  }
});

test('convmixer bench --precision: a bad value, bf16 on the JS kernels and --precision with bench models are one line each, no record written', () => {
  const { R } = dirs();
  const flags = ['bench', 'infer', '--dim', '8', '--depth', '1', '--kernel', '3', '--patch', '2', '--batch', '1', '--steps', '1', '--warmup', '0', '--results-dir', R];
  refused(convmixer([...flags, '--precision', 'fp16']), /^convmixer bench: --precision: expected one of fp32, bf16, got 'fp16'$/);
  refused(convmixer([...flags, '--precision', 'bf16', '--backend', 'cpu']), /^convmixer bench: precision bf16 needs the native engine \(--backend native\); this process uses cpu \(tfjs JS kernels\)$/);
  refused(convmixer(['bench', 'models', '--table', '1', '--precision', 'bf16', '--results-dir', R]), /^convmixer bench: --precision does not apply to bench models/);
  assert.deepEqual(readdirSync(R), []);
});

test('convmixer experiment run: --results-dir / --checkpoint-dir naming a file is refused once in one line, before any run starts', () => {
  const { R, C } = dirs();
  const file = join(tmp, 'experiment-file');
  writeFileSync(file, 'not a folder\n');
  const run = (results: string, checkpoints: string): CliResult =>
    convmixer(['experiment', 'run', 'table3', '--profile', 'smoke', '--seeds', '1', '--quiet', '--data-root', dataRoot, '--results-dir', results, '--checkpoint-dir', checkpoints]);
  refused(run(file, C), /^convmixer experiment: --results-dir .*experiment-file: not a writable folder/);
  refused(run(R, file), /^convmixer experiment: --checkpoint-dir .*experiment-file: not a writable folder/);
  assert.deepEqual(snapshot(R), {});
  assert.equal(readFileSync(file, 'utf8'), 'not a folder\n');
});

test('convmixer experiment status: an explicit --results-dir that is a file or missing is one line naming the flag (exit 2), not a status of no records', () => {
  const { R, C } = dirs();
  const file = join(tmp, 'status-file');
  writeFileSync(file, 'not a folder\n');
  const status = (results: string, extra: string[] = []): CliResult =>
    convmixer(['experiment', 'status', 'table3', '--profile', 'smoke', '--seeds', '1', '--results-dir', results, '--checkpoint-dir', C, ...extra]);
  for (const extra of [[], ['--json']]) {
    for (const [results, pattern] of [
      [file, /^convmixer experiment: --results-dir .*status-file: not a folder \(expected the folder of run records\)$/],
      ['/etc/passwd', /^convmixer experiment: --results-dir \/etc\/passwd: not a folder \(expected the folder of run records\)$/],
      [join(tmp, 'no-such-results'), /^convmixer experiment: --results-dir .*no-such-results: no such folder \(expected the folder of run records\)$/],
    ] as [string, RegExp][]) {
      const r = status(results, extra);
      refused(r, pattern);
      assert.equal(r.status, 2, `${results} ${extra}`);
      assert.equal(r.stdout, '', `${results} ${extra}: no status printed`);
    }
  }
  assert.equal(existsSync(join(tmp, 'no-such-results')), false, 'status creates no folder');
  assert.equal(readFileSync(file, 'utf8'), 'not a folder\n');
  // An existing (empty) folder is a status of no records, as before.
  mkdirSync(R, { recursive: true });
  const empty = status(R);
  ok(empty);
  assert.match(empty.stdout, /\n0 of \d+ rows done[^\n]*\n$/);
});

test('convmixer experiment status without --results-dir: a missing reports/results is just no records (exit 0)', () => {
  // A copy of the CLI's code in a fresh folder, so the default reports/results is really missing (the repository's is never touched).
  const root = join(tmp, 'bare-checkout');
  mkdirSync(root);
  for (const entry of ['bin', 'lib', 'package.json', 'tsconfig.json']) if (existsSync(join(REPO, entry))) cpSync(join(REPO, entry), join(root, entry), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  const r = spawnSync(process.execPath, ['bin/convmixer.mjs', 'experiment', 'status', 'table3', '--profile', 'smoke', '--seeds', '1', '--checkpoint-dir', join(root, 'ckpt')], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /\n0 of \d+ rows done[^\n]*\n$/);
  assert.equal(existsSync(join(root, 'reports', 'results')), false);
});

test('Ctrl-C again quits now: the first SIGINT asks the work to stop, a second one (work still running) exits 130 at once', async () => {
  // A process whose work ignores the stop request (as a step that never ends would), with the CLI's signal helper.
  const probe = join(tmp, 'second-ctrl-c.mjs');
  writeFileSync(probe, [
    `const { stopOnSignals } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'lib', 'cli', 'interrupt.ts')).href)});`,
    "const stop = stopOnSignals('test work');",
    "stop.signal.addEventListener('abort', () => console.log('abort requested'));",
    'setInterval(() => {}, 1000);',
    "console.log('ready');",
  ].join('\n'));
  const child = spawn(process.execPath, ['--import', 'tsx', probe], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  try {
    // stdout and stderr are separate pipes: wait for the abort on one AND the message on the other, in either order.
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (stdout.includes('ready') && !stdout.includes('abort requested') && !child.killed) child.kill('SIGINT');
        if (stdout.includes('abort requested') && stderr.includes('interrupt: stopping')) resolve();
      };
      child.stdout.setEncoding('utf8').on('data', (t: string) => { stdout += t; check(); });
      child.stderr.setEncoding('utf8').on('data', (t: string) => { stderr += t; check(); });
      child.on('exit', () => reject(new Error(`exited early: ${stdout}${stderr}`)));
    });
    assert.equal(child.exitCode, null, 'still running after the first Ctrl-C');
    assert.match(stderr, /interrupt: stopping after this step \(Ctrl-C again to quit now\); test work/);
    child.kill('SIGINT');
    const res = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    assert.deepEqual(res, { code: 130, signal: null });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
