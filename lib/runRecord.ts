// Run records: one JSON file per run under reports/results/, the only source of numbers in notebooks and the report.
// Each says what ran (config, seed, profile), where (backend, machine), from which code (git commit) and how long.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, platform, arch } from 'node:os';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteJson, REPO_ROOT } from './io.ts';

export type Profile = 'smoke' | 'quick' | 'paper';
export const PROFILES: readonly Profile[] = ['smoke', 'quick', 'paper'];

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  node: string;
  gpu: string | null;
}

export const RUN_KINDS = ['train', 'bench', 'eval'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export interface RunRecord {
  /** Schema version of this file. */
  version: 1;
  /** Unique id, also the file name (without .json). */
  id: string;
  /** What kind of run. */
  kind: RunKind;
  /** Which paper table / experiment the run belongs to, e.g. 'table4', 'table3', 'cifar10-demo'. */
  experiment: string;
  /** For runs of an experiment table (lib/experiments/): the table id and the row id, e.g. 'table4' / 'k7-p1'. */
  table?: string;
  row?: string;
  profile: Profile;
  seed: number;
  config: Record<string, unknown>;
  backend: string;
  machine: MachineInfo;
  gitCommit: string;
  gitDirty: boolean;
  startedAt: string;
  finishedAt: string | null;
  wallTimeSec: number | null;
  status: 'running' | 'finished' | 'failed';
  /** Per-epoch metrics for training runs (epoch, trainLoss, testAcc, lr, ...). */
  epochs?: Record<string, number>[];
  /** Final metrics (e.g. testAcc, bestTestAcc, msPerImg). */
  metrics: Record<string, number | string | null>;
  notes?: string;
}

export const RESULTS_DIR = join(REPO_ROOT, 'reports', 'results');

/** Run ids name a record file (<id>.json) and a checkpoint folder: one path component of letters, digits, . _ -,
 * not starting with a dot (so never '.', '..' or a hidden name), at most 100 characters. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/** Why `id` is not a usable run id, or null when it is. */
export function runIdProblem(id: string): string | null {
  if (RUN_ID_PATTERN.test(id)) return null;
  return `letters, digits, . _ - only, not starting with '.', at most 100 characters (one folder name), got '${id.length > 120 ? `${id.slice(0, 40)}...(${id.length} characters)` : id}'`;
}

const num = z.number();
/** The file format of a run record; every record is checked against it when loaded. */
export const runRecordSchema = z.object({
  version: z.literal(1),
  id: z.string().min(1),
  kind: z.enum(RUN_KINDS),
  experiment: z.string().min(1),
  table: z.string().min(1).optional(),
  row: z.string().min(1).optional(),
  profile: z.enum(['smoke', 'quick', 'paper']),
  seed: z.number().int(),
  config: z.record(z.unknown()),
  backend: z.string(),
  machine: z.object({ cpuModel: z.string(), cores: num, memoryGiB: num, platform: z.string(), arch: z.string(), node: z.string(), gpu: z.string().nullable() }),
  gitCommit: z.string(),
  gitDirty: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  wallTimeSec: num.nullable(),
  status: z.enum(['running', 'finished', 'failed']),
  epochs: z.array(z.record(num)).optional(),
  metrics: z.record(z.union([num, z.string(), z.null()])),
  notes: z.string().optional(),
});

/** A record file that could not be used: which file and why (one line), for warnings and the report. */
export interface SkippedRecord { file: string; reason: string }

/** Parses one record file's text; a one-line reason instead of the record when it is not a valid run record. */
export function parseRunRecord(text: string): { record: RunRecord } | { reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { reason: 'not JSON' };
  }
  const parsed = runRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { reason: `${issue.path.join('.') || 'record'}: ${issue.message.toLowerCase()}` };
  }
  return { record: parsed.data as RunRecord };
}

let gpuCache: string | null | undefined;
function detectGpu(): string | null {
  if (gpuCache !== undefined) return gpuCache;
  try {
    gpuCache = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim().split('\n')[0] || null;
  } catch {
    gpuCache = null;
  }
  return gpuCache;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    arch: arch(),
    node: process.version,
    gpu: detectGpu(),
  };
}

/**
 * The commit the code runs from, and whether tracked files differ from it. Changes under reports/ (run records being
 * written, generated pages) are outputs, not code: counting them would mark a run dirty because an earlier run in the
 * same checkout rewrote its record.
 */
export function gitState(cwd = REPO_ROOT): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)reports'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

let codeGit: { commit: string; dirty: boolean } | undefined;
/**
 * The git state of the code this process runs: read once, the first time a record is made (the CLI reads it at start),
 * and kept. A long-running process (the experiment runner trains for hours) must not stamp its later runs with a
 * commit that was checked out after it loaded its code.
 */
export function codeGitState(): { commit: string; dirty: boolean } {
  codeGit ??= gitState();
  return codeGit;
}

/** A new record in state 'running'; save it with saveRunRecord and again when finished. */
export function newRunRecord(init: { kind: RunKind; experiment: string; profile: Profile; seed: number; config: Record<string, unknown>; backend: string; id?: string; table?: string; row?: string }): RunRecord {
  const started = new Date();
  const git = codeGitState();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  return {
    version: 1,
    id: init.id ?? `${init.experiment}-${init.kind}-${init.profile}-${stamp}`,
    kind: init.kind,
    experiment: init.experiment,
    ...(init.table !== undefined ? { table: init.table } : {}),
    ...(init.row !== undefined ? { row: init.row } : {}),
    profile: init.profile,
    seed: init.seed,
    config: init.config,
    backend: init.backend,
    machine: machineInfo(),
    gitCommit: git.commit,
    gitDirty: git.dirty,
    startedAt: started.toISOString(),
    finishedAt: null,
    wallTimeSec: null,
    status: 'running',
    metrics: {},
  };
}

export function finishRunRecord(rec: RunRecord, metrics: RunRecord['metrics'], status: RunRecord['status'] = 'finished'): RunRecord {
  const finished = new Date();
  return { ...rec, metrics: { ...rec.metrics, ...metrics }, status, finishedAt: finished.toISOString(), wallTimeSec: (finished.getTime() - Date.parse(rec.startedAt)) / 1000 };
}

export function saveRunRecord(rec: RunRecord, dir = RESULTS_DIR): string {
  const path = join(dir, `${rec.id}.json`);
  atomicWriteJson(path, rec);
  return path;
}

/** All run records in a folder, optionally filtered; newest first. Files that are not valid run records are skipped
 * and listed in `skipped` (with a one-line reason) when given, else warned about on stderr. */
export function loadRunRecords(filter: Partial<Pick<RunRecord, 'kind' | 'experiment' | 'profile' | 'status' | 'table' | 'row'>> = {}, dir = RESULTS_DIR, skipped?: SkippedRecord[]): RunRecord[] {
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json') || f.startsWith('.')) continue;
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch (err) {
      note(skipped, join(dir, f), `unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    const parsed = parseRunRecord(text);
    if ('reason' in parsed) {
      note(skipped, join(dir, f), parsed.reason);
      continue;
    }
    const rec = parsed.record;
    if (Object.entries(filter).every(([k, v]) => v === undefined || (rec as unknown as Record<string, unknown>)[k] === v)) out.push(rec);
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

function note(skipped: SkippedRecord[] | undefined, file: string, reason: string): void {
  if (skipped) skipped.push({ file, reason });
  else console.warn(`warning: skipped ${file}: not a valid run record (${reason})`);
}
