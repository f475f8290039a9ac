// A tiny prepared CIFAR-10 cache for CLI tests: the official binary layout (5 train batches + test batch) of seeded
// noise with a class-dependent tint, packed as a .tar.gz and prepared by the real `prepareCifar10` under a --data-root.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRng } from '../../lib/rng.ts';
import { prepareCifar10 } from '../../lib/data/cifar10.ts';
import { tarBytes } from '../fixtures/tarWriter.ts';

/** A CIFAR-10 binary batch (label byte, then 1024 R, G, B bytes per record). */
function binaryBatch(n: number, seed: number): Uint8Array {
  const rng = createRng(seed), out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    const label = r % 10;
    out[r * 3073] = label;
    for (let i = 0; i < 3072; i++) out[r * 3073 + 1 + i] = (Math.floor(i / 1024) * 40 + label * 12 + rng.int(80)) % 256;
  }
  return out;
}

/** Prepares 5 x `perBatch` train and `testN` test images under `<tmp>/data`; returns that --data-root. */
export async function tinyCifarDataRoot(tmp: string, perBatch = 60, testN = 50): Promise<string> {
  const dir = 'cifar-10-batches-bin/';
  const items = [1, 2, 3, 4, 5].map((i) => ({ name: `${dir}data_batch_${i}.bin`, data: binaryBatch(perBatch, i) }));
  items.push({ name: `${dir}test_batch.bin`, data: binaryBatch(testN, 99) });
  writeFileSync(join(tmp, 'tiny.tar.gz'), gzipSync(tarBytes(items)));
  const root = join(tmp, 'data');
  await prepareCifar10({ from: join(tmp, 'tiny.tar.gz'), root, quiet: true });
  return root;
}
