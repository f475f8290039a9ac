// Detections in the official VOC results format ("comp4": trained on any data), one file per class:
//   <dir>/comp4_det_<split>_<class>.txt, one detection per line: `image_id score xmin ymin xmax ymax`
// (whitespace separated, boxes in the annotations' 1-based pixel coordinates). The trainer writes these with
// writeVocDetections; `convmixer eval voc` reads them with readVocDetections and scores them with vocEvaluate.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { atomicWrite } from '../io.ts';
import type { Box } from '../data/voc.ts';
import type { Detection } from '../metrics/voc.ts';

/** The results file of one class: comp4_det_<split>_<class>.txt. */
export function vocDetectionsFile(dir: string, split: string, cls: string): string {
  return join(dir, `comp4_det_${split}_${cls}.txt`);
}

export interface VocDetectionsRead {
  detections: Detection[];
  /** Classes whose file is absent (read as no detections). */
  missing: string[];
}

function parseLine(line: string, where: string, cls: number): Detection {
  const fields = line.trim().split(/\s+/);
  if (fields.length !== 6) throw new UserError(`${where}: expected 'image_id score xmin ymin xmax ymax', got ${fields.length} field${fields.length === 1 ? '' : 's'}`);
  const [imageId, ...numbers] = fields as [string, ...string[]];
  const values = numbers.map(Number);
  const bad = numbers.findIndex((s, i) => !Number.isFinite(values[i]!) || s === '');
  if (bad >= 0) throw new UserError(`${where}: ${['score', 'xmin', 'ymin', 'xmax', 'ymax'][bad]} '${numbers[bad]}' is not a number`);
  const [score, xmin, ymin, xmax, ymax] = values as [number, number, number, number, number];
  if (xmin > xmax || ymin > ymax) throw new UserError(`${where}: box [${xmin}, ${ymin}, ${xmax}, ${ymax}] has xmin > xmax or ymin > ymax`);
  return { imageId, cls, score, box: [xmin, ymin, xmax, ymax] };
}

/**
 * Reads the comp4 detection files of a split for the given classes (class index = position in `classes`), in class
 * order and, within a class, in line order (the order ties in score keep). A missing class file is no detections, listed
 * in `missing`; none at all is an error. With `imageIds`, a detection for an image outside the split is an error (as in
 * the devkit). Errors are one line naming the file and line number.
 */
export function readVocDetections(dir: string, split: string, classes: readonly string[], opts: { imageIds?: ReadonlySet<string> } = {}): VocDetectionsRead {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: no such folder of detections`);
  const detections: Detection[] = [];
  const missing: string[] = [];
  classes.forEach((name, cls) => {
    const file = vocDetectionsFile(dir, split, name);
    if (!existsSync(file)) {
      missing.push(name);
      return;
    }
    readFileSync(file, 'utf8').split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      const d = parseLine(line, `${file}:${i + 1}`, cls);
      if (opts.imageIds && !opts.imageIds.has(d.imageId)) throw new UserError(`${file}:${i + 1}: image '${d.imageId}' is not in split '${split}'`);
      detections.push(d);
    });
  });
  if (missing.length === classes.length) throw new UserError(`${dir}: no detection files (expected ${vocDetectionsFile(dir, split, classes[0] ?? '<class>')} and the like)`);
  return { detections, missing };
}

/** A number as the shortest text that reads back to the same double, so written files evaluate exactly as in memory. */
function num(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`cannot write ${v} in a VOC results file`);
  return String(v);
}

/**
 * Writes detections (boxes in VOC 1-based coordinates of the original image: see resizedBoxToVoc) as one comp4 file per
 * class, every class written (empty when it has none), lines in input order. Returns the files written.
 */
export function writeVocDetections(dir: string, split: string, classes: readonly string[], detections: readonly Detection[]): string[] {
  const lines: string[][] = classes.map(() => []);
  for (const d of detections) {
    if (!(Number.isInteger(d.cls) && d.cls >= 0 && d.cls < classes.length)) throw new Error(`detection for '${d.imageId}': class index ${d.cls} out of range`);
    if (/\s/.test(d.imageId) || d.imageId === '') throw new Error(`image id '${d.imageId}' cannot be written in a VOC results file`);
    const b: Box = d.box;
    lines[d.cls]!.push(`${d.imageId} ${num(d.score)} ${num(b[0])} ${num(b[1])} ${num(b[2])} ${num(b[3])}`);
  }
  return classes.map((name, cls) => {
    const file = vocDetectionsFile(dir, split, name);
    atomicWrite(file, lines[cls]!.map((l) => l + '\n').join(''));
    return file;
  });
}
