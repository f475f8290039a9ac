import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../lib/rng.ts';

test('rng: same seed gives the same stream; state round-trips', () => {
  const a = createRng(42), b = createRng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  const s = a.getState();
  const ahead = [a.next(), a.normal(), a.int(10)];
  const c = createRng(0);
  c.setState(s);
  assert.deepEqual([c.next(), c.normal(), c.int(10)], ahead);
  assert.notEqual(createRng(43).next(), createRng(42).next());
});

test('rng: uniform mean and beta(1,1) mean are close to 0.5 over 20k draws', () => {
  const r = createRng(7);
  let s = 0, sb = 0;
  for (let i = 0; i < 20000; i++) { s += r.next(); sb += r.beta(1, 1); }
  assert.ok(Math.abs(s / 20000 - 0.5) < 0.01, `uniform mean ${s / 20000}`);
  assert.ok(Math.abs(sb / 20000 - 0.5) < 0.01, `beta mean ${sb / 20000}`);
});
