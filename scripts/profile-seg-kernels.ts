// Which kernels of a small Unet-like training step (lib/bench/segStep.ts) still run on tfjs's JS kernels under the
// native engine, with their kernel time (tf.profile of one step after a warm-up step); then, unless --no-time, the
// step time of the native engine, of the native engine without its segmentation kernels, and of tfjs's JS kernels,
// alternated in the same run (the ratios are what count on a busy machine; --no-js leaves out the slow JS-only one). Usage:
//   nice -n 15 node --import tsx scripts/profile-seg-kernels.ts [--batch 2] [--size 32] [--width 16] [--steps 3] [--no-time] [--no-js]
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend/index.ts';
import { loadAddon, nativeKernelNames, registerNativeKernels, withJsKernels } from '../lib/backend/native.ts';
import { createSegStep, type SegStepOptions } from '../lib/bench/segStep.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name}: expected a positive integer, got '${process.argv[i + 1] ?? ''}'`);
    process.exit(2);
  }
  return v;
}

const opts: SegStepOptions = { batch: flag('batch', 2), size: flag('size', 32), width: flag('width', 16), classes: 5, seed: 1 };
const steps = flag('steps', 3);
const info = await initBackend('native');
console.log(`backend: ${info.description}; graph: batch ${opts.batch}, ${opts.size}x${opts.size}, width ${opts.width}`);

const seg = createSegStep(opts);
seg.step();
const profile = await tf.profile(() => { seg.step(); });
const native = new Set(nativeKernelNames());
const byName = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.calls += 1;
  byName.set(k.name, e);
}
const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((a, [, e]) => a + e.ms, 0);
console.log(`\nkernels of one step (${total.toFixed(1)} ms kernel time):`);
for (const [name, e] of rows) {
  console.log(`  ${native.has(name) ? 'native' : 'JS    '}  ${name.padEnd(28)} ${e.ms.toFixed(2).padStart(9)} ms  ${String(e.calls).padStart(4)} calls`);
}
const js = rows.filter(([name]) => !native.has(name));
console.log(`\nJS kernels: ${js.length} (${js.reduce((a, [, e]) => a + e.ms, 0).toFixed(1)} ms): ${js.map(([n]) => n).join(', ')}`);

if (!process.argv.includes('--no-time')) {
  // Three configurations alternated step by step, so all see the same machine load: the full native engine; the
  // native engine without the segmentation families (pool, layout, pointwise: their kernels back on JS, as before
  // they existed); and tfjs's JS kernels only. Median of each.
  const { families } = registerNativeKernels(loadAddon().addon!);
  const segKernels = ['pool', 'layout', 'pointwise'].flatMap((f) => families[f] ?? []);
  const time = (): number => { const t0 = performance.now(); seg.step(); return performance.now() - t0; };
  const configs: { name: string; run: () => number; ms: number[] }[] = [
    { name: 'native', run: time, ms: [] },
    { name: 'native without seg kernels', run: () => withJsKernels(time, segKernels), ms: [] },
    { name: 'JS only', run: () => withJsKernels(time), ms: [] },
  ].filter((c) => c.name !== 'JS only' || !process.argv.includes('--no-js'));
  for (const c of configs) c.run(); // warm-up
  for (let i = 0; i < steps; i++) for (const c of configs) c.ms.push(c.run());
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const base = median(configs[0]!.ms);
  console.log(`\nstep time, median of ${steps} (seg kernels: ${segKernels.join(', ')}):`);
  for (const c of configs) console.log(`  ${c.name.padEnd(28)} ${median(c.ms).toFixed(1).padStart(9)} ms  ${(median(c.ms) / base).toFixed(2)}x native`);
}
seg.dispose();
