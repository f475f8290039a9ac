// `convmixer bench train --weights FILE --denormals flush|keep|both`: the model timed from a weights file, with the
// native kernels' denormal flushing on, off, or both in one process. Flags, the JSON and the record; no timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { command } from '../lib/cli/bench.ts';
import { createModel } from '../lib/models/convmixer.ts';
import { saveWeights } from '../lib/models/weights.ts';
import { parseRunRecord } from '../lib/runRecord.ts';
import { loadAddon } from '../lib/backend/native.ts';

const tmp = mkdtempSync(join(tmpdir(), 'bench-denormals-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const skip = !loadAddon().addon ? 'native addon not available' : process.arch !== 'x64' ? `denormal flushing is x86-only (${process.arch})` : false;
const MODEL = ['--dim', '16', '--depth', '1', '--kernel', '3', '--patch', '4', '--classes', '10'];

async function benchJson(args: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    assert.equal(await command.run(['train', ...MODEL, '--batch', '2', '--steps', '1', '--warmup', '0', '--json', '--results-dir', join(tmp, 'results'), ...args]), 0);
  } finally {
    console.log = orig;
  }
  assert.equal(lines.length, 1, lines.join('\n'));
  return JSON.parse(lines[0]!);
}

test('bench train --weights --denormals both: timed flushed, then kept; JSON and record carry both and their ratio', { skip }, async () => {
  const file = join(tmp, 'w.safetensors');
  const model = createModel({ dim: 16, depth: 1, kernelSize: 3, patchSize: 4, numClasses: 10 }, {}, { seed: 3 });
  saveWeights(model, file);
  tf.dispose([...Object.values(model.params), ...Object.values(model.buffers)]);
  const out = await benchJson(['--weights', file, '--denormals', 'both', '--backend', 'native']);
  assert.match(String(out['backend']), /^native-cpu \(.*FTZ\/DAZ\)$/);
  assert.ok((out['ms_per_img'] as number) > 0 && (out['kept_denormals_ms_per_img'] as number) > 0);
  assert.equal(out['denormal_ratio'], (out['kept_denormals_ms_per_img'] as number) / (out['ms_per_img'] as number));
  const parsed = parseRunRecord(readFileSync(out['record'] as string, 'utf8'));
  assert.ok('record' in parsed, JSON.stringify(parsed));
  const { record } = parsed;
  assert.equal(record.metrics['denormalRatio'], out['denormal_ratio']);
  assert.deepEqual([(record.config as Record<string, unknown>)['weights'], (record.config as Record<string, unknown>)['denormals']], [file, 'both']);
  // --denormals keep: the record's backend says so; the next flushed run says FTZ/DAZ again
  const kept = await benchJson(['--denormals', 'keep', '--backend', 'native']);
  assert.match(String(kept['backend']), /^native-cpu \(.*, denormals kept\)$/);
  assert.equal(kept['denormal_ratio'], undefined);
  assert.match(String((await benchJson(['--denormals', 'flush', '--backend', 'native']))['backend']), /FTZ\/DAZ\)$/);
});

test('bench train --weights / --denormals: one-line errors for a missing file, a bad mode, other models and --vs torch', async () => {
  await assert.rejects(command.run(['train', ...MODEL, '--weights', join(tmp, 'nope.safetensors')]), /^UserError: --weights: no such file: .*nope\.safetensors$/);
  await assert.rejects(command.run(['train', ...MODEL, '--denormals', 'sometimes']), /--denormals/);
  await assert.rejects(command.run(['train', '--model', 'unet_camvid', '--weights', 'x']), /--weights applies to ConvMixers only/);
  await assert.rejects(command.run(['train', ...MODEL, '--weights', 'x', '--vs', 'torch']), /--weights times this engine only/);
  await assert.rejects(command.run(['train', ...MODEL, '--denormals', 'both', '--vs', 'torch']), /--denormals both times this engine twice/);
  await assert.rejects(command.run(['train', ...MODEL, '--denormals', 'keep', '--backend', 'cpu']), /--denormals needs the native engine/);
});
