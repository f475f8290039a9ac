// The recycling output pool of the native kernels (lib/backend/bufferPool.ts): buffers come back after their tensors
// are disposed, never while an alias (a slice's subarray) lives, never after dataSync handed the array out; and
// several training steps with recycled, NaN-poisoned buffers give the same losses and weights as tfjs's JS kernels
// (a kernel that skipped an output element would read NaN into the result). Activations of the model below are
// 4 x 16 x 16 x 64 = MIN_POOLED_FLOATS, so they are pooled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { allocOutput, MIN_POOLED_FLOATS, poolStats, setPoolCapForTest, setPoolPoison } from '../lib/backend/bufferPool.ts';
import { loadAddon, withJsKernels } from '../lib/backend/native.ts';
import { createModel } from '../lib/models/convmixer.ts';
import { createRng } from '../lib/rng.ts';

const skip = loadAddon().addon ? false : 'native addon not built (npm run build:native)';
if (!skip) await initBackend('native');

/** A pooled-size tensor over a fresh pool buffer filled with `value` (as a native kernel output would be). */
function pooledTensor(value: number, n = MIN_POOLED_FLOATS): tf.Tensor1D {
  const buf = allocOutput(n).fill(value);
  return tf.engine().makeTensor(buf, [n], 'float32') as tf.Tensor1D;
}

test('pool: a disposed output buffer is reused; small outputs are never pooled', { skip }, () => {
  const t = pooledTensor(1);
  const buf = (tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } }).data.get(t.dataId).values.buffer;
  t.dispose();
  const again = allocOutput(MIN_POOLED_FLOATS);
  assert.equal(again.buffer, buf, 'the released buffer comes back for the same size');
  assert.equal(allocOutput(MIN_POOLED_FLOATS).buffer === buf, false, 'and only once');
  const small = allocOutput(MIN_POOLED_FLOATS - 1);
  assert.ok(small.every((v) => v === 0), 'small outputs are fresh zeroed arrays');
});

test('pool: an array handed out by dataSync is never recycled, even after dispose', { skip }, () => {
  const t = pooledTensor(7);
  const escapedBefore = poolStats().escaped;
  const held = t.dataSync() as Float32Array;
  assert.equal(poolStats().escaped, escapedBefore + 1, 'escape counted at dataSync');
  t.dispose();
  for (let i = 0; i < 4; i++) pooledTensor(-1).dispose();
  const fresh = allocOutput(MIN_POOLED_FLOATS).fill(-2);
  assert.notEqual(fresh.buffer, held.buffer);
  assert.ok(held.every((v) => v === 7), 'the caller still sees its values');
});

test('pool: a buffer stays out of the pool while a slice aliasing it lives', { skip }, () => {
  const t = pooledTensor(3, 2 * MIN_POOLED_FLOATS);
  const s = tf.slice(t, [0], [MIN_POOLED_FLOATS]); // tfjs's cpu Slice of a contiguous range returns a subarray (an alias)
  t.dispose();
  for (let i = 0; i < 3; i++) allocOutput(2 * MIN_POOLED_FLOATS).fill(-5);
  assert.ok((s.dataSync() as Float32Array).every((v) => v === 3), 'the slice keeps its values');
  s.dispose();
});

test('pool: the free lists keep a whole working set, beyond the old fixed 512 MB', { skip }, () => {
  // Six 128 MB outputs live at once (a batch-128 step of ConvMixer-256/8 k9 p1 has ~60 of 134 MB): after they are
  // disposed, all six come back. Never written, so the arrays stay untouched zero pages.
  const n = 32 * 1024 * 1024;
  const before = poolStats();
  const tensors = Array.from({ length: 6 }, () => tf.engine().makeTensor(allocOutput(n), [n], 'float32'));
  const live = poolStats();
  assert.equal(live.liveBytes - before.liveBytes, 6 * 4 * n, 'live bytes count the six buffers');
  assert.ok(live.peakLiveBytes >= live.liveBytes);
  tf.dispose(tensors);
  const after = poolStats();
  assert.equal(after.liveBytes, before.liveBytes, 'released buffers are no longer live');
  assert.equal(after.released - before.released, 6, 'all six went to the free lists');
  const again = Array.from({ length: 6 }, () => allocOutput(n));
  assert.equal(poolStats().reused - after.reused, 6, 'and all six are reused');
  for (const a of again) tf.engine().makeTensor(a, [n], 'float32').dispose();
});

