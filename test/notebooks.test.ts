// Notebook execution: parameter parsing/injection (unit), a tiny fixture notebook really run through the tslab
// kernel with overrides, and a deliberately broken notebook making `convmixer notebooks run` fail with the cell number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { runNotebook } from '../lib/notebooks/executor.ts';
import { runNotebooks } from '../lib/notebooks/run.ts';
import { cellSource, declaredParameters, injectParameters, parseParamAssignments, readNotebook, type Notebook } from '../lib/notebooks/ipynb.ts';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('./fixtures/notebooks/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function scratchCopy(name: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-nb-test-'));
  const path = join(dir, name);
  copyFileSync(join(FIXTURES, name), path);
  return { dir, path };
}

test('parseParamAssignments: JSON values when they parse, strings otherwise', () => {
  assert.deepEqual(parseParamAssignments(['profile=quick', 'epochs=3', 'rerun=true', 'lr=1e-3', 'name="a b"', 'list=[1,2]', 'obj={"a":1}', 'empty=']), {
    profile: 'quick', epochs: 3, rerun: true, lr: 0.001, name: 'a b', list: [1, 2], obj: '{"a":1}', empty: '',
  });
  assert.throws(() => parseParamAssignments(['no-equals']), UserError);
  assert.throws(() => parseParamAssignments(['1x=3']), /identifier/);
});

test('declaredParameters finds top-level const/let/var names', () => {
  assert.deepEqual(declaredParameters("const profile: string = 'quick';\nlet n = 2;\n  var x_1 = [];\n// const commented = 1\nfoo(const_like);"), ['profile', 'n', 'x_1']);
});

test('injectParameters adds one tagged cell after the parameters cell, replacing earlier injections; unknown names fail', () => {
  const nb = readNotebook(join(FIXTURES, 'tiny.ipynb'));
  const once = injectParameters(nb, { greeting: 'hey', repeat: 3 });
  assert.equal(once.cells.length, nb.cells.length + 1);
  const at = once.cells.findIndex((c) => c.metadata.tags?.includes('parameters'));
  const injected = once.cells[at + 1]!;
  assert.deepEqual(injected.metadata.tags, ['injected-parameters']);
  assert.equal(cellSource(injected), '// Injected parameters\nconst greeting = "hey";\nconst repeat = 3;');
  const twice = injectParameters(once as Notebook, { repeat: 5 });
  assert.equal(twice.cells.filter((c) => c.metadata.tags?.includes('injected-parameters')).length, 1);
  assert.equal(cellSource(twice.cells[at + 1]!), '// Injected parameters\nconst repeat = 5;');
  assert.equal(injectParameters(once as Notebook, {}).cells.length, nb.cells.length);
  assert.throws(() => injectParameters(nb, { greting: 'typo' }, 'tiny.ipynb'), /no parameter 'greting'.*greeting, repeat/);
});

