// Pascal VOC detection AP, as the official devkit (VOCevaldet.m / VOCap.m) and py-faster-rcnn's voc_eval.py compute it.
// Pure: ground truth and detections in, numbers out. Boxes are VOC's 1-based inclusive pixel coordinates.
//
// Per class, over the images of the split:
//  - positives = the non-difficult ground-truth objects of the class (npos);
//  - detections sorted by decreasing score. The sort is stable: equal scores keep their input order (the file's line
//    order for readVocDetections), as MATLAB's sort in the devkit does (numpy's argsort in py-faster-rcnn is not
//    stable, so its tie order is an accident of the sort);
//  - each detection, in that order, takes the ground-truth box of its image and class with the highest IoU (the first
//    one on equal IoU), with the devkit's +1 pixel convention: width = xmax - xmin + 1;
//  - if that IoU >= the threshold (0.5; the devkit's `ovmax>=VOCopts.minoverlap`; py-faster-rcnn writes `>`, which
//    differs only at exactly 0.5): a difficult box makes the detection neither TP nor FP (it is ignored); an unmatched
//    box makes it a TP and marks the box; an already matched box makes it a FP (duplicate). No fallback to a
//    box with lower IoU. Below the threshold (or no box at all): FP;
//  - recall = cumTP / npos, precision = cumTP / max(cumTP + cumFP, eps) (py-faster-rcnn's guard; the devkit's NaN for
//    leading ignored detections gives the same AP, MATLAB's max skipping NaN);
//  - VOC2007 11-point AP: mean over t = i * 0.1, i = 0..10, of max precision at recall >= t (0 if none). The t are
//    computed as numpy's arange(0, 1.1, 0.1) does (i * 0.1 in doubles), so t = 0.30000000000000004, 0.6000000000000001
//    and 0.7000000000000001: a recall of exactly 3/10 does not reach the 0.3 point, as in py-faster-rcnn / detectron2
//    (the 11 precisions are summed and divided by 11 once, which differs from the devkit's running sum of p / 11 only
//    in the last bit);
//  - all-point AP (VOC2010+, VOCap.m): area under the precision envelope (precision made monotone decreasing from the
//    right) at every recall change, with sentinels recall 0 and 1, precision 0.
// A class without positives (none in the split, or only difficult ones) has no defined AP: the devkit divides by
// npos = 0 (recall NaN), which in py-faster-rcnn makes the all-point AP NaN (and so the mean NaN) and the 11-point AP 0.
// Here both APs are NaN for such a class and the means are taken over the classes with positives only (classesInMean
// says how many); on the full VOC2007/2012 test sets every class has positives, so this only matters for subsets.
import { UserError } from '../errors.ts';
import { VOC_CLASSES, type Box } from '../data/voc.ts';

export interface GtObject { cls: number; box: Box; difficult: boolean }
export interface GtImage { id: string; objects: readonly GtObject[] }
export interface Detection { imageId: string; cls: number; score: number; box: Box }

export interface ClassAp { cls: string; ap07: number; apAll: number; nPositives: number; nDetections: number; tp: number; fp: number }

export interface VocEvalResult {
  perClass: ClassAp[];
  /** Mean VOC2007 11-point AP over the classes with positives. */
  map07: number;
  /** Mean all-point AP over the classes with positives. */
  mapAll: number;
  classesInMean: number;
  iouThreshold: number;
}

/** The VOC protocol's IoU threshold for a match (the devkit's VOCopts.minoverlap). */
export const VOC_IOU_THRESHOLD = 0.5;

export interface VocEvalOptions {
  /** Minimum IoU for a match (default 0.5). */
  iouThreshold?: number;
  /** Class names; class index = position (default the 20 VOC classes). */
  classes?: readonly string[];
}

/** IoU of two 1-based inclusive pixel boxes with the devkit's +1 convention; 0 when they do not overlap. */
export function vocIou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1;
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter;
  return inter / union;
}

/** VOC2007 11-point interpolated AP of a precision/recall curve (points in detection order). */
export function vocAp07(recall: readonly number[], precision: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i <= 10; i++) {
    const t = i * 0.1;
    let p = 0;
    for (let k = 0; k < recall.length; k++) if (recall[k]! >= t && precision[k]! > p) p = precision[k]!;
    sum += p;
  }
  // Summed, then divided once: the devkit adds p / 11 eleven times, which gives 1.0000000000000002 for a perfect detector.
  return sum / 11;
}

/** All-point AP (VOC2010+): area under the monotone precision envelope. */
export function vocApAll(recall: readonly number[], precision: readonly number[]): number {
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i]!, mpre[i + 1]!);
  let ap = 0;
  for (let i = 0; i + 1 < mrec.length; i++) if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!;
  return ap;
}