test('pool: at the cap, buffers of the sizes used least recently make room for the sizes in use (the next model of a table)', { skip }, () => {
  const a = 4 * MIN_POOLED_FLOATS, b = 4 * MIN_POOLED_FLOATS + 16, c = 4 * MIN_POOLED_FLOATS + 32; // three "models"
  const live = (n: number, k: number): tf.Tensor[] => Array.from({ length: k }, () => tf.engine().makeTensor(allocOutput(n), [n], 'float32'));
  setPoolCapForTest(3 * 4 * b);
  try {
    tf.dispose(live(c, 1)); // c is used first, a after it: c is the least recent size
    tf.dispose(live(a, 2));
    const before = poolStats();
    assert.equal(before.freeBytes, 4 * (c + 2 * a), 'one c and two a buffers are free');
    tf.dispose(live(b, 3)); // three b buffers need the room of all three others
    const after = poolStats();
    assert.equal(after.released - before.released, 3, 'all three b buffers went to the free lists');
    assert.equal(after.evicted - before.evicted, 3, 'by evicting the c buffer and both a buffers');
    assert.equal(after.freeBytes, 3 * 4 * b);
    const reused = poolStats().reused;
    const again = live(b, 3);
    assert.equal(poolStats().reused - reused, 3, 'and the next three b outputs reuse them');
    tf.dispose(again);
    // The least recent size goes first: with one b evicted for an a, the other two b buffers stay.
    setPoolCapForTest(4 * (2 * b + a));
    const evicted = poolStats().evicted;
    tf.dispose(live(a, 1));
    assert.equal(poolStats().evicted - evicted, 1, 'one b buffer made room for the a buffer');
    assert.equal(poolStats().freeBytes, 4 * (2 * b + a));
  } finally {
    setPoolCapForTest(null);
  }
});

test('pool: training steps with recycled, NaN-poisoned buffers match tfjs JS kernels (losses and weights)', { skip }, () => {
  setPoolPoison(true);
  try {
    const run = (): { losses: number[]; weights: Float32Array[] } => {
      const model = createModel({ dim: 64, depth: 1, kernelSize: 3, patchSize: 2, numClasses: 10 }, {}, { seed: 3 });
      const rng = createRng(11);
      const x = tf.tensor4d(Float32Array.from({ length: 4 * 32 * 32 * 3 }, () => rng.normal()), [4, 32, 32, 3]);
      const y = tf.oneHot(tf.tensor1d([1, 4, 7, 9], 'int32'), 10).toFloat();
      const vars = Object.values(model.params);
      const losses: number[] = [];
      for (let step = 0; step < 2; step++) {
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })) as tf.Scalar, vars);
        tf.tidy(() => { for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.1))); });
        losses.push(value.dataSync()[0]!);
        tf.dispose([value, ...Object.values(grads)]);
      }
      const weights = vars.map((v) => Float32Array.from(v.dataSync()));
      tf.dispose([x, y]);
      model.dispose();
      return { losses, weights };
    };
    const before = poolStats().reused;
    const native = run();
    assert.ok(poolStats().reused > before, 'the native run reused pooled buffers');
    const js = withJsKernels(run);
    for (let i = 0; i < js.losses.length; i++) {
      assert.ok(Number.isFinite(native.losses[i]!), `step ${i} loss is finite`);
      assert.ok(Math.abs(native.losses[i]! - js.losses[i]!) < 1e-4 * Math.max(1, Math.abs(js.losses[i]!)), `step ${i}: ${native.losses[i]} vs ${js.losses[i]}`);
    }
    native.weights.forEach((w, k) => {
      const ref = js.weights[k]!;
      let diff = 0, scale = 1e-3;
      for (let i = 0; i < w.length; i++) { diff = Math.max(diff, Math.abs(w[i]! - ref[i]!)); scale = Math.max(scale, Math.abs(ref[i]!)); }
      assert.ok(diff / scale < 1e-4, `weight ${k}: relative difference ${diff / scale}`);
    });
  } finally {
    setPoolPoison(false);
  }
});
