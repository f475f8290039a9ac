// Parameter counts: Eq. 4 vs the built model, vs every printed ConvMixer count in Tables 1, 2, 4 (and the Appendix B text),
// with recorded discrepancies asserted exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { MODELS, countTrainable, createModel, formatParamsAsPaper, paramBreakdown, paramCount, resolveConfig } from '../lib/models/convmixer.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { PARAM_DISCREPANCIES, TABLE1, TABLE2, TABLE4, convMixerParamRows } from '../lib/paper/tables.ts';
import { fileURLToPath } from 'node:url';

await tf.setBackend('cpu');

test('params: Eq. 4 by hand for ConvMixer-1536/20 (k9, p7, 1000 classes) and 256/8 (k9, p1, 10 classes)', () => {
  // 1536 * (20 * (81 + 1536 + 6) + 3 * 49 + 1000 + 3) + 1000
  assert.equal(paramCount(resolveConfig('convmixer_1536_20')), 1536 * (20 * 1623 + 147 + 1003) + 1000);
  assert.equal(paramCount(resolveConfig('convmixer_1536_20')), 51_625_960);
  assert.equal(paramCount(resolveConfig('convmixer_256_8')), 706_570);
  assert.equal(formatParamsAsPaper(51_625_960), '51.6M');
  assert.equal(formatParamsAsPaper(706_570), '707K');
});

test('params: Eq. 4 equals the trainable-parameter count of built models (BatchNorm running stats excluded)', () => {
  const configs = [
    resolveConfig('convmixer_128_4'),
    resolveConfig('convmixer_256_8_k5_p2'),
    resolveConfig({ dim: 16, depth: 3, kernelSize: 8, patchSize: 4, numClasses: 7 }),
    resolveConfig({ dim: 12, depth: 2, kernelSize: 3, patchSize: 2, numClasses: 5, inChannels: 1 }),
    resolveConfig({ dim: 8, depth: 2, kernelSize: 5, patchSize: 1, numClasses: 10, norm: 'layernorm', activation: 'relu', residualPointwise: true, residualDepthwise: false }),
  ];
  for (const config of configs) {
    const model = createModel(config);
    const expected = paramCount(config);
    assert.equal(countTrainable(model), expected, JSON.stringify(config));
    const bufferCount = Object.values(model.buffers).reduce((s, v) => s + v.size, 0);
    assert.equal(bufferCount, config.norm === 'batchnorm' ? 2 * config.dim * (1 + 2 * config.depth) : 0);
    assert.ok(Object.values(model.params).every((v) => v.trainable) && Object.values(model.buffers).every((v) => !v.trainable));
    model.dispose();
  }
});

test('params: paramBreakdown sums to Eq. 4 for every registry model', () => {
  for (const [name, config] of Object.entries(MODELS)) {
    const sum = paramBreakdown(config).reduce((s, l) => s + l.params * l.repeat, 0);
    assert.equal(sum, paramCount(config), name);
  }
});

test('params: the PyTorch reference checkpoint holds exactly Eq. 4 trainable values (25,930)', (t) => {
  const config = resolveConfig('convmixer_64_4_k5_p2');
  assert.equal(paramCount(config), 25_930); // stated in shared/reference/README.md
  const path = fileURLToPath(new URL('../../shared/reference/convmixer_64_4_k5_p2.weights.safetensors', import.meta.url));
  if (!existsSync(path)) return t.skip(`PyTorch reference not found at ${path}`);
  const trainable = Object.entries(readSafetensors(path)).filter(([k]) => !k.includes('running_')).reduce((s, [, v]) => s + v.data.length, 0);
  assert.equal(trainable, 25_930);
});

test('params: every ConvMixer row of Tables 1, 2, 4 matches Eq. 4 as printed, except the recorded discrepancies', () => {
  const rows = convMixerParamRows();
  // Table 1: 2 ConvMixer rows, Table 2: 13, Table 4: 33, Appendix B text: 3.
  assert.equal(rows.length, 2 + 13 + 33 + 3);
  const found: Array<{ model: string; printed: string; computed: number }> = [];
  for (const row of rows) {
    const computed = paramCount(resolveConfig(row.model));
    const printed = row.unit === 'M' ? `${row.printed.toFixed(1)}M` : `${row.printed}K`;
    if (formatParamsAsPaper(computed, row.unit) !== printed) found.push({ model: row.model, printed, computed });
  }
  const recorded = PARAM_DISCREPANCIES.map(({ model, printed, computed }) => ({ model, printed, computed }));
  assert.deepEqual(found, recorded);
  for (const d of PARAM_DISCREPANCIES) {
    assert.equal(formatParamsAsPaper(d.computed, d.printed.endsWith('M') ? 'M' : 'K'), d.computedAsPrinted);
  }
});

test('params: registry names in the paper tables have the printed architecture', () => {
  for (const r of [...TABLE1, ...TABLE2].filter((r) => r.model)) {
    const c = resolveConfig(r.model!);
    const [dim, depth] = r.network.replace('ConvMixer-', '').split('/').map(Number);
    assert.deepEqual([c.dim, c.depth, c.patchSize, c.kernelSize, c.numClasses, c.activation], [dim, depth, r.patchSize, r.kernelSize, 1000, r.activation.toLowerCase()], r.network);
  }
  for (const r of TABLE4) {
    const c = resolveConfig(r.model);
    assert.deepEqual([c.dim, c.depth, c.patchSize, c.kernelSize, c.numClasses, c.activation, c.norm], [r.width, r.depth, r.patchSize, r.kernelSize, 10, 'gelu', 'batchnorm'], r.model);
  }
});

test('params: resolveConfig rejects bad configs with one line naming the field', () => {
  assert.throws(() => resolveConfig('convmixer_9_9'), /unknown model 'convmixer_9_9' \(expected one of: convmixer_1536_20/);
  assert.throws(() => resolveConfig({ dim: 0, depth: 2 }), /model config: dim:/);
  assert.throws(() => resolveConfig('convmixer_256_8', { activation: 'swish' as 'gelu' }), /model config: activation:/);
  assert.deepEqual(resolveConfig('convmixer_256_8', { kernelSize: undefined, patchSize: 2 }).kernelSize, 9);
});
