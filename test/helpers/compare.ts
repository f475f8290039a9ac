// Comparing arrays against a reference (PyTorch files, hand-computed values): shared by the tests that need it.
import assert from 'node:assert/strict';

/** The largest |a[i] - b[i]|; the lengths must agree. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
