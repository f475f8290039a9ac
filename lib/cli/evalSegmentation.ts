// `convmixer eval segmentation --run ID [--run ID ...]`: mIoU, pixel accuracy, Dice and per-class IoU of finished
// segmentation runs from their final weights, with inference images/s timed in this one process (so the speeds of the
// models compare), and the first frames' predicted label maps kept as a PNG (lib/eval/segmentation.ts).
import { resolve } from 'node:path';
import { numberFlag, parseFlags } from './args.ts';
import { UserError } from '../errors.ts';
import { BACKEND_CHOICES, initBackend, parseBackendChoice } from '../backend/index.ts';
import { evalSegmentationRun } from '../eval/segmentation.ts';
import { codeGitState } from '../runRecord.ts';

const HELP = `usage: convmixer eval segmentation --run ID[,ID...] [--batch B] [--frames 6] [--data-root DIR]
                                  [--results-dir DIR] [--backend ${BACKEND_CHOICES.join('|')}] [--json]

Evaluates finished segmentation training runs (e.g. segmentation-unet-quick-s0) from their final weights on the split
their recipe evaluates (CamVid test at the quick profile): mean IoU over classes (void ignored), pixel accuracy, Dice,
per-class IoU, and inference images/s (forward passes of the whole split at batch B after one warm-up batch, timed in
this process: measure on a quiet machine, all runs in one command, so their speeds compare). The predicted label maps of
the first --frames frames go to reports/predictions/<run id>.png; the run record is eval-<run id> (replaced when re-run).

  --run ID[,ID]    finished training runs (their records in --results-dir, their weights where the record says)
  --batch B        frames per forward pass (default: the run's evaluation batch)
  --frames N       frames whose predictions are kept (default 6)
  --data-root DIR  the folder holding CamVid/ (or cityscapes/); default data/ or $CONVMIXER_DATA
  --results-dir    where the run records are read and written (default reports/results)
  --json           print the records as JSON`;

interface Flags { run?: string; batch?: string; frames?: string; 'data-root'?: string; 'results-dir'?: string; backend?: string; json?: boolean }

export async function runEvalSegmentation(argv: string[]): Promise<number> {
  const { values, help } = parseFlags<Flags>(argv, {
    run: { type: 'string' }, batch: { type: 'string' }, frames: { type: 'string' }, 'data-root': { type: 'string' },
    'results-dir': { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
  });
  if (help) { console.log(HELP); return 0; }
  const runs = (values.run ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!runs.length) throw new UserError('--run: expected one or more run ids (e.g. segmentation-unet-quick-s0)');
  const batchSize = numberFlag('batch', values.batch, { int: true, min: 1, max: 4096 });
  const keepFrames = numberFlag('frames', values.frames, { int: true, min: 0, max: 64 });
  const backend = await initBackend(parseBackendChoice(values.backend ?? process.env['CONVMIXER_BACKEND']));
  codeGitState();
  const out = [];
  for (const runId of runs) {
    if (!values.json) console.log(`${runId}:`);
    const rec = await evalSegmentationRun(runId, {
      resultsDir: values['results-dir'] && resolve(values['results-dir']), dataRoot: values['data-root'] && resolve(values['data-root']),
      batchSize, keepFrames, backend: backend.description,
    }, values.json ? undefined : (line) => process.stdout.write(`\r${line}`));
    out.push(rec);
    if (!values.json) {
      const m = rec.metrics;
      const pct = (v: unknown) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '-');
      console.log(`\n  mIoU ${pct(m['testMIoU'])}, pixel accuracy ${pct(m['testPixelAcc'])}, Dice ${pct(m['testDice'])}; inference ${(m['inferImgPerSec'] as number).toFixed(2)} img/s (${(m['inferMsPerImg'] as number).toFixed(1)} ms/img)`);
      console.log(`  predictions: ${m['predictionsFile'] ?? 'none kept (--frames 0)'}; record: eval-${runId}`);
    }
  }
  if (values.json) console.log(JSON.stringify(out, null, 2));
  return 0;
}
