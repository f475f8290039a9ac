// `convmixer data cifar10 [--from URL|FILE|DIR] [--root DIR] [--keep-raw]`: download or unpack CIFAR-10,
// verify known checksums, decode, and cache uint8 tensors under <root>/cifar10/cache.
import { parseFlags, type Command } from './args.ts';
import { UserError } from '../errors.ts';
import { prepareCifar10 } from '../data/cifar10.ts';
import { CIFAR10_BINARY_URL, cifar10Paths } from '../data/paths.ts';

const USAGE = `usage: convmixer data cifar10 [--from URL|FILE|DIR] [--root DIR] [--keep-raw] [--quiet]

  --from      the official binary tarball (${CIFAR10_BINARY_URL}),
              a local copy of it, a tarball of an image-folder layout (train/<class>/*.jpg|png, test/<class>/...),
              or such a folder. Default: <root>/cifar10/cifar-10-binary.tar.gz if present, else download it.
  --root      data folder (default: $CONVMIXER_DATA, else <repo>/data)
  --keep-raw  keep the unpacked archive under <root>/cifar10/raw
  --quiet     no progress lines`;

export const command: Command = {
  summary: 'download / unpack / verify / cache datasets (cifar10)',
  async run(argv) {
    const { values, positionals, help } = parseFlags<{ from?: string; root?: string; 'keep-raw'?: boolean; quiet?: boolean }>(argv, {
      from: { type: 'string' }, root: { type: 'string' }, 'keep-raw': { type: 'boolean' }, quiet: { type: 'boolean' },
    }, true);
    if (help) { console.log(USAGE); return 0; }
    if (positionals.length !== 1 || positionals[0] !== 'cifar10') {
      throw new UserError(`expected one dataset name, 'cifar10' (got ${positionals.length ? positionals.map((p) => `'${p}'`).join(' ') : 'none'}); see --help`);
    }
    const res = await prepareCifar10({ from: values.from, root: values.root, keepRaw: values['keep-raw'], quiet: values.quiet });
    const m = res.manifest;
    console.log(`cifar10: train ${m.splits.train.n} images, test ${m.splits.test.n} images, ${m.width}x${m.height}x3, ${m.classes.length} classes (${m.classes.join(', ')})`);
    console.log(`source: ${m.source.path} - ${m.source.description}${m.source.sha256 ? ` (sha256 ${m.source.sha256})` : ''}`);
    console.log(`cache: ${res.cacheDir} (manifest ${cifar10Paths(values.root).manifest}) in ${res.seconds.toFixed(1)} s`);
    return 0;
  },
};
