// Where datasets live: --root, else $CONVMIXER_DATA, else <repo>/data. One place decides, so the CLI,
// the loaders and the tests agree.
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../io.ts';

export const REPO_DATA_DIR = join(REPO_ROOT, 'data');

export function dataRoot(root?: string): string {
  if (root) return resolve(root);
  const env = process.env.CONVMIXER_DATA;
  return env ? resolve(env) : REPO_DATA_DIR;
}

export interface Cifar10Paths {
  /** <root>/cifar10 */
  dir: string;
  /** Where a downloaded (or hand-placed) official tarball is kept. */
  tarball: string;
  /** Decoded uint8 tensors + manifest. */
  cacheDir: string;
  manifest: string;
  split(name: 'train' | 'test'): string;
}

export const CIFAR10_BINARY_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';

export function cifar10Paths(root?: string): Cifar10Paths {
  const dir = join(dataRoot(root), 'cifar10');
  const cacheDir = join(dir, 'cache');
  return {
    dir,
    tarball: join(dir, 'cifar-10-binary.tar.gz'),
    cacheDir,
    manifest: join(cacheDir, 'manifest.json'),
    split: (name) => join(cacheDir, `${name}.bin`),
  };
}
