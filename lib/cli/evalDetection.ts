// `convmixer eval detection --run ID [--run ID ...]`: train and test mAP@0.5, per-class AP and inference images/s of
// finished detection runs from their final weights, their detections as official VOC results files, and the first test
// images' boxes kept for the notebook's picture (lib/eval/detection.ts).
import { resolve } from 'node:path';
import { numberFlag, parseFlags } from './args.ts';
import { UserError } from '../errors.ts';
import { BACKEND_CHOICES, initBackend, parseBackendChoice } from '../backend/index.ts';
import { evalDetectionRun } from '../eval/detection.ts';
import { codeGitState } from '../runRecord.ts';

const HELP = `usage: convmixer eval detection --run ID[,ID...] [--batch B] [--images 6] [--draw-threshold 0.2]
                               [--data-root DIR] [--results-dir DIR] [--backend ${BACKEND_CHOICES.join('|')}] [--json]

Evaluates finished detection training runs (e.g. detection-yolo-convmixer-quick-s0) from their final weights: mAP@0.5
(VOC2007 11-point and all-point) on the split their recipe evaluates (VOC2007 test at the quick profile) and on their
training images (train vs test: overfitting), per-class AP, and inference images/s (forward passes of the evaluation
split at batch B after one warm-up batch, timed in this process: measure on a quiet machine). The detections are written
as official VOC results files to reports/predictions/<run id>-voc/comp4_det_<split>_<class>.txt (score them again with
convmixer eval voc --detections DIR); the first --images test images and their boxes go to reports/predictions/<run id>.*;
the run record is eval-<run id> (replaced when re-run).

  --run ID[,ID]         finished training runs (their records in --results-dir, their weights where the record says)
  --batch B             images per forward pass (default: the run's evaluation batch)
  --images N            test images kept for the picture (default 6)
  --draw-threshold T    predicted boxes of those images kept when their score is at least T (default 0.2)
  --data-root DIR       the folder holding VOCdevkit/; default data/ or $CONVMIXER_DATA
  --results-dir         where the run records are read and written (default reports/results)
  --json                print the records as JSON`;

interface Flags { run?: string; batch?: string; images?: string; 'draw-threshold'?: string; 'data-root'?: string; 'results-dir'?: string; backend?: string; json?: boolean }

export async function runEvalDetection(argv: string[]): Promise<number> {
  const { values, help } = parseFlags<Flags>(argv, {
    run: { type: 'string' }, batch: { type: 'string' }, images: { type: 'string' }, 'draw-threshold': { type: 'string' }, 'data-root': { type: 'string' },
    'results-dir': { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
  });
  if (help) { console.log(HELP); return 0; }
  const runs = (values.run ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!runs.length) throw new UserError('--run: expected one or more run ids (e.g. detection-yolo-convmixer-quick-s0)');
  const batchSize = numberFlag('batch', values.batch, { int: true, min: 1, max: 4096 });
  const keepImages = numberFlag('images', values.images, { int: true, min: 0, max: 64 });
  const drawThreshold = numberFlag('draw-threshold', values['draw-threshold'], { min: 0, max: 1 });
  const backend = await initBackend(parseBackendChoice(values.backend ?? process.env['CONVMIXER_BACKEND']));
  codeGitState();
  const out = [];
  for (const runId of runs) {
    if (!values.json) console.log(`${runId}:`);
    const rec = await evalDetectionRun(runId, {
      resultsDir: values['results-dir'] && resolve(values['results-dir']), dataRoot: values['data-root'] && resolve(values['data-root']),
      batchSize, keepImages, drawThreshold, backend: backend.description,
    }, values.json ? undefined : (line) => console.log(line));
    out.push(rec);
    if (!values.json) {
      const m = rec.metrics;
      const pct = (v: unknown) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '-');
      console.log(`  test mAP@0.5 ${pct(m['testMAP'])} (all-point ${pct(m['testMAPAll'])}), train mAP@0.5 ${pct(m['trainMAP'])}; inference ${(m['inferImgPerSec'] as number).toFixed(2)} img/s (${(m['inferMsPerImg'] as number).toFixed(1)} ms/img)`);
      console.log(`  VOC results files: ${m['vocResultsDir']}; record: eval-${runId}`);
    }
  }
  if (values.json) console.log(JSON.stringify(out, null, 2));
  return 0;
}
