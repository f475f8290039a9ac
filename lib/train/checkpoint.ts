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
  /** 2: state.json carries stateSha256. 1 (written before it existed) is refused on load: unsigned, it could be edited freely. */
  version: 1 | 2;
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
  /** sha256 of every other field of state.json (keys sorted), so an edited epoch, step or rng state is caught like damaged tensors. */
  stateSha256: string;
}

/** JSON with object keys sorted at every level: the same text for the same values, whatever order the keys were written in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The stateSha256 of a manifest: over every field except stateSha256 itself (tensorsSha256 included, so it covers the tensors too). */
export function manifestSha256(manifest: object): string {
  const { stateSha256: _self, ...rest } = manifest as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** The first field of a parsed state.json that does not have its type, or null. */
function manifestProblem(m: Record<string, unknown>): string | null {
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof m['runId'] !== 'string') return 'runId';
  if (m['recipe'] === null || typeof m['recipe'] !== 'object') return 'recipe';
  if (!count(m['epoch'])) return 'epoch';
  if (!count(m['step'])) return 'step';
  const rng = m['rngState'];
  if (!Array.isArray(rng) || rng.length !== 4 || !rng.every((x) => Number.isInteger(x) && (x as number) >= -0x80000000 && (x as number) <= 0xffffffff)) return 'rngState';
  if (!Array.isArray(m['epochs']) || m['epochs'].length !== m['epoch']) return 'epochs';
  if (typeof m['trainSeconds'] !== 'number' || !Number.isFinite(m['trainSeconds']) || m['trainSeconds'] < 0) return 'trainSeconds';
  if (typeof m['tensorsSha256'] !== 'string') return 'tensorsSha256';
  return null;
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
export function saveCheckpoint(runDir: string, manifest: Omit<CheckpointManifest, 'format' | 'version' | 'savedAt' | 'tensorsSha256' | 'stateSha256'>, tensors: TensorRecord): string {
  // Old epochs are deleted below: only ever inside the run's own folder, <root>/<runId>.
  if (basename(runDir) !== manifest.runId || runIdProblem(manifest.runId)) throw new Error(`saveCheckpoint: ${runDir} is not the folder of run '${manifest.runId}'`);
  mkdirSync(runDir, { recursive: true });
  const name = epochDirName(manifest.epoch);
  const tmp = join(runDir, `.${name}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const written = writeSafetensors(join(tmp, 'state.safetensors'), tensors, { runId: manifest.runId, epoch: String(manifest.epoch) });
  const unsigned: Omit<CheckpointManifest, 'stateSha256'> = {
    format: 'convmixer-train-checkpoint', version: 2, ...manifest,
    savedAt: new Date().toISOString(),
    tensorsSha256: createHash('sha256').update(written).digest('hex'), // the bytes just written, not read back
  };
  const full: CheckpointManifest = { ...unsigned, stateSha256: manifestSha256(unsigned) };
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
  if (manifest === null || typeof manifest !== 'object' || manifest.format !== 'convmixer-train-checkpoint' || (manifest.version !== 1 && manifest.version !== 2)) {
    bad('state.json is not a version-1 or -2 training checkpoint');
  }
  // Version 1 had no signature: accepting it would let anyone set version 1, delete stateSha256 and edit the rest.
  if (manifest.version === 1) {
    throw new UserError(`checkpoint ${dir} is from an older version without a signature (state.json has no stateSha256) and is not resumed; start a new run (delete ${runDir} or pick another --run-id)`);
  }
  // Version 2 signs its own fields (epoch, step, rng state, metrics, recipe): an edit there is damage like a flipped tensor byte.
  if (manifest.stateSha256 !== manifestSha256(manifest)) bad('state.json does not match its stateSha256 (edited or damaged)');
  const problem = manifestProblem(manifest as unknown as Record<string, unknown>);
  if (problem) bad(`state.json field '${problem}' is missing or has the wrong type`);
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
