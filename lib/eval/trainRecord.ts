// What every `convmixer eval <task> --run ID` starts from: a finished training run's record and its final weights.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { REPO_ROOT } from '../io.ts';
import type { z } from 'zod';
import { parseRunRecord, type RunRecord } from '../runRecord.ts';
import { withKeysAddedLater } from '../train/config.ts';

/** The record of a finished training run in resultsDir; one line naming --run and the file otherwise. */
export function readTrainRecord(runId: string, resultsDir: string): { record: RunRecord; path: string } {
  const path = join(resultsDir, `${runId}.json`);
  if (!existsSync(path)) throw new UserError(`--run: no run record ${path}`);
  const parsed = parseRunRecord(readFileSync(path, 'utf8'));
  if ('reason' in parsed) throw new UserError(`--run: run record ${path} is unreadable (${parsed.reason})`);
  if (parsed.record.kind !== 'train' || parsed.record.status !== 'finished') throw new UserError(`--run: ${path} is not a finished training run (${parsed.record.kind}, ${parsed.record.status})`);
  return { record: parsed.record, path };
}

/** The final weights a training record names, which must be on this machine (checkpoints are not shipped). */
export function finalWeightsOf(record: RunRecord, runId: string, table: string): string {
  const rel = record.metrics['weightsFile'];
  const file = typeof rel === 'string' ? resolve(REPO_ROOT, rel) : null;
  if (!file || !existsSync(file)) {
    throw new UserError(`--run: the final weights of ${runId} (${rel ?? 'none recorded'}) are not here (checkpoints are not shipped); train it again with convmixer experiment run ${record.table ?? table} --profile ${record.profile}`);
  }
  return file;
}

/**
 * The recipe a training record stores (its config holds the recipe keys plus bookkeeping), checked by the task's schema;
 * keys added to the recipe after the record was written take the value every earlier run had (RECIPE_KEYS_ADDED_LATER).
 */
export function recipeOfRecord<S extends z.AnyZodObject>(schema: S, record: RunRecord, where: string, task: string): z.infer<S> {
  const keys = Object.keys(schema.shape);
  const picked = Object.fromEntries(keys.filter((k) => k in record.config).map((k) => [k, record.config[k]]));
  const parsed = schema.safeParse(withKeysAddedLater(picked));
  if (!parsed.success) throw new UserError(`${where}: not a ${task} training record (${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message})`);
  return parsed.data;
}
