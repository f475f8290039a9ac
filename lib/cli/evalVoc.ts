// `convmixer eval voc`: per-class AP and mAP@0.5 of detections in the official VOC results format against a VOCdevkit
// split's annotations, by the VOC protocol (lib/metrics/voc.ts), as VOC2007 11-point and all-point AP. Reads only the
// annotations and the detection files (no images); writes nothing.
import { resolve } from 'node:path';
import { choiceFlag, parseFlags } from './args.ts';
import { UserError } from '../errors.ts';
import { loadVocAnnotations, VOC_CLASSES, VOC_YEARS, vocYearDir } from '../data/voc.ts';
import { readVocDetections, vocDetectionsFile } from '../eval/voc.ts';
import { vocEvaluate, type VocEvalResult } from '../metrics/voc.ts';

const HELP = `usage: convmixer eval voc --devkit DIR [--year ${VOC_YEARS.join('|')}] --split test --detections DIR [--json]

Per-class average precision and mAP at IoU 0.5 of detections on a Pascal VOC split, by the VOC devkit's protocol:
difficult objects ignored (neither true nor false positives), detections matched greedily by decreasing score (equal
scores in file order), a second detection of a found object counts as a false positive, IoU with the devkit's +1 pixel
convention. Prints both the VOC2007 11-point AP and the all-point AP (VOC2010+).

  --devkit DIR       the VOCdevkit folder (holding VOC<year>/Annotations and VOC<year>/ImageSets/Main) or its parent
  --year Y           ${VOC_YEARS.join(' or ')} (default 2007)
  --split NAME       the image set: ImageSets/Main/NAME.txt (test, val, trainval, ...)
  --detections DIR   a folder of comp4_det_<split>_<class>.txt files, one line per detection:
                     image_id score xmin ymin xmax ymax (1-based pixel coordinates, as in the annotations);
                     a missing class file counts as no detections for that class
  --json             print one JSON object instead of text (APs as fractions in [0, 1]; null where undefined)

A class with no non-difficult object in the split has no AP (n/a) and is left out of the means.`;

interface EvalVocFlags { devkit?: string; year?: string; split?: string; detections?: string; json?: boolean }

function pct(v: number): string {
  return Number.isNaN(v) ? 'n/a' : (100 * v).toFixed(2);
}

function printTable(result: VocEvalResult): void {
  const width = Math.max(...result.perClass.map((c) => c.cls.length), 'class'.length);
  const row = (cells: string[]): string => [cells[0]!.padEnd(width), ...cells.slice(1).map((c, i) => c.padStart([6, 6, 6, 6, 9, 9][i]!))].join('  ');
  console.log(row(['class', 'pos', 'dets', 'TP', 'FP', 'AP07 %', 'AP all %']));
  for (const c of result.perClass) console.log(row([c.cls, String(c.nPositives), String(c.nDetections), String(c.tp), String(c.fp), pct(c.ap07), pct(c.apAll)]));
  const over = `over ${result.classesInMean} of ${result.perClass.length} classes${result.classesInMean < result.perClass.length ? ' (the others have no positives)' : ''}`;
  console.log(`mAP@${result.iouThreshold}: VOC2007 11-point ${pct(result.map07)}%, all-point ${pct(result.mapAll)}% (${over})`);
}

/** JSON with NaN (undefined AP) as null. */
function jsonNumber(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

export async function runEvalVoc(argv: string[]): Promise<number> {
  const { values, help } = parseFlags<EvalVocFlags>(argv, {
    devkit: { type: 'string' }, year: { type: 'string' }, split: { type: 'string' }, detections: { type: 'string' }, json: { type: 'boolean' },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  if (!values.devkit) throw new UserError('--devkit DIR is required');
  if (!values.split) throw new UserError('--split NAME is required (e.g. --split test)');
  if (!values.detections) throw new UserError('--detections DIR is required');
  const year = choiceFlag('year', values.year, VOC_YEARS) ?? '2007';
  try {
    vocYearDir(values.devkit, year);
  } catch (err) {
    throw new UserError(`--devkit ${(err as Error).message}`);
  }
  const annotations = loadVocAnnotations(values.devkit, year, values.split);
  const classes = [...VOC_CLASSES];
  const { detections, missing } = readVocDetections(values.detections, values.split, classes, { imageIds: new Set(annotations.map((a) => a.id)) });
  const result = vocEvaluate(annotations, detections, { classes });

  if (values.json) {
    console.log(JSON.stringify({
      devkit: resolve(values.devkit), year, split: values.split, detections: resolve(values.detections), images: annotations.length,
      iouThreshold: result.iouThreshold, map07: jsonNumber(result.map07), mapAll: jsonNumber(result.mapAll), classesInMean: result.classesInMean,
      missingFiles: missing.map((c) => vocDetectionsFile(values.detections!, values.split!, c)),
      perClass: result.perClass.map((c) => ({ ...c, ap07: jsonNumber(c.ap07), apAll: jsonNumber(c.apAll) })),
    }));
    return 0;
  }
  console.log(`VOC${year} ${values.split}: ${annotations.length} images; detections from ${values.detections} (${detections.length} in ${classes.length - missing.length} files)`);
  if (missing.length) console.log(`no detection file for ${missing.join(', ')}: counted as no detections`);
  printTable(result);
  return 0;
}