interface ClassGt { boxes: Box[]; difficult: boolean[]; matched: boolean[] }

/** Matches one class's detections (already sorted) to its ground truth; returns the TP/FP flags in order. */
function matchClass(dets: readonly Detection[], gtByImage: Map<string, ClassGt>, iouThreshold: number): { tp: number[]; fp: number[] } {
  const tp = new Array<number>(dets.length).fill(0);
  const fp = new Array<number>(dets.length).fill(0);
  dets.forEach((d, k) => {
    const gt = gtByImage.get(d.imageId);
    let ovmax = -Infinity, jmax = -1;
    gt?.boxes.forEach((g, j) => {
      const ov = vocIou(d.box, g);
      if (ov > 0 && ov > ovmax) { ovmax = ov; jmax = j; }
    });
    if (gt && jmax >= 0 && ovmax >= iouThreshold) {
      if (gt.difficult[jmax]) return; // neither TP nor FP
      if (gt.matched[jmax]) fp[k] = 1; // duplicate of a box already found
      else { tp[k] = 1; gt.matched[jmax] = true; }
    } else {
      fp[k] = 1;
    }
  });
  return { tp, fp };
}

/** Per-class AP (11-point and all-point) and their means, by the VOC protocol described at the top of this file. */
export function vocEvaluate(groundTruth: readonly GtImage[], detections: readonly Detection[], opts: VocEvalOptions = {}): VocEvalResult {
  const iouThreshold = opts.iouThreshold ?? VOC_IOU_THRESHOLD;
  const classes = opts.classes ?? VOC_CLASSES;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) throw new UserError(`IoU threshold must be in (0, 1], got ${iouThreshold}`);
  const imageIds = new Set<string>();
  for (const img of groundTruth) {
    if (imageIds.has(img.id)) throw new UserError(`ground truth lists image '${img.id}' twice`);
    imageIds.add(img.id);
    for (const o of img.objects) if (!(Number.isInteger(o.cls) && o.cls >= 0 && o.cls < classes.length)) throw new UserError(`image '${img.id}': class index ${o.cls} out of range`);
  }
  const detsByClass: Detection[][] = classes.map(() => []);
  for (const d of detections) {
    // The devkit stops on a detection for an image outside the split ("unrecognized image").
    if (!imageIds.has(d.imageId)) throw new UserError(`detection for image '${d.imageId}', which is not in the ground truth`);
    if (!(Number.isInteger(d.cls) && d.cls >= 0 && d.cls < classes.length)) throw new UserError(`detection for image '${d.imageId}': class index ${d.cls} out of range`);
    if (!Number.isFinite(d.score)) throw new UserError(`detection for image '${d.imageId}': score ${d.score} is not a finite number`);
    detsByClass[d.cls]!.push(d);
  }

  const perClass = classes.map((name, cls): ClassAp => {
    const gtByImage = new Map<string, ClassGt>();
    let nPositives = 0;
    for (const img of groundTruth) {
      const objs = img.objects.filter((o) => o.cls === cls);
      if (objs.length === 0) continue;
      gtByImage.set(img.id, { boxes: objs.map((o) => o.box), difficult: objs.map((o) => o.difficult), matched: objs.map(() => false) });
      nPositives += objs.filter((o) => !o.difficult).length;
    }
    // Array.prototype.sort is stable: equal scores keep their input order.
    const dets = [...detsByClass[cls]!].sort((a, b) => b.score - a.score);
    const { tp, fp } = matchClass(dets, gtByImage, iouThreshold);
    const recall: number[] = [], precision: number[] = [];
    let cumTp = 0, cumFp = 0;
    for (let k = 0; k < dets.length; k++) {
      cumTp += tp[k]!;
      cumFp += fp[k]!;
      recall.push(cumTp / nPositives);
      precision.push(cumTp / Math.max(cumTp + cumFp, Number.EPSILON));
    }
    const defined = nPositives > 0;
    return {
      cls: name, nPositives, nDetections: dets.length, tp: cumTp, fp: cumFp,
      ap07: defined ? vocAp07(recall, precision) : NaN,
      apAll: defined ? vocApAll(recall, precision) : NaN,
    };
  });
  const counted = perClass.filter((c) => c.nPositives > 0);
  const mean = (key: 'ap07' | 'apAll'): number => (counted.length ? counted.reduce((s, c) => s + c[key], 0) / counted.length : NaN);
  return { perClass, map07: mean('ap07'), mapAll: mean('apAll'), classesInMean: counted.length, iouThreshold };
}
