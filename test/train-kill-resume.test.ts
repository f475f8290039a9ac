// A real crash, across processes: `convmixer train` is SIGKILLed after its epoch-1 checkpoint and continued with
// `--resume --run-id`; the final weights and metrics must equal those of the same run left alone. Also the --ra-m range.
// Records and checkpoints go to a temporary folder (--results-dir / --checkpoint-dir), never into the repository.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainConfigFromFlags } from '../lib/cli/train.ts';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cm-kill-'));
const RESULTS = join(tmp, 'results');
const CHECKPOINTS = join(tmp, 'checkpoints');
const ID = { A: 'test-kill-A', B: 'test-kill-B', C: 'test-kill-C' };
const EPOCHS = 5;

after(() => rmSync(tmp, { recursive: true, force: true }));

const recipeFlags = (root: string): string[] => [
  '--profile', 'smoke', '--data-root', root, '--train-subset', '0', '--test-subset', '0',
  '--epochs', String(EPOCHS), '--batch', '8', '--eval-batch', '50', '--seed', '7', '--experiment', 'test-kill-resume', '--quiet',
  '--results-dir', RESULTS, '--checkpoint-dir', CHECKPOINTS,
];
const cli = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, ['bin/convmixer.mjs', 'train', ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });

/**
 * Starts a run and sends it `sig` as soon as it reports epoch 1 (printed after the epoch-1 checkpoint and record are
 * saved). An epoch takes ~0.5 s of small batch-8 steps, so the signal lands well before the last of the 5 epochs even on
 * a busy machine; the test reads which epoch the last checkpoint holds and checks that the run was cut short.
 */
function trainAndSignalAfterEpoch1(args: string[], sig: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/convmixer.mjs', 'train', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', sent = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (!sent && /^epoch 1\/\d+ /m.test(stdout)) {
        sent = true;
        child.kill(sig);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('exit', (code, signal) => (sent ? resolve({ code, signal, stdout, stderr }) : reject(new Error(`run exited ${code} before the signal:\n${stdout}${stderr}`))));
  });
}

const record = (id: string): { status: string; metrics: Record<string, unknown>; epochs: Record<string, number>[]; notes?: string } =>
  JSON.parse(readFileSync(join(RESULTS, `${id}.json`), 'utf8'));
/** What a run computed, without wall-clock fields and without the run id inside the weights path. */
const computed = (r: ReturnType<typeof record>): unknown => ({
  metrics: Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !['trainSeconds', 'imgPerSec', 'weightsFile'].includes(k))),
  epochs: r.epochs.map(({ seconds: _s, imgPerSec: _i, ...rest }) => rest),
});

