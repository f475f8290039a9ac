// Checkpoints of a training run: everything that influences later steps, so a resumed run continues bit for bit.
// Layout under reports/checkpoints/<run-id>/ (kept out of git):
//   epoch-0003/state.safetensors   params ('param.<name>'), BatchNorm buffers ('buffer.<name>'), AdamW m/v ('opt.m.<name>', 'opt.v.<name>')
//   epoch-0003/state.json          manifest: recipe, epoch, global step, rng state, optimizer step, metrics so far, sha256 of the tensors
//   LATEST                         name of the newest complete checkpoint folder
// A checkpoint is written into a temporary folder, renamed into place, and only then does LATEST (written atomically)
// point at it; a kill at any moment leaves the previous checkpoint intact.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.ts';
import { atomicWrite, atomicWriteJson, REPO_ROOT } from '../io.ts';
import { readSafetensors, writeSafetensors, type StoredTensor } from '../models/safetensors.ts';
import { runIdProblem } from '../runRecord.ts';

export const CHECKPOINTS_DIR = join(REPO_ROOT, 'reports', 'checkpoints');

export interface CheckpointManifest {
  format: 'convmixer-train-checkpoint';
  version: 1;
  runId: string;
  /** The recipe the run was started with (compared key by key on resume). */
  recipe: Record<string, unknown>;
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  rngState: number[];
  /** Per-epoch metrics so far. */
  epochs: Record<string, number | null>[];
  /** Seconds spent training and evaluating so far (excludes time the run was not running). */
  trainSeconds: number;
  savedAt: string;
  tensorsSha256: string;
}

export type TensorRecord = Record<string, { shape: number[]; data: Float32Array }>;

/** A run's own checkpoint folder: always one level below `root` (the run id is checked to be a single safe folder name). */
export function runCheckpointDir(runId: string, root = CHECKPOINTS_DIR): string {
  const problem = runIdProblem(runId);
  if (problem) throw new UserError(`run id: ${problem}`);
  return join(root, runId);
}

/** The lock file of a run while a process trains it (lib/lock.ts): beside its checkpoint folder, holding the owner's pid. */
export function runLockPath(runId: string, root = CHECKPOINTS_DIR): string {
  const problem = runIdProblem(runId);
  if (problem) throw new UserError(`run id: ${problem}`);
  return join(root, `${runId}.lock`);
}

/** The entries of a run folder that checkpointing owns: epoch folders and their temporary copies, never anything else. */
const EPOCH_DIR = /^epoch-\d{4,}$/;
const EPOCH_TMP = /^\.epoch-\d{4,}\.\d+\.tmp$/;

const epochDirName = (epoch: number): string => `epoch-${String(epoch).padStart(4, '0')}`;

/** Writes a checkpoint for `manifest.epoch` and makes it the latest; older checkpoint folders of the run are removed. */
export function saveCheckpoint(runDir: string, manifest: Omit<CheckpointManifest, 'format' | 'version' | 'savedAt' | 'tensorsSha256'>, tensors: TensorRecord): string {
  // Old epochs are deleted below: only ever inside the run's own folder, <root>/<runId>.
  if (basename(runDir) !== manifest.runId || runIdProblem(manifest.runId)) throw new Error(`saveCheckpoint: ${runDir} is not the folder of run '${manifest.runId}'`);
  mkdirSync(runDir, { recursive: true });
  const name = epochDirName(manifest.epoch);
  const tmp = join(runDir, `.${name}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const written = writeSafetensors(join(tmp, 'state.safetensors'), tensors, { runId: manifest.runId, epoch: String(manifest.epoch) });
  const full: CheckpointManifest = {
    format: 'convmixer-train-checkpoint', version: 1, ...manifest,
    savedAt: new Date().toISOString(),
    tensorsSha256: createHash('sha256').update(written).digest('hex'), // the bytes just written, not read back
  };
  atomicWriteJson(join(tmp, 'state.json'), full);
  const final = join(runDir, name);
  rmSync(final, { recursive: true, force: true }); // left over from a run killed after the rename, before LATEST moved
  renameSync(tmp, final);
  atomicWrite(join(runDir, 'LATEST'), name + '\n');
  for (const entry of readdirSync(runDir)) {
    if (entry !== name && (EPOCH_DIR.test(entry) || EPOCH_TMP.test(entry))) {
      rmSync(join(runDir, entry), { recursive: true, force: true });
    }
  }
  return final;
}

/** The latest checkpoint of a run, verified; null when the run has none. Damaged files give a one-line UserError. */
export function loadCheckpoint(runDir: string): { dir: string; manifest: CheckpointManifest; tensors: Record<string, StoredTensor> } | null {
  const latest = join(runDir, 'LATEST');
  if (!existsSync(latest)) return null;
  const name = readFileSync(latest, 'utf8').trim();
  const dir = join(runDir, name);
  const bad = (what: string): never => { throw new UserError(`checkpoint ${dir} is damaged: ${what}; delete ${runDir} to start over`); };
  if (!/^epoch-\d{4,}$/.test(name)) bad(`LATEST names '${name}', not an epoch folder`);
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointManifest;
  } catch (err) {
    return bad(`state.json unreadable (${(err as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  if (manifest.format !== 'convmixer-train-checkpoint' || manifest.version !== 1) bad('state.json is not a version-1 training checkpoint');
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, 'state.safetensors'));
  } catch (err) {
    return bad(`state.safetensors unreadable (${(err as NodeJS.ErrnoException).code})`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.tensorsSha256) bad(`state.safetensors does not match the sha256 in state.json (truncated or modified)`);
  return { dir, manifest, tensors: readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) };
}
