// Run records' provenance: gitState says which commit the code came from and whether tracked code differs from it;
// run records and generated pages under reports/ are outputs and do not make a run "dirty".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeGitState, gitState } from '../lib/runRecord.ts';

const repo = mkdtempSync(join(tmpdir(), 'cm-git-'));
after(() => rmSync(repo, { recursive: true, force: true }));
const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, encoding: 'utf8' }).trim();

test('gitState: clean at a commit; a changed record under reports/ stays clean; changed code or notebooks are dirty', () => {
  mkdirSync(join(repo, 'lib'));
  mkdirSync(join(repo, 'reports', 'results'), { recursive: true });
  mkdirSync(join(repo, 'notebooks'));
  writeFileSync(join(repo, 'lib', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(repo, 'reports', 'results', 'run.json'), '{"status":"running"}\n');
  writeFileSync(join(repo, 'notebooks', 'n.ipynb'), '{}\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'init');
  const head = git('rev-parse', 'HEAD');
  assert.deepEqual(gitState(repo), { commit: head, dirty: false });

  writeFileSync(join(repo, 'reports', 'results', 'run.json'), '{"status":"finished"}\n'); // an earlier run's record rewritten
  writeFileSync(join(repo, 'untracked.ts'), 'x\n'); // untracked files are not the code that ran
  assert.deepEqual(gitState(repo), { commit: head, dirty: false });

  writeFileSync(join(repo, 'notebooks', 'n.ipynb'), '{"cells":[]}\n');
  assert.deepEqual(gitState(repo), { commit: head, dirty: true });
  git('checkout', '-q', '--', 'notebooks');
  writeFileSync(join(repo, 'lib', 'a.ts'), 'export const a = 2;\n');
  assert.deepEqual(gitState(repo), { commit: head, dirty: true });
});

test('gitState: outside a git checkout the commit is unknown, not an exception', () => {
  const plain = mkdtempSync(join(tmpdir(), 'cm-nogit-'));
  try {
    assert.deepEqual(gitState(plain), { commit: 'unknown', dirty: false });
  } finally {
    rmSync(plain, { recursive: true, force: true });
  }
});

test('codeGitState: read once per process and kept (a long runner stamps every record with the code it loaded)', () => {
  const first = codeGitState();
  assert.deepEqual(first, gitState());
  assert.equal(codeGitState(), first, 'the same object: not read again');
});
