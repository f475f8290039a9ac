// Running the real `convmixer` CLI in a child process from tests: the repository root (fileURLToPath, so a checkout
// under a path with spaces works), a synchronous and an asynchronous runner, and the tiny training flags CLI tests share.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `node bin/convmixer.mjs ...args` in the repository root, waited for. */
export function convmixer(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, ['bin/convmixer.mjs', ...args], { cwd: REPO, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The same, without blocking the event loop (for two processes at once). */
export function convmixerAsync(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/convmixer.mjs', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** Flags for a one-epoch smoke run on a tiny prepared cache (test/helpers/tinyCifar.ts), with records and checkpoints in tmp folders. */
export function tinyTrainFlags(dataRoot: string, resultsDir: string, checkpointDir: string, extra: string[] = []): string[] {
  return ['train', '--profile', 'smoke', '--data-root', dataRoot, '--train-subset', '0', '--test-subset', '0', '--epochs', '1',
    '--batch', '50', '--eval-batch', '50', '--seed', '3', '--experiment', 'test-robustness', '--quiet',
    '--results-dir', resultsDir, '--checkpoint-dir', checkpointDir, ...extra];
}
