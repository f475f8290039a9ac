import { UserError } from '../errors.ts';

// The `convmixer` command: a table of subcommands, each in its own file under lib/cli/,
// loaded lazily so `convmixer --help` stays fast and one broken command cannot break the others.

import type { Command } from './args.ts';
export type { Command } from './args.ts';

type Loader = () => Promise<{ command: Command }>;

const commands: Record<string, { summary: string; load: Loader }> = {
  params: { summary: 'ConvMixer parameter count (equation 4) and per-layer breakdown', load: () => import('./params.ts') },
  predict: { summary: 'top-5 classes of images with given weights', load: () => import('./predict.ts') },
  data: { summary: 'download / unpack / verify / cache datasets (cifar10)', load: () => import('./data.ts') },
  train: { summary: 'train a ConvMixer with the paper recipe; writes a run record', load: () => import('./train.ts') },
  experiment: { summary: 'run or inspect the experiment tables (table3, table4, pilot, segmentation, detection): resumable, shardable', load: () => import('./experiment.ts') },
  eval: { summary: 'top-1 / top-5 accuracy on ImageNet (eval imagenet); detection AP / mAP on Pascal VOC (eval voc)', load: () => import('./eval.ts') },
  bench: { summary: 'train/infer speed of this engine, optionally vs PyTorch', load: () => import('./bench.ts') },
  backend: { summary: 'which tfjs backend the suite uses here, and why', load: () => import('./backend.ts') },
  notebooks: { summary: 'run notebooks headless with the tslab kernel', load: () => import('./notebooks.ts') },
  report: { summary: 'run notebooks from shipped run records and render reports/index.html', load: () => import('./report.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: convmixer <command> [options]', '', 'commands:', ...lines, '', 'convmixer <command> --help for its options'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`convmixer: unknown command '${name}' (expected one of: ${Object.keys(commands).join(', ')})`);
    return 2;
  }
  let mod: { command: Command };
  try {
    mod = await entry.load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(`${name}.ts`)) {
      console.error(`convmixer ${name}: not available in this build yet`);
      return 2;
    }
    throw err;
  }
  try {
    return await mod.command.run(rest);
  } catch (err) {
    // User-facing errors are one line; programming errors keep their stack for debugging.
    if (err instanceof UserError) {
      console.error(`convmixer ${name}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
