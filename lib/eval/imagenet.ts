// ImageNet-1k validation: find the images and their labels in either standard layout, run a model over them with the
// eval transform of its default cfg (lib/data/evalTransform.ts), and count top-1 / top-5 hits.
//
// Layouts:
//  - folders: DIR/val/<wnid>/*.JPEG or DIR/<wnid>/*.JPEG (torchvision ImageFolder; what timm's validate.py reads).
//  - flat: DIR/ILSVRC2012_val_00000001.JPEG ... plus the devkit's ILSVRC2012_validation_ground_truth.txt (one 1-based
//    ILSVRC2012_ID per line, in image order). The IDs are the devkit's meta.mat order, not the class-index order, so
//    a --labels file is needed: one wnid per line in ILSVRC2012_ID order (row i = ID i + 1; e.g. the wnid column of
//    meta.mat's synsets 1..1000).
// Class index order is the sorted wnids (ImageFolder's order, which is the standard 1000-class order of timm's and
// torchvision's ImageNet weights). Without --labels the classes are the sorted folder names (their number must equal the
// model's classes); with --labels they are the sorted wnids of that file, and every folder must be one of them.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { loadImage, type Preprocess } from '../data/evalTransform.ts';

export const GROUND_TRUTH_FILE = 'ILSVRC2012_validation_ground_truth.txt';
const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|tiff?)$/i;
const FLAT_NAME = /^ILSVRC2012_val_(\d{8})\.JPEG$/i;

export interface EvalImage { path: string; label: number; wnid: string }

export interface ValSet {
  layout: 'folders' | 'flat';
  /** The folder the images were read from (DIR/val, DIR). */
  root: string;
  /** Class index -> wnid (sorted wnids). */
  classes: string[];
  /** All images in sorted file order (folders: by wnid, then file name; flat: by file name). */
  images: EvalImage[];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Reads a --labels file: one wnid per line (ILSVRC2012_ID order); blank lines and '#' comments ignored. */
export function readLabels(file: string): string[] {
  if (!existsSync(file)) throw new UserError(`--labels: no such file ${file}`);
  const wnids = readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter((l) => l.length > 0).map((l) => l.split(/[\s,]+/)[0]!);
  if (wnids.length === 0) throw new UserError(`--labels: ${file} holds no wnids`);
  const seen = new Set<string>();
  for (const w of wnids) {
    if (seen.has(w)) throw new UserError(`--labels: ${file} lists wnid '${w}' twice`);
    seen.add(w);
  }
  return wnids;
}

/**
 * Finds the validation images under `dir` and their class indices. `labels`: wnids in ILSVRC2012_ID order (--labels);
 * `groundTruth`: the devkit file (default: DIR/ILSVRC2012_validation_ground_truth.txt, or DIR/../ or DIR/data/).
 */
export function findValSet(dir: string, opts: { labels?: string[]; groundTruth?: string } = {}): ValSet {
  if (!isDir(dir)) throw new UserError(`--data: no such folder ${dir}`);
  const root = isDir(join(dir, 'val')) ? join(dir, 'val') : dir;
  const entries = readdirSync(root).sort(byName);
  const folders = entries.filter((e) => !e.startsWith('.') && isDir(join(root, e)));
  const sortedLabels = opts.labels ? [...opts.labels].sort(byName) : undefined;
  if (folders.length > 0) {
    const classes = sortedLabels ?? folders;
    const index = new Map(classes.map((w, i) => [w, i]));
    const images: EvalImage[] = [];
    for (const wnid of folders) {
      const label = index.get(wnid);
      if (label === undefined) throw new UserError(`${join(root, wnid)}: unknown wnid '${wnid}' (not in --labels)`);
      for (const f of readdirSync(join(root, wnid)).sort(byName)) {
        if (IMAGE_EXT.test(f) && !f.startsWith('.')) images.push({ path: join(root, wnid, f), label, wnid });
      }
    }
    if (images.length === 0) throw new UserError(`${root}: no images in its ${folders.length} class folder(s)`);
    return { layout: 'folders', root, classes, images };
  }
  const flat = entries.filter((e) => FLAT_NAME.test(e));
  if (flat.length === 0) {
    throw new UserError(`${root}: empty dataset (no <wnid>/ class folders and no ILSVRC2012_val_*.JPEG files)`);
  }
  const gtFile = opts.groundTruth ?? [join(root, GROUND_TRUTH_FILE), join(root, '..', GROUND_TRUTH_FILE), join(root, 'data', GROUND_TRUTH_FILE)].find((p) => existsSync(p));
  if (!gtFile || !existsSync(gtFile)) {
    throw new UserError(`${root}: flat ILSVRC2012_val_*.JPEG layout needs the devkit's ${GROUND_TRUTH_FILE} (in ${root}, or --ground-truth FILE)`);
  }
  if (!opts.labels || !sortedLabels) {
    throw new UserError(`${root}: flat layout needs --labels FILE (one wnid per line in ILSVRC2012_ID order) to map the ground-truth IDs to classes`);
  }
  const ids = readFileSync(gtFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const index = new Map(sortedLabels.map((w, i) => [w, i]));
  const images: EvalImage[] = flat.map((f) => {
    const n = Number(FLAT_NAME.exec(f)![1]);
    const raw = ids[n - 1];
    if (raw === undefined) throw new UserError(`${gtFile}: no line ${n} for ${f} (the file has ${ids.length} lines)`);
    const id = Number(raw);
    if (!Number.isInteger(id) || id < 1 || id > opts.labels!.length) {
      throw new UserError(`${gtFile}: line ${n} (${f}): ILSVRC2012_ID '${raw}' is not in 1..${opts.labels!.length} (--labels)`);
    }
    const wnid = opts.labels![id - 1]!;
    return { path: join(root, f), label: index.get(wnid)!, wnid };
  });
  return { layout: 'flat', root, classes: sortedLabels, images };
}

export interface EvalProgress { done: number; total: number; top1: number; imgPerSec: number; etaSec: number }

export interface EvalResult {
  images: number;
  correct1: number;
  correct5: number;
  /** Percent. */
  top1: number;
  top5: number;
  /** k of "top-5" (min(5, classes)). */
  k: number;
  /** Top-1 class of each image, in the order evaluated. */
  predictions: number[];
  seconds: number;
}

/** Indices of the k largest values (ties: lower index first). */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => row[b]! - row[a]! || a - b);
  return idx.slice(0, k);
}

