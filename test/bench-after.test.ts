// `convmixer bench train --after D/N,...`: the model timed first, then again after other ConvMixers trained and
// evaluated in the same process (what `experiment run` does between rows). Flag parsing, the JSON and the record;
// no timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, parseAfterFlag } from '../lib/cli/bench.ts';
import { UserError } from '../lib/errors.ts';
import { parseRunRecord } from '../lib/runRecord.ts';

const tmp = mkdtempSync(join(tmpdir(), 'bench-after-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('--after: DIM/DEPTH items, comma-separated; anything else is a one-line user error naming the flag', () => {
  assert.deepEqual(parseAfterFlag(undefined), []);
  assert.deepEqual(parseAfterFlag('128/4, 256/12'), [{ dim: 128, depth: 4 }, { dim: 256, depth: 12 }]);
  for (const bad of ['128x4', '128/', '/4', '0/4', '128/4,', '-1/2']) {
    assert.throws(() => parseAfterFlag(bad), (e: unknown) => e instanceof UserError && e.message.startsWith('--after: expected DIM/DEPTH') && e.message.includes(`'${bad}'`), bad);
  }
});

test('bench train --after: the model is timed again after the listed ones; JSON and record carry both times and their ratio', async () => {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    const args = ['train', '--dim', '16', '--depth', '1', '--kernel', '3', '--patch', '4', '--classes', '10', '--batch', '2', '--steps', '1', '--warmup', '0',
      '--after', '8/1,12/2', '--json', '--results-dir', join(tmp, 'results')];
    assert.equal(await command.run(args), 0);
  } finally {
    console.log = orig;
  }
  assert.equal(lines.length, 1, lines.join('\n'));
  const out = JSON.parse(lines[0]!);
  assert.ok(out.ms_per_img > 0 && out.after_ms_per_img > 0);
  assert.equal(out.after_ratio, out.after_ms_per_img / out.ms_per_img);
  const parsed = parseRunRecord(readFileSync(out.record, 'utf8'));
  assert.ok('record' in parsed, JSON.stringify(parsed));
  const { record } = parsed;
  assert.equal(record.metrics['afterMsPerImg'], out.after_ms_per_img);
  assert.equal(record.metrics['afterRatio'], out.after_ratio);
  assert.equal((record.config as Record<string, unknown>)['after'], '8/1,12/2');
});

test('bench train --after refuses non-ConvMixer models and --vs torch', async () => {
  await assert.rejects(command.run(['train', '--model', 'unet_camvid', '--after', '8/1']), /--after applies to ConvMixers only/);
  await assert.rejects(command.run(['train', '--dim', '16', '--depth', '1', '--after', '8/1', '--vs', 'torch']), /--after times this engine only/);
});