test('runNotebook runs the tiny fixture in the tslab kernel with overrides and stores the outputs', async () => {
  const { dir, path } = scratchCopy('tiny.ipynb');
  try {
    const res = await runNotebook(path, { params: { greeting: 'hey', repeat: 3 } });
    assert.equal(res.ok, true, res.failure?.message);
    const nb = readNotebook(path);
    const outputsOf = (id: string) => nb.cells.find((c) => c.id === id)!.outputs!;
    // parameters -> injected cell -> computed values: the override reached every later cell.
    assert.deepEqual(outputsOf('compute'), [{ output_type: 'stream', name: 'stdout', text: 'hey hey hey\n' }]);
    assert.deepEqual(outputsOf('display'), [{ output_type: 'display_data', data: { 'text/html': '<p id="tiny-out">HEY x 3</p>' }, metadata: {} }]);
    // tslab sends expression values as stdout, not execute_result.
    assert.deepEqual(outputsOf('expr'), [{ output_type: 'stream', name: 'stdout', text: '21\n' }]);
    assert.deepEqual(nb.cells.map((c) => c.execution_count ?? null), [null, 1, 2, 3, 4, 5]);
    assert.deepEqual((nb.metadata.convmixer as { status: string }).status, 'ok');
    // The commit the notebook ran against is stored with its outputs (this checkout's HEAD).
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    assert.equal((nb.metadata.convmixer as { gitCommit: string }).gitCommit, head);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runNotebooks records one git state for the whole batch: stored outputs of the first cannot mark the next dirty', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-nb-batch-'));
  try {
    const paths = ['a.ipynb', 'b.ipynb'].map((n) => join(dir, n));
    for (const p of paths) copyFileSync(join(FIXTURES, 'tiny.ipynb'), p);
    // The state read at the start of the batch (here given, as `convmixer report` passes the one it read) is what
    // every notebook stores, whatever the tree looks like after the first one was written.
    const git = { commit: 'c0ffee0000000000000000000000000000000000', dirty: false };
    const lines: string[] = [];
    const results = await runNotebooks(paths, { params: { repeat: 2 }, git, log: (l) => lines.push(l) });
    assert.deepEqual(results.map((r) => r.ok), [true, true], lines.join('\n'));
    for (const p of paths) {
      const meta = readNotebook(p).metadata.convmixer as { gitCommit: string; gitDirty: boolean; parameters: unknown };
      assert.deepEqual([meta.gitCommit, meta.gitDirty, meta.parameters], [git.commit, false, { repeat: 2 }], p);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convmixer notebooks run: a broken notebook fails at its cell number, exit 1, earlier outputs kept, later cells not run; its kernel is shut down and its connection file removed', () => {
  const { dir, path } = scratchCopy('broken.ipynb');
  try {
    // A private TMPDIR: the kernel's connection folder (convmixer-kernel-*) is made there, so what is left behind can be seen.
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const res = spawnSync(process.execPath, ['bin/convmixer.mjs', 'notebooks', 'run', path], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: tmp } });
    assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('convmixer-kernel-')), [], 'the connection file (with the HMAC key) is removed');
    const ps = spawnSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).stdout;
    assert.deepEqual(ps.split('\n').filter((l) => l.includes('tslab kernel') && l.includes(tmp)), [], 'no tslab kernel of this run is left running');
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, /broken\.ipynb: cell 3 failed \(throw new Error\('deliberately broken cell'\);\)/);
    assert.match(res.stderr, /Error: deliberately broken cell/);
    const nb = readNotebook(path);
    assert.deepEqual(nb.cells[1]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'first cell ran 42\n' }]);
    assert.ok(nb.cells[2]!.outputs!.some((o) => o.output_type === 'stream' && o.name === 'stderr' && o.text.includes('deliberately broken cell')));
    assert.deepEqual(nb.cells[3]!.outputs, []);
    assert.equal(nb.cells[3]!.execution_count, null);
    assert.deepEqual(nb.metadata.convmixer && (nb.metadata.convmixer as { failedCell: number }).failedCell, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convmixer notebooks run: a parameter the notebook lacks is a one-line error (exit 2), nothing executed', () => {
  const { dir, path } = scratchCopy('tiny.ipynb');
  try {
    const before = readFileSync(path, 'utf8');
    const res = spawnSync(process.execPath, ['bin/convmixer.mjs', 'notebooks', 'run', path, '-p', 'greting=x'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(res.status, 2);
    assert.equal(res.stderr.trim(), "convmixer notebooks: tiny.ipynb: no parameter 'greting' in its parameters cell (it has: greeting, repeat)");
    assert.equal(readFileSync(path, 'utf8'), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convmixer notebooks run: a parameter of the wrong type (or an unknown profile) is a one-line error (exit 2) before any kernel starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convmixer-nb-test-'));
  try {
    for (const name of ['01-architecture.ipynb', '02-cifar-ablations.ipynb']) copyFileSync(join(ROOT, 'notebooks', name), join(dir, name));
    const cases: [string, string, string][] = [
      ['01-architecture.ipynb', 'buildLimit=abc', `01-architecture.ipynb: parameter 'buildLimit' expects a number, got "abc" (not a number)`],
      ['01-architecture.ipynb', 'profile=huge', `01-architecture.ipynb: parameter 'profile' expects one of smoke|quick|paper, got "huge"`],
      ['01-architecture.ipynb', 'rerun=1', `01-architecture.ipynb: parameter 'rerun' expects a boolean, got 1`],
      ['02-cifar-ablations.ipynb', 'seeds=x', `02-cifar-ablations.ipynb: parameter 'seeds' expects a number, got "x" (not a number)`],
    ];
    for (const [name, assignment, message] of cases) {
      const path = join(dir, name);
      const before = readFileSync(path, 'utf8');
      const res = spawnSync(process.execPath, ['bin/convmixer.mjs', 'notebooks', 'run', path, '-p', assignment], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      assert.equal(res.status, 2, `${assignment}: ${res.stderr}`);
      assert.equal(res.stderr.trim(), `convmixer notebooks: ${message}`);
      assert.equal(readFileSync(path, 'utf8'), before);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** tslab kernels started by `parent` (their command line names the connection file): pid and connection file. */
function kernelsOf(parent: number): { pid: number; connectionFile: string }[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').map((l) => /^\s*(\d+)\s+(\d+)\s+.*tslab kernel --config-path (\S+)/.exec(l)).filter((m) => m !== null && Number(m[2]) === parent)
    .map((m) => ({ pid: Number(m![1]), connectionFile: m![3]! }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is gone for our purposes
  return !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());
}

async function signalMidCell(sig: NodeJS.Signals): Promise<void> {
  const { dir, path } = scratchCopy('slow.ipynb');
  const marker = join(dir, 'started');
  const before = readFileSync(path, 'utf8');
  const child = spawn(process.execPath, ['bin/convmixer.mjs', 'notebooks', 'run', path], { cwd: ROOT, env: { ...process.env, CONVMIXER_TEST_MARKER: marker }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => { stderr += t; });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let kernels: { pid: number; connectionFile: string }[] = [];
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(marker)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the slow cell never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    kernels = kernelsOf(child.pid!);
    assert.equal(kernels.length, 1, 'one tslab kernel runs the notebook');
    assert.ok(existsSync(kernels[0]!.connectionFile));
    child.kill(sig);
    const res = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    assert.ok(res !== null, `the CLI did not exit within 15 s of ${sig}: ${stderr}`);
    assert.equal(res.code, 2, `${sig}: ${JSON.stringify(res)} ${stderr}`);
    const lines = stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^convmixer notebooks: slow\.ipynb: interrupted in cell 3 \(import \{ writeFileSync \} from 'node:fs';\); the kernel was shut down and the notebook left as it was$/);
    assert.doesNotMatch(stderr, /^\s+at /m);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(alive(kernels[0]!.pid), false, `the tslab kernel ${kernels[0]!.pid} still runs after ${sig}`);
    assert.equal(existsSync(kernels[0]!.connectionFile), false, 'the connection file (with the HMAC key) is removed');
    assert.equal(readFileSync(path, 'utf8'), before);
  } finally {
    // whatever this test started must not outlive it, whether or not the CLI cleaned up
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const k of kernels) {
      if (alive(k.pid)) process.kill(k.pid, 'SIGKILL');
      rmSync(dirname(k.connectionFile), { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

test('convmixer notebooks run: SIGINT mid-cell shuts the tslab kernel down and removes its connection file, exit 2 with one line', async () => {
  await signalMidCell('SIGINT');
});

test('convmixer notebooks run: SIGTERM mid-cell shuts the tslab kernel down and removes its connection file, exit 2 with one line', async () => {
  await signalMidCell('SIGTERM');
});
