// What a bench run record stores: this engine's numbers, PyTorch's (with the interpreter, version and thread count
// it really ran with, so a ratio can be traced to its setup), and the threads each engine ran on.
import type { BackendName } from '../backend/index.ts';
import type { BenchResult } from './engine.ts';
import type { TorchResult } from './torch.ts';

/** Threads this engine runs on: tfjs's JS kernels run on the main thread alone, whatever --threads says. */
export function engineThreads(backend: BackendName, requested: number): number {
  return backend === 'cpu' ? 1 : requested;
}

/** The record's metrics; PyTorch's fields are null without --vs torch. */
export function benchMetrics(ours: BenchResult, torch: TorchResult | null): Record<string, number | string | null> {
  return {
    msPerImg: ours.msPerImg, imgPerSec: ours.imgPerSec, peakRssMiB: ours.peakRssMiB, stepMsMin: Math.min(...ours.stepMs),
    torchMsPerImg: torch?.ms_per_img ?? null, torchPeakRssMiB: torch?.peak_rss_mib ?? null, torchVersion: torch?.torch ?? null,
    torchThreads: torch?.threads ?? null, torchPython: torch?.python ?? null, torchBlas: torch?.blas ?? null,
    ratio: torch ? ours.msPerImg / torch.ms_per_img : null, memoryRatio: torch ? ours.peakRssMiB / torch.peak_rss_mib : null,
  };
}
