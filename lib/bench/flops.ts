// Arithmetic throughput of a benchmark, to see how far a kernel is from the machine: the multiply-adds of a model's
// convolutions and matmuls per image, counted from the architecture (a training step as three forward passes:
// forward, input gradient, weight gradient; BatchNorm, activations and the update not counted), and the machine's
// fp32 peak from /proc/cpuinfo (clock x FMA lanes x 2 per core). Both are estimates, labelled as such where printed.
import { readFileSync } from 'node:fs';
import type { BenchResult } from './engine.ts';
import type { TorchResult } from './torch.ts';
import { convMixerMacs, type ConvMixerConfig } from '../models/convmixer.ts';
import { unetMacs, type UnetConfig } from '../models/unet.ts';
import { convMixerUnetMacs, type ConvMixerUnetConfig } from '../models/convmixerUnet.ts';

/** What a bench measures: a ConvMixer config, or a segmentation model of a family whose multiply-adds are counted. */
export type FlopsModel =
  | { kind: 'convmixer'; config: ConvMixerConfig; imageSize: number }
  | { kind: 'unet'; config: UnetConfig; height: number; width: number }
  | { kind: 'convmixer_unet'; config: ConvMixerUnetConfig; height: number; width: number };

/** FLOPs (2 per multiply-add) of one image's step: forward only for inference, 3x forward for a training step. */
export function stepFlopsPerImage(m: FlopsModel, mode: 'train' | 'infer'): number {
  const macs = m.kind === 'convmixer' ? convMixerMacs(m.config, m.imageSize).total
    : m.kind === 'unet' ? unetMacs(m.config, m.height, m.width) : convMixerUnetMacs(m.config, m.height, m.width);
  return 2 * macs * (mode === 'train' ? 3 : 1);
}

export interface PeakEstimate {
  gflops: number;
  /** How it was derived, e.g. '2 cores x 2595 MHz x 32 FLOP/cycle (AMD, FMA on 2 x 256-bit pipes)'. */
  detail: string;
}

/**
 * fp32 peak of `cores` cores from /proc/cpuinfo text: the clock it reports times FLOPs per cycle per core, 32 with FMA
 * (two 256-bit FMA pipes: Zen 2-4, whose AVX-512 is double-pumped, and Intel's AVX2 cores), 64 for Intel with AVX-512
 * (two 512-bit FMA units on its server parts) and for AMD Zen 5 with AVX-512 (cpu family 26: 512-bit FMA pipes on
 * the server parts; measured here, the native SGEMM reaches about 350 GFLOP/s on 2 cores at 2.6 GHz, above 32 FLOP/cycle),
 * 16 without FMA. Null when the text has no clock (not Linux, or a VM
 * that hides it).
 */
export function fp32PeakGflops(cpuinfo: string, cores: number): PeakEstimate | null {
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1]);
  if (!Number.isFinite(mhz) || mhz <= 0) return null;
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const intel = /^vendor_id\s*:\s*GenuineIntel/m.test(cpuinfo);
  const family = Number(/^cpu family\s*:\s*(\d+)/m.exec(cpuinfo)?.[1]);
  const zen5 = !intel && family >= 26 && flags.has('avx512f');
  const [perCycle, how] = !flags.has('fma') ? [16, 'no FMA: 2 x 256-bit add + multiply']
    : intel && flags.has('avx512f') ? [64, 'Intel AVX-512: 2 x 512-bit FMA units']
      : zen5 ? [64, 'AMD Zen 5 AVX-512: 2 x 512-bit FMA pipes']
        : [32, `${intel ? 'Intel' : 'AMD'}, FMA on 2 x 256-bit pipes`];
  return { gflops: (cores * mhz * perCycle) / 1000, detail: `${cores} core${cores > 1 ? 's' : ''} x ${mhz.toFixed(0)} MHz x ${perCycle} FLOP/cycle (${how})` };
}

/** This machine's estimate ('' cpuinfo where /proc/cpuinfo cannot be read). */
export function machinePeakGflops(cores: number): PeakEstimate | null {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no estimate
  }
  return fp32PeakGflops(text, cores);
}

/** The record's arithmetic fields and the line bench prints: GFLOP per image, GFLOP/s of both engines, share of the peak. */
export function arithmeticMetrics(m: FlopsModel, mode: 'train' | 'infer', ours: Pick<BenchResult, 'msPerImg'>, torch: Pick<TorchResult, 'ms_per_img'> | null,
  peak: PeakEstimate | null): { metrics: Record<string, number | string | null>; line: string } {
  const flops = stepFlopsPerImage(m, mode);
  const rate = (ms: number) => flops / ms / 1e6; // FLOP per ms -> GFLOP/s
  const gflops = rate(ours.msPerImg), torchGflops = torch ? rate(torch.ms_per_img) : null;
  const share = (g: number) => (peak ? ` (${((100 * g) / peak.gflops).toFixed(0)}% of peak)` : '');
  const line = `arithmetic: ${(flops / 1e9).toFixed(3)} GFLOP per image (convolutions and matmuls, counted from the architecture${mode === 'train' ? '; a training step = 3 forward passes' : ''}): `
    + `this engine ${gflops.toFixed(1)} GFLOP/s${share(gflops)}${torchGflops !== null ? `, PyTorch ${torchGflops.toFixed(1)} GFLOP/s${share(torchGflops)}` : ''}`
    + `${peak ? `; estimated fp32 peak ${peak.gflops.toFixed(0)} GFLOP/s = ${peak.detail}` : '; no fp32 peak estimate on this machine'}`;
  return {
    metrics: {
      gflopPerImg: flops / 1e9, gflops, torchGflops, peakGflops: peak?.gflops ?? null, peakShare: peak ? gflops / peak.gflops : null,
      torchPeakShare: peak && torchGflops !== null ? torchGflops / peak.gflops : null, peakDetail: peak?.detail ?? null,
    },
    line,
  };
}
