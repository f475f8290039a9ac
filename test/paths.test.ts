// File paths from module URLs go through fileURLToPath, never URL.pathname (which keeps %20 for a space, %C3%A9 for é, ...),
// so a checkout under such a path works: a scan of the sources, and scripts/run-tests.mjs run from a folder with a space.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { REPO } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cm paths é-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : sources(p);
    return /\.(ts|mjs|js)$/.test(e.name) ? [p] : [];
  });
}

test('no source turns a file URL into a path with .pathname (lib, bin, scripts, test)', () => {
  // .pathname of a URL built on a module URL; a one-argument URL of an http address (a download's file name) is fine.
  const bad = ['lib', 'bin', 'scripts', 'test'].flatMap((d) => sources(join(REPO, d)))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ f, i, line })))
    .filter(({ line }) => /new URL\([^()]*,[^()]*\)\.pathname/.test(line) || /import\.meta\.url\)?\.pathname/.test(line))
    .map(({ f, i, line }) => `${relative(REPO, f)}:${i + 1}: ${line.trim()}`);
  assert.deepEqual(bad, []);
});

test('scripts/run-tests.mjs runs from a checkout whose path has a space and a non-ASCII character', () => {
  const checkout = join(tmp, 'my checkout');
  mkdirSync(join(checkout, 'scripts'), { recursive: true });
  mkdirSync(join(checkout, 'test'));
  copyFileSync(join(REPO, 'scripts', 'run-tests.mjs'), join(checkout, 'scripts', 'run-tests.mjs'));
  symlinkSync(join(REPO, 'node_modules'), join(checkout, 'node_modules'));
  writeFileSync(join(checkout, 'package.json'), '{"type": "module"}\n');
  writeFileSync(join(checkout, 'test', 'one.test.ts'), "import { test } from 'node:test';\ntest('runs', () => {});\n");
  const { NODE_TEST_CONTEXT: _nested, ...env } = process.env; // a plain test run, not a subtest of this one
  const r = spawnSync(process.execPath, [join(checkout, 'scripts', 'run-tests.mjs')], { cwd: checkout, encoding: 'utf8', timeout: 60_000, env });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /runs/);
});

test('a copy of the checkout under a path with a space and a non-ASCII character finds its native addon and the PyTorch bench script', () => {
  const checkout = join(tmp, 'my copy');
  for (const d of ['lib', 'bin']) cpSync(join(REPO, d), join(checkout, d), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json', 'scripts/bench_torch.py', 'build/native-status.json', 'build/Release/convmixer_native.node']) {
    if (!existsSync(join(REPO, f))) continue;
    mkdirSync(dirname(join(checkout, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(checkout, f));
  }
  symlinkSync(join(REPO, 'node_modules'), join(checkout, 'node_modules'));
  const { NODE_TEST_CONTEXT: _nested, CONVMIXER_BACKEND: _backend, ...env } = process.env;
  const backend = (cwd: string): { backend: string; candidates: { native: { available: boolean; detail: string } } } => {
    const r = spawnSync(process.execPath, ['bin/convmixer.mjs', 'backend', '--json'], { cwd, encoding: 'utf8', timeout: 60_000, env });
    assert.equal(r.status, 0, `${cwd}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  // the same answer as the checkout the tests run from (native where it is built here, with the same reason where not)
  const here = backend(REPO), copy = backend(checkout);
  assert.equal(copy.backend, here.backend, copy.candidates.native.detail);
  assert.equal(copy.candidates.native.available, here.candidates.native.available, copy.candidates.native.detail);
  writeFileSync(join(checkout, 'probe.mjs'), [
    "import { existsSync } from 'node:fs';",
    "import { TORCH_SCRIPT } from './lib/bench/torch.ts';",
    "import { REPO_ROOT } from './lib/io.ts';",
    'console.log(JSON.stringify({ script: TORCH_SCRIPT, exists: existsSync(TORCH_SCRIPT), root: REPO_ROOT }));',
  ].join('\n'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'probe.mjs'], { cwd: checkout, encoding: 'utf8', timeout: 60_000, env });
  assert.equal(r.status, 0, r.stderr);
  const paths = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(paths, { script: join(checkout, 'scripts', 'bench_torch.py'), exists: true, root: checkout });
});
