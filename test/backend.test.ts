// Backend choice (lib/backend/index.ts): the preference rule tensorflow > native > cpu with fake availability,
// one-line errors for invalid or unavailable choices, the tfjs-node alias in this repo not counting as TensorFlow,
// and initBackend really swapping the cpu registry between native and JS kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { backendChoiceFrom, chooseBackend, initBackend, parseBackendChoice, probeNative, probeTensorflow, setFlushDenormals } from '../lib/backend/index.ts';
import { missingAddonFunctions, originalKernel } from '../lib/backend/native.ts';
import { UserError } from '../lib/errors.ts';

const yes = { available: true, detail: 'ok' };
const no = (detail: string) => ({ available: false, detail });

test('auto prefers tensorflow, then native, then cpu', () => {
  assert.equal(chooseBackend('auto', { tensorflow: yes, native: yes }).name, 'tensorflow');
  assert.equal(chooseBackend('auto', { tensorflow: no('missing'), native: yes }).name, 'native');
  const cpu = chooseBackend('auto', { tensorflow: no('missing'), native: no('not built') });
  assert.equal(cpu.name, 'cpu');
  assert.match(cpu.why, /not built/);
});

test('a forced backend is used when available and is a one-line UserError when not', () => {
  assert.equal(chooseBackend('cpu', { tensorflow: yes, native: yes }).name, 'cpu');
  assert.equal(chooseBackend('native', { tensorflow: yes, native: yes }).name, 'native');
  assert.throws(() => chooseBackend('native', { tensorflow: yes, native: no('build failed: node-gyp exited with 1') }),
    (e: unknown) => e instanceof UserError && e.message === "backend 'native' is not available: build failed: node-gyp exited with 1");
  assert.throws(() => chooseBackend('tensorflow', { tensorflow: no('not installed'), native: yes }), UserError);
});

test('invalid --backend / CONVMIXER_BACKEND values name their source', () => {
  assert.equal(parseBackendChoice(undefined), 'auto');
  assert.equal(parseBackendChoice('native'), 'native');
  assert.throws(() => backendChoiceFrom('gpu', undefined), (e: unknown) => e instanceof UserError && e.message === "--backend: expected one of auto, tensorflow, native, cpu, got 'gpu'");
  assert.throws(() => backendChoiceFrom(undefined, 'fast'), (e: unknown) => e instanceof UserError && e.message.startsWith('CONVMIXER_BACKEND: '));
  assert.equal(backendChoiceFrom('cpu', 'fast'), 'cpu', 'the flag wins over the environment');
});

test('the @tensorflow/tfjs-node alias to plain tfjs (danfojs override) does not count as TensorFlow', () => {
  const probe = probeTensorflow();
  if (probe.available) return; // a real binding is installed on this machine: nothing to check
  assert.match(probe.detail, /tfjs-node/);
});

test('an addon built from older sources (a kernel family missing) is reported, not used', () => {
  const fn = () => undefined;
  const gemmOnly = { isa: 'x', threads: 1, setThreads: fn, conv2d: fn, conv2dBackpropInput: fn, conv2dBackpropFilter: fn, matmul: fn };
  assert.deepEqual(missingAddonFunctions(gemmOnly),
    ['depthwiseForward', 'depthwiseBackpropInput', 'depthwiseBackpropFilter', 'binary', 'unary', 'batchNorm', 'reduce']);
  const full = { ...gemmOnly, depthwiseForward: fn, depthwiseBackpropInput: fn, depthwiseBackpropFilter: fn, binary: fn, unary: fn, batchNorm: fn, reduce: fn };
  assert.deepEqual(missingAddonFunctions(full), []);
});

const native = probeNative();
test('initBackend switches the cpu registry between native and JS kernels', { skip: native.available ? false : native.detail }, async () => {
  const n = await initBackend('native', { threads: 1 });
  assert.equal(n.name, 'native');
  // denormals flushed by default (x86: MXCSR; elsewhere the engine keeps them and says so)
  const mode = process.arch === 'x64' ? 'FTZ\\/DAZ' : 'denormals kept';
  assert.match(n.description, new RegExp(`^native-cpu \\(.+, 1 thread, ${mode}\\)$`));
  assert.notEqual(tf.getKernel('Conv2D', 'cpu')!.kernelFunc, originalKernel('Conv2D'));
  const c = await initBackend('cpu');
  assert.deepEqual(c, { name: 'cpu', description: 'cpu (tfjs JS kernels)' });
  assert.equal(tf.getKernel('Conv2D', 'cpu')!.kernelFunc, originalKernel('Conv2D'));
  const again = await initBackend('native');
  assert.match(again.description, new RegExp(`^native-cpu \\(.+ threads?, ${mode}\\)$`));
  assert.notEqual(tf.getKernel('Conv2D', 'cpu')!.kernelFunc, originalKernel('Conv2D'));
  // CONVMIXER_FLUSH_DENORMALS=0 keeps denormals, and the description says so; anything but 0/1 is one line naming it.
  try {
    process.env.CONVMIXER_FLUSH_DENORMALS = '0';
    await initBackend('cpu');
    assert.match((await initBackend('native')).description, /^native-cpu \(.+ threads?, denormals kept\)$/);
    if (process.arch === 'x64') assert.equal(setFlushDenormals(true), false);
    process.env.CONVMIXER_FLUSH_DENORMALS = 'yes';
    await initBackend('cpu');
    await assert.rejects(initBackend('native'), /^UserError: CONVMIXER_FLUSH_DENORMALS: expected 1 \(flush denormals to zero, the default\) or 0 \(keep them\), got 'yes'$/);
  } finally {
    delete process.env.CONVMIXER_FLUSH_DENORMALS;
  }
  assert.match((await initBackend('native')).description, new RegExp(`${mode}\\)$`));
});