test('train CLI: SIGKILL after the epoch-1 checkpoint, then --resume, ends with the same weights and metrics as an uninterrupted run', async () => {
  const root = await tinyCifarDataRoot(tmp);

  const a = cli([...recipeFlags(root), '--run-id', ID.A]);
  assert.equal(a.status, 0, `${a.stdout}${a.stderr}`);
  assert.equal(record(ID.A).status, 'finished');

  const killed = await trainAndSignalAfterEpoch1([...recipeFlags(root), '--run-id', ID.B], 'SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  // the kill landed mid-run: the last checkpoint is an epoch before the last, the record still says running, no final weights
  const ckptB = join(CHECKPOINTS, ID.B);
  const latest = readFileSync(join(ckptB, 'LATEST'), 'utf8').trim();
  const killedAt = Number(/^epoch-(\d{4})$/.exec(latest)?.[1]);
  assert.ok(killedAt >= 1 && killedAt < EPOCHS, `killed after epoch ${latest}; expected before epoch ${EPOCHS}:\n${killed.stdout}`);
  assert.equal(record(ID.B).status, 'running');
  assert.equal(record(ID.B).epochs.length, killedAt);
  assert.equal(existsSync(join(ckptB, 'final.weights.safetensors')), false);

  const b = cli(['--resume', '--run-id', ID.B, '--data-root', root, '--quiet', '--results-dir', RESULTS, '--checkpoint-dir', CHECKPOINTS]);
  assert.equal(b.status, 0, `${b.stdout}${b.stderr}`);
  assert.match(String(b.stdout), /resuming run .* with the recipe saved in its checkpoint/);

  const ra = record(ID.A), rb = record(ID.B);
  assert.equal(rb.status, 'finished');
  assert.match(rb.notes ?? '', new RegExp(`^resumed at epoch ${killedAt} \\(step ${killedAt * 38}\\)`)); // ceil(300 images / batch 8) steps per epoch
  assert.equal(ra.epochs.length, EPOCHS);
  assert.deepEqual(computed(rb), computed(ra));
  assert.ok(typeof ra.metrics['testAcc'] === 'number' && Number.isFinite(ra.metrics['trainLoss'] as number));

  // weights: byte-identical except the run id stored in the safetensors metadata (the ids have equal length)
  const wa = readFileSync(join(CHECKPOINTS, ID.A, 'final.weights.safetensors'));
  const wb = readFileSync(join(ckptB, 'final.weights.safetensors'));
  assert.equal(wa.length, wb.length);
  const headerEnd = 8 + Number(wa.readBigUInt64LE(0));
  assert.equal(Buffer.compare(wa.subarray(headerEnd), wb.subarray(headerEnd)), 0, 'tensor bytes differ');
  assert.equal(wa.toString('latin1').replaceAll(ID.A, ID.B), wb.toString('latin1'));
  // only the two runs' own files were written under the checkpoints folder
  assert.deepEqual(readdirSync(ckptB).sort(), ['LATEST', `epoch-000${EPOCHS}`, 'final.weights.safetensors']);
  // and nothing in the repository's own reports folder
  assert.equal(existsSync(join(REPO, 'reports', 'results', `${ID.B}.json`)), false);
  assert.equal(existsSync(join(REPO, 'reports', 'checkpoints', ID.B)), false);
});

test('train CLI: Ctrl-C (a real SIGINT) after epoch 1 stops within the epoch with a failed record and its checkpoint; --resume continues bit for bit', async () => {
  // the same seeded tiny data as the first test, prepared in its own folder (this test may run alone)
  mkdirSync(join(tmp, 'sigint'));
  const root = await tinyCifarDataRoot(join(tmp, 'sigint'));
  if (!existsSync(join(RESULTS, `${ID.A}.json`))) {
    const a = cli([...recipeFlags(root), '--run-id', ID.A]);
    assert.equal(a.status, 0, `${a.stdout}${a.stderr}`);
  }
  const stopped = await trainAndSignalAfterEpoch1([...recipeFlags(root), '--run-id', ID.C], 'SIGINT');
  // a clean stop: exit code 2 and the interrupt's one line, no stack trace
  assert.equal(stopped.code, 2, stopped.stdout + stopped.stderr);
  assert.match(stopped.stderr, /interrupt: stopping after this step \(Ctrl-C again to quit now\)/);
  assert.match(stopped.stderr, /^convmixer train: interrupted in epoch \d+ at step \d+; continue with --resume --run-id test-kill-C$/m);
  assert.doesNotMatch(stopped.stderr, /^\s+at /m);
  const rc = record(ID.C);
  const stoppedAfter = Number(/^epoch-(\d{4})$/.exec(readFileSync(join(CHECKPOINTS, ID.C, 'LATEST'), 'utf8').trim())?.[1]);
  assert.deepEqual([rc.status, rc.metrics['failure'], rc.epochs.length], ['failed', 'aborted', stoppedAfter]);
  assert.ok(stoppedAfter >= 1 && stoppedAfter < EPOCHS, `stopped after epoch ${stoppedAfter}`);

  const c = cli(['--resume', '--run-id', ID.C, '--data-root', root, '--quiet', '--results-dir', RESULTS, '--checkpoint-dir', CHECKPOINTS]);
  assert.equal(c.status, 0, `${c.stdout}${c.stderr}`);
  assert.equal(record(ID.C).status, 'finished');
  assert.deepEqual(computed(record(ID.C)), computed(record(ID.A)));
  // and the final weights: the same tensor bytes as the uninterrupted run's (only the run id in the metadata differs)
  const wa = readFileSync(join(CHECKPOINTS, ID.A, 'final.weights.safetensors'));
  const wc = readFileSync(join(CHECKPOINTS, ID.C, 'final.weights.safetensors'));
  assert.equal(wa.toString('latin1').replaceAll(ID.A, ID.C), wc.toString('latin1'), 'final weights differ');
});

test('--ra-m is refused outside [0, 10] (timm clips magnitudes to 10) with a one-line error naming the flag', () => {
  for (const [v, msg] of [['25', 'less than or equal to 10, got 25'], ['10.5', 'less than or equal to 10, got 10.5'], ['-1', 'greater than or equal to 0, got -1']]) {
    assert.throws(() => trainConfigFromFlags({ profile: 'smoke', 'ra-m': v }), (e: Error) => e.message === `--ra-m: number must be ${msg}`);
  }
  for (const v of ['0', '10', '9']) assert.equal(trainConfigFromFlags({ profile: 'paper', 'ra-m': v }).augment.randAugment?.m, Number(v));
});
