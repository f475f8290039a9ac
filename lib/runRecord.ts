// Run records: one JSON file per run under reports/results/, the only source of numbers in notebooks and the report.
// Each says what ran (config, seed, profile), where (backend, machine), from which code (git commit) and how long.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, platform, arch } from 'node:os';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
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

export interface RunRecord {
  /** Schema version of this file. */
  version: 1;
  /** Unique id, also the file name (without .json). */
  id: string;
  /** What kind of run: 'train', 'bench', 'params', ... */
  kind: string;
  /** Which paper table / experiment the run belongs to, e.g. 'table4', 'table3', 'cifar10-demo'. */
  experiment: string;
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

/** A new record in state 'running'; save it with saveRunRecord and again when finished. */
export function newRunRecord(init: { kind: string; experiment: string; profile: Profile; seed: number; config: Record<string, unknown>; backend: string; id?: string }): RunRecord {
  const started = new Date();
  const git = gitState();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  return {
    version: 1,
    id: init.id ?? `${init.experiment}-${init.kind}-${init.profile}-${stamp}`,
    kind: init.kind,
    experiment: init.experiment,
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

/** All run records in a folder, optionally filtered; newest first. Files that are not run records are skipped. */
export function loadRunRecords(filter: Partial<Pick<RunRecord, 'kind' | 'experiment' | 'profile' | 'status'>> = {}, dir = RESULTS_DIR): RunRecord[] {
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    let rec: RunRecord;
    try {
      rec = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch {
      continue;
    }
    if (rec.version !== 1 || !rec.id) continue;
    if (Object.entries(filter).every(([k, v]) => v === undefined || (rec as unknown as Record<string, unknown>)[k] === v)) out.push(rec);
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}
