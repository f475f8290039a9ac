// The Slurm job array of scripts/slurm/experiment.sbatch against a real single-node Slurm (Debian's slurm-wlm and
// munge, brought up here as root with a minimal slurm.conf): the smoke-profile Table 3 submitted as a 3-task array
// with `sbatch --wait` must finish every row, each run trained by exactly one task. Skipped, with the reason, where
// Slurm is not installed or we are not root (.ci/run installs it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TABLE3_EXPERIMENT } from '../lib/experiments/table3.ts';
import { planRuns, tableStatus } from '../lib/experiments/runner.ts';
import { tinyCifarDataRoot } from './helpers/tinyCifar.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function whySkip(): string | false {
  const missing = ['slurmctld', 'slurmd', 'sbatch', 'sinfo', 'munged'].filter((c) => !which(c) && !existsSync(`/usr/sbin/${c}`));
  if (missing.length) return `Slurm is not installed (missing ${missing.join(', ')}; Debian: apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return 'bringing up a test Slurm needs root';
  return false;
}

const skip = whySkip();
if (skip) console.log(`# slurm test skipped: ${skip}`);

test('scripts/slurm/experiment.sbatch: a 3-task job array on a real Slurm finishes every row of table3 (smoke) exactly once', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-slurm-'));
  const started: string[] = [];
  after(async () => {
    // Stop the daemons and wait until they are gone: slurmctld writes its state folder while shutting down, so
    // removing the folder before it exits fails with ENOTEMPTY (seen in CI).
    const pids: number[] = [];
    for (const pidFile of started) {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        process.kill(pid, 'SIGTERM');
        pids.push(pid);
      } catch { /* already gone */ }
    }
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });
  for (const d of ['state', 'spool', 'log', 'out']) mkdirSync(join(dir, d));
  const host = hostname().split('.')[0]!;
  // Ports of our own, so a Slurm already on this machine is left alone.
  const port = 17000 + (process.pid % 2000) * 2;
  const conf = join(dir, 'slurm.conf');
  writeFileSync(conf, [
    'ClusterName=convmixer-test', `SlurmctldHost=${host}`, 'SlurmUser=root', 'SlurmdUser=root', 'AuthType=auth/munge',
    'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
    'SchedulerType=sched/backfill', `SlurmctldPort=${port}`, `SlurmdPort=${port + 1}`, `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`, `SlurmctldPidFile=${dir}/slurmctld.pid`, `SlurmdPidFile=${dir}/slurmd.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`, `SlurmdLogFile=${dir}/log/slurmd.log`, 'ReturnToService=2', 'MpiDefault=none',
    'JobAcctGatherType=jobacct_gather/none', 'AccountingStorageType=accounting_storage/none',
    `NodeName=${host} CPUs=2 State=UNKNOWN`, 'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES', '',
  ].join('\n'));
  const env = { ...process.env, SLURM_CONF: conf };
  if (spawnSync('pgrep', ['-x', 'munged']).status !== 0) {
    mkdirSync('/run/munge', { recursive: true });
    execFileSync('/usr/sbin/munged', ['--force', `--pid-file=${dir}/munged.pid`, `--socket=/run/munge/munge.socket.2`], { stdio: 'ignore' });
    started.push(join(dir, 'munged.pid'));
  }
  execFileSync('slurmctld', ['-f', conf], { env, stdio: 'ignore' });
  started.push(join(dir, 'slurmctld.pid'));
  execFileSync('slurmd', ['-f', conf], { env, stdio: 'ignore' });
  started.push(join(dir, 'slurmd.pid'));
  for (let i = 0; ; i++) {
    const state = spawnSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' }).stdout.trim();
    if (state === 'idle') break;
    if (i > 60) assert.fail(`the test Slurm did not come up (sinfo: '${state}'); see ${dir}/log`);
    await new Promise((r) => setTimeout(r, 500));
  }

  const dataRoot = await tinyCifarDataRoot(dir, 20, 60);
  const results = join(dir, 'results'), ckpt = join(dir, 'ckpt');
  const sb = spawnSync('sbatch', ['--wait', '--array=1-3', '--cpus-per-task=1', `--output=${dir}/out/%A_%a.out`, `--chdir=${REPO}`,
    join(REPO, 'scripts/slurm/experiment.sbatch'), 'table3', '--profile', 'smoke', '--seeds', '1',
    '--data-root', dataRoot, '--results-dir', results, '--checkpoint-dir', ckpt, '--quiet'], { env, encoding: 'utf8', timeout: 170_000 });
  const outputs = readdirSync(join(dir, 'out')).sort().map((f) => readFileSync(join(dir, 'out', f), 'utf8'));
  assert.equal(sb.status, 0, `sbatch --wait failed: ${sb.stderr}\n${outputs.join('\n---\n')}`);
  assert.equal(outputs.length, 3);
  assert.deepEqual(outputs.map((o) => /--shard (\d\/\d)/.exec(o)?.[1]), ['1/3', '2/3', '3/3']);

  const status = tableStatus(TABLE3_EXPERIMENT, 'smoke', 1, { resultsDir: results, checkpointRoot: ckpt });
  assert.deepEqual(status.filter((r) => !r.done).map((r) => r.id), [], outputs.join('\n---\n'));
  // Exactly once: every run was trained by one task and by no other.
  const trainedBy = new Map<string, number>();
  for (const o of outputs) for (const m of o.matchAll(/\] (\S+): training /g)) trainedBy.set(m[1]!, (trainedBy.get(m[1]!) ?? 0) + 1);
  const runs = (planRuns(TABLE3_EXPERIMENT, 'smoke', 1)).map((r) => r.runId);
  assert.deepEqual([...trainedBy.keys()].sort(), [...runs].sort());
  assert.ok([...trainedBy.values()].every((n) => n === 1), JSON.stringify([...trainedBy]));
});