/** Runs the model (eval mode) over the images in batches; top-1 and top-5 accuracy in percent. */
export async function evaluate(
  model: { apply(x: tf.Tensor4D, opts?: { training?: boolean }): tf.Tensor2D },
  images: EvalImage[],
  pre: Preprocess,
  opts: { batch?: number; onProgress?: (p: EvalProgress) => void } = {},
): Promise<EvalResult> {
  const batch = opts.batch ?? 32;
  const t0 = performance.now();
  let correct1 = 0, correct5 = 0, k = 5;
  const predictions: number[] = [];
  const per = pre.size * pre.size * 3;
  for (let start = 0; start < images.length; start += batch) {
    const chunk = images.slice(start, start + batch);
    const xs = new Float32Array(chunk.length * per);
    const decoded = await Promise.all(chunk.map((im) => loadImage(im.path, pre)));
    decoded.forEach((x, i) => xs.set(x, i * per));
    const logits = tf.tidy(() => model.apply(tf.tensor4d(xs, [chunk.length, pre.size, pre.size, 3]), { training: false }));
    const data = logits.dataSync();
    const classes = logits.shape[1];
    logits.dispose();
    k = Math.min(5, classes);
    chunk.forEach((im, i) => {
      if (im.label >= classes) throw new UserError(`${im.path}: class ${im.label} (${im.wnid}) is beyond the model's ${classes} classes`);
      const top = topK(data.subarray(i * classes, (i + 1) * classes), k);
      predictions.push(top[0]!);
      if (top[0] === im.label) correct1++;
      if (top.includes(im.label)) correct5++;
    });
    const done = start + chunk.length, sec = (performance.now() - t0) / 1000;
    opts.onProgress?.({ done, total: images.length, top1: (100 * correct1) / done, imgPerSec: done / sec, etaSec: ((images.length - done) * sec) / done });
  }
  const n = images.length;
  return { images: n, correct1, correct5, top1: (100 * correct1) / n, top5: (100 * correct5) / n, k, predictions, seconds: (performance.now() - t0) / 1000 };
}

/** Progress on stderr: one line rewritten in place on a terminal, else a line every few seconds (like training's). */
export function evalProgressPrinter(stream: { write(s: string): unknown; isTTY?: boolean } = process.stderr): { update(p: EvalProgress): void; clear(): void } {
  const tty = stream.isTTY === true;
  const interval = tty ? 100 : 5000;
  let last = -Infinity, open = false;
  return {
    update(p) {
      const t = Date.now();
      if (t - last < interval && p.done !== p.total) return;
      last = t;
      const line = `eval ${p.done}/${p.total} top-1 ${p.top1.toFixed(2)}% ${p.imgPerSec.toFixed(1)} img/s ETA ${Math.round(p.etaSec)}s`;
      if (tty) {
        stream.write(`\r${line}\x1b[K`);
        open = true;
      } else stream.write(line + '\n');
    },
    clear() {
      if (open) stream.write('\n');
      open = false;
    },
  };
}
