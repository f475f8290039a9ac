// Deterministic class-balanced subsets (`--train-subset N`): the same n, seed and dataset always give the
// same images, n/classes from each class (the first n % classes classes get one extra).
import { UserError } from '../errors.ts';
import { createRng } from '../rng.ts';
import type { ImageDataset } from './cifar10.ts';

export function balancedSubset(ds: ImageDataset, n: number, seed: number): ImageDataset {
  const k = ds.classes.length;
  if (!Number.isInteger(n) || n < 1 || n > ds.n) throw new UserError(`subset size ${n}: expected an integer in [1, ${ds.n}] for ${ds.name}`);
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]!]!.push(i);
  const rng = createRng(seed);
  const picked: number[] = [];
  byClass.forEach((idx, c) => {
    const want = Math.floor(n / k) + (c < n % k ? 1 : 0);
    if (idx.length < want) throw new UserError(`subset size ${n}: class '${ds.classes[c]}' of ${ds.name} has only ${idx.length} images, ${want} needed`);
    picked.push(...rng.shuffle(idx).slice(0, want));
  });
  picked.sort((a, b) => a - b); // dataset order, so the subset does not depend on how classes were visited
  const px = ds.height * ds.width * 3;
  const images = new Uint8Array(picked.length * px);
  const labels = new Uint8Array(picked.length);
  picked.forEach((src, i) => {
    images.set(ds.images.subarray(src * px, (src + 1) * px), i * px);
    labels[i] = ds.labels[src]!;
  });
  return { ...ds, name: `${ds.name}[balanced ${n}, seed ${seed}]`, images, labels, n: picked.length };
}
