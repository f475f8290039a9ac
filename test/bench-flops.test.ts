// GFLOP/s beside ms/img (lib/bench/flops.ts): multiply-adds counted from the architecture, and the fp32 peak
// estimated from /proc/cpuinfo text; hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arithmeticMetrics, fp32PeakGflops, stepFlopsPerImage } from '../lib/bench/flops.ts';
import { resolveConfig } from '../lib/models/convmixer.ts';

const cifar = { ...resolveConfig('convmixer_256_8'), kernelSize: 9, patchSize: 1, numClasses: 10 };

test('stepFlopsPerImage: ConvMixer-256/8 k9 p1 at 32x32, a training step is about 4.24 GFLOP (the engine issue\'s figure)', () => {
  // stem 1024*256*3, depthwise 8*1024*256*81, pointwise 8*1024*256*256, head 256*10 multiply-adds
  const macs = 1024 * 256 * 3 + 8 * 1024 * 256 * 81 + 8 * 1024 * 256 * 256 + 256 * 10;
  assert.equal(stepFlopsPerImage({ kind: 'convmixer', config: cifar, imageSize: 32 }, 'infer'), 2 * macs);
  assert.equal(stepFlopsPerImage({ kind: 'convmixer', config: cifar, imageSize: 32 }, 'train'), 6 * macs);
  assert.equal(Math.round(6 * macs / 1e7) / 100, 4.25);
});

const cpuinfo = (vendor: string, mhz: string | null, flags: string, family = 25) =>
  `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel name\t: X\n${mhz === null ? '' : `cpu MHz\t\t: ${mhz}\n`}flags\t\t: fpu sse2 ${flags}\n\nprocessor\t: 1\n`;

test('fp32PeakGflops: clock x FLOP per cycle x cores, by vendor and flags; none without a clock', () => {
  const zen4 = fp32PeakGflops(cpuinfo('AuthenticAMD', '2595.124', 'avx2 fma avx512f avx512_bf16'), 2)!;
  assert.equal(zen4.gflops, (2 * 2595.124 * 32) / 1000); // ~166 GFLOP/s, the figure the engine issue uses
  assert.equal(zen4.detail, '2 cores x 2595 MHz x 32 FLOP/cycle (AMD, FMA on 2 x 256-bit pipes)');
  assert.equal(fp32PeakGflops(cpuinfo('GenuineIntel', '3000', 'avx2 fma avx512f'), 4)!.gflops, 4 * 3000 * 64 / 1000);
  // Zen 5 (family 26) with AVX-512: 512-bit FMA pipes; without AVX-512 (or Zen 4, family 25) 32
  const zen5 = fp32PeakGflops(cpuinfo('AuthenticAMD', '2596.096', 'avx2 fma avx512f avx512_bf16 avx512_vp2intersect', 26), 2)!;
  assert.deepEqual([zen5.gflops, zen5.detail], [(2 * 2596.096 * 64) / 1000, '2 cores x 2596 MHz x 64 FLOP/cycle (AMD Zen 5 AVX-512: 2 x 512-bit FMA pipes)']);
  assert.equal(fp32PeakGflops(cpuinfo('AuthenticAMD', '2000', 'avx2 fma', 26), 1)!.gflops, 64);
  assert.equal(fp32PeakGflops(cpuinfo('GenuineIntel', '3000', 'avx2 fma'), 1)!.gflops, 96);
  assert.equal(fp32PeakGflops(cpuinfo('GenuineIntel', '2000', 'avx'), 1)!.gflops, 32);
  assert.equal(fp32PeakGflops(cpuinfo('AuthenticAMD', null, 'fma'), 2), null);
  assert.equal(fp32PeakGflops('', 2), null);
});

test('arithmeticMetrics: GFLOP/s of both engines from ms/img, and their share of the peak', () => {
  const peak = { gflops: 200, detail: 'test' };
  const flops = stepFlopsPerImage({ kind: 'convmixer', config: cifar, imageSize: 32 }, 'train');
  const a = arithmeticMetrics({ kind: 'convmixer', config: cifar, imageSize: 32 }, 'train', { msPerImg: 50 }, { ms_per_img: 100 }, peak);
  assert.equal(a.metrics.gflopPerImg, flops / 1e9);
  assert.ok(Math.abs((a.metrics.gflops as number) - flops / 0.05 / 1e9) < 1e-9);
  assert.ok(Math.abs((a.metrics.torchGflops as number) - flops / 0.1 / 1e9) < 1e-9);
  assert.ok(Math.abs((a.metrics.peakShare as number) - flops / 0.05 / 1e9 / 200) < 1e-12);
  assert.match(a.line, /^arithmetic: 4\.245 GFLOP per image .*this engine 84\.9 GFLOP\/s \(42% of peak\), PyTorch 42\.5 GFLOP\/s \(21% of peak\); estimated fp32 peak 200 GFLOP\/s = test$/);
  const noPeak = arithmeticMetrics({ kind: 'convmixer', config: cifar, imageSize: 32 }, 'infer', { msPerImg: 1 }, null, null);
  assert.deepEqual([noPeak.metrics.peakShare, noPeak.metrics.torchGflops], [null, null]);
  assert.match(noPeak.line, /no fp32 peak estimate on this machine$/);
});
