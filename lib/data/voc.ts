// Pascal VOC detection data in the official VOCdevkit layout (VOC2007 and VOC2012):
//   <devkit>/VOC<year>/Annotations/<id>.xml        one annotation per image (size, objects with name/difficult/bndbox)
//   <devkit>/VOC<year>/ImageSets/Main/<split>.txt  the ids of a split (train, val, trainval, test), one per line
//   <devkit>/VOC<year>/JPEGImages/<id>.jpg         the images
// `--devkit` may name the VOCdevkit folder itself or the folder holding it.
//
// Box convention. VOC annotations give 1-based, inclusive pixel indices: a box covers the pixel columns xmin..xmax
// (so it is xmax - xmin + 1 pixels wide; the devkit's IoU adds that +1). As continuous 0-based coordinates with
// edges at pixel borders the same box spans [xmin - 1, xmax] x [ymin - 1, ymax]. The loader's boxes are in those
// continuous coordinates of the resized image: x' = x * size / width, i.e. [(xmin - 1) * sx, (ymin - 1) * sy,
// xmax * sx, ymax * sy] with sx = size / width, sy = size / height, all within [0, size]. resizedBoxToVoc maps a box
// back (for writing detections in the official results format, which uses the annotations' 1-based convention).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { UserError } from '../errors.ts';
import { progress } from './download.ts';
import { childrenNamed, parseXml, XmlSyntaxError, type XmlElement } from './xml.ts';

/** The 20 VOC classes in the official order (class index = position). */
export const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
] as const;

export type VocYear = '2007' | '2012';
export const VOC_YEARS: readonly VocYear[] = ['2007', '2012'];

/** [xmin, ymin, xmax, ymax]; see the top of this file for which convention a given box is in. */
export type Box = [number, number, number, number];

export interface VocObject { cls: number; name: string; box: Box; difficult: boolean }

export interface VocAnnotation { id: string; width: number; height: number; objects: VocObject[] }

/** A detection dataset resized to size x size (stretched, as YOLOv1 does), boxes in resized continuous pixels. */
export interface DetDataset {
  name: string;
  split: string;
  n: number;
  size: number;
  /** n * size * size * 3 RGB, HWC per image. */
  images: Uint8Array;
  boxes: { cls: number; box: Box; difficult: boolean }[][];
  ids: string[];
  /** Original [width, height] of each image, to map predictions back with resizedBoxToVoc. */
  origSizes: [number, number][];
  /** The annotations as read (1-based VOC boxes of the original image): the ground truth the VOC evaluation uses. */
  annotations: VocAnnotation[];
  classes: string[];
}

const CLASS_INDEX = new Map<string, number>(VOC_CLASSES.map((c, i) => [c, i]));

function oneChild(el: XmlElement, name: string, where: string): XmlElement {
  const found = childrenNamed(el, name);
  if (found.length !== 1) throw new Error(`${where}: expected one <${name}>, found ${found.length}`);
  return found[0]!;
}

function numberIn(el: XmlElement, name: string, where: string, opts: { int?: boolean } = {}): number {
  const text = oneChild(el, name, where).text.trim();
  const v = Number(text);
  if (text === '' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v))) {
    throw new Error(`${where}: <${name}> must be ${opts.int ? 'an integer' : 'a number'}, got '${text}'`);
  }
  return v;
}

function readObject(el: XmlElement, k: number, width: number, height: number): VocObject {
  const name = oneChild(el, 'name', `<object> ${k}`).text.trim();
  const where = `<object> ${k} (${name})`;
  const cls = CLASS_INDEX.get(name);
  if (cls === undefined) throw new Error(`${where}: unknown class '${name}' (expected one of the 20 VOC classes)`);
  // VOC2012 leaves <difficult> out on some objects; the devkit then reads it as 0.
  const diffEls = childrenNamed(el, 'difficult');
  if (diffEls.length > 1) throw new Error(`${where}: expected at most one <difficult>, found ${diffEls.length}`);
  const diffText = diffEls[0]?.text.trim() ?? '0';
  if (diffText !== '0' && diffText !== '1') throw new Error(`${where}: <difficult> must be 0 or 1, got '${diffText}'`);
  const bb = oneChild(el, 'bndbox', where);
  const box: Box = [numberIn(bb, 'xmin', where), numberIn(bb, 'ymin', where), numberIn(bb, 'xmax', where), numberIn(bb, 'ymax', where)];
  const [xmin, ymin, xmax, ymax] = box;
  if (xmin > xmax || ymin > ymax) throw new Error(`${where}: box [${box.join(', ')}] has xmin > xmax or ymin > ymax`);
  if (xmin < 1 || ymin < 1 || xmax > width || ymax > height) {
    throw new Error(`${where}: box [${box.join(', ')}] is outside the ${width}x${height} image (1-based pixels 1..${width}, 1..${height})`);
  }
  return { cls, name, box, difficult: diffText === '1' };
}

/** Reads one VOC annotation XML (id = the file name without .xml). Any problem is one UserError line naming the file. */
export function readVocAnnotation(xmlPath: string): VocAnnotation {
  const id = xmlPath.replace(/^.*[\\/]/, '').replace(/\.xml$/i, '');
  let source: string;
  try {
    source = readFileSync(xmlPath, 'utf8');
  } catch (err) {
    throw new UserError(`${xmlPath}: cannot read the annotation (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const root = parseXml(source);
    if (root.name !== 'annotation') throw new Error(`root element is <${root.name}>, expected <annotation>`);
    const size = oneChild(root, 'size', '<annotation>');
    const width = numberIn(size, 'width', '<size>', { int: true });
    const height = numberIn(size, 'height', '<size>', { int: true });
    if (width < 1 || height < 1) throw new Error(`<size> ${width}x${height} is empty`);
    const objects = childrenNamed(root, 'object').map((el, k) => readObject(el, k + 1, width, height));
    return { id, width, height, objects };
  } catch (err) {
    const what = err instanceof XmlSyntaxError ? `malformed XML: ${err.message}` : (err as Error).message;
    throw new UserError(`${xmlPath}: ${what}`);
  }
}

/** The VOC<year> folder inside a devkit: `<devkit>/VOC<year>` or `<devkit>/VOCdevkit/VOC<year>`. */
export function vocYearDir(devkit: string, year: VocYear): string {
  const candidates = [join(devkit, `VOC${year}`), join(devkit, 'VOCdevkit', `VOC${year}`)];
  const found = candidates.find((d) => existsSync(d) && statSync(d).isDirectory());
  if (!found) throw new UserError(`${devkit}: no VOC${year} folder (looked for ${candidates.join(' and ')})`);
  return found;
}

/** The image ids of `VOC<year>/ImageSets/Main/<split>.txt`, in file order (one id per line; duplicates refused). */
export function readVocSplit(devkit: string, year: VocYear, split: string): string[] {
  if (!/^[\w-]+$/.test(split)) throw new UserError(`split '${split}': expected a name such as train, val, trainval or test`);
  const file = join(vocYearDir(devkit, year), 'ImageSets', 'Main', `${split}.txt`);
  if (!existsSync(file)) throw new UserError(`${file}: no such split file (split '${split}')`);
  const ids: string[] = [];
  const seen = new Set<string>();
  readFileSync(file, 'utf8').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    if (!/^[\w.-]+$/.test(line)) throw new UserError(`${file}:${i + 1}: expected one image id, got '${line}'`);
    if (seen.has(line)) throw new UserError(`${file}:${i + 1}: image id '${line}' listed twice`);
    seen.add(line);
    ids.push(line);
  });
  if (ids.length === 0) throw new UserError(`${file}: no image ids`);
  return ids;
}

/** The annotations of every image of a split, in split order (ground truth for vocEvaluate; no images decoded). */
export function loadVocAnnotations(devkit: string, year: VocYear, split: string): VocAnnotation[] {
  const dir = vocYearDir(devkit, year);
  return readVocSplit(devkit, year, split).map((id) => {
    const path = join(dir, 'Annotations', `${id}.xml`);
    if (!existsSync(path)) throw new UserError(`${path}: missing annotation for image '${id}' of split '${split}'`);
    return readVocAnnotation(path);
  });
}

/** A VOC box (1-based inclusive pixels of a width x height image) in continuous pixels of the size x size resize. */
export function vocBoxToResized(box: Box, width: number, height: number, size: number): Box {
  // Multiply before dividing so the image's far edge maps to exactly `size`.
  return [((box[0] - 1) * size) / width, ((box[1] - 1) * size) / height, (box[2] * size) / width, (box[3] * size) / height];
}

/** The inverse of vocBoxToResized: a box in continuous pixels of the resize, as 1-based VOC coordinates of the original. */
export function resizedBoxToVoc(box: Box, width: number, height: number, size: number): Box {
  return [(box[0] * width) / size + 1, (box[1] * height) / size + 1, (box[2] * width) / size, (box[3] * height) / size];
}

/** A predicted box in continuous pixels of the resize, as 1-based VOC coordinates of the original clipped to its
 * 1..width x 1..height pixels (the boxes a results file holds); it may come out empty (x1 < x0) if it lay outside. */
export function resizedBoxToImage(box: Box, width: number, height: number, size: number): Box {
  const [x0, y0, x1, y1] = resizedBoxToVoc(box, width, height, size);
  return [Math.max(1, x0), Math.max(1, y0), Math.min(width, x1), Math.min(height, y1)];
}

/** Decodes an image file and stretches it to size x size RGB (no aspect-preserving crop or pad, as YOLOv1); with its original size. */
export async function readStretched(path: string, size: number): Promise<{ rgb: Buffer; width: number; height: number }> {
  let data: Buffer, info: sharp.OutputInfo, width: number, height: number;
  try {
    const img = sharp(path).removeAlpha().toColourspace('srgb');
    ({ width = 0, height = 0 } = await img.metadata());
    ({ data, info } = await img.resize({ width: size, height: size, fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
      .raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new UserError(`${path}: cannot decode image (${(err as Error).message.split('\n')[0]})`);
  }
  if (info.channels !== 3) throw new UserError(`${path}: expected 3 color channels after conversion, got ${info.channels}`);
  return { rgb: data, width, height };
}

/** readStretched for a dataset image, whose size must be the one its annotation gives. */
async function decodeResized(path: string, size: number, expect: { width: number; height: number; xml: string }): Promise<Buffer> {
  if (!existsSync(path)) throw new UserError(`${path}: missing image (annotated in ${expect.xml})`);
  const { rgb, width, height } = await readStretched(path, size);
  if (width !== expect.width || height !== expect.height) {
    throw new UserError(`${path}: image is ${width}x${height} but ${expect.xml} says ${expect.width}x${expect.height}`);
  }
  return rgb;
}

export interface LoadVocOptions {
  /** Only the first `limit` ids of the split, in split-file order. */
  limit?: number;
  concurrency?: number;
  quiet?: boolean;
}

/** Loads a VOC split: annotations checked, images decoded and stretched to size x size, boxes mapped to the resize. */
export async function loadVocDetection(devkit: string, year: VocYear, split: string, size: number, opts: LoadVocOptions = {}): Promise<DetDataset> {
  if (!Number.isInteger(size) || size < 1) throw new UserError(`image size must be a positive integer, got ${size}`);
  const dir = vocYearDir(devkit, year);
  let annotations = loadVocAnnotations(devkit, year, split);
  if (opts.limit !== undefined) annotations = annotations.slice(0, opts.limit);
  const n = annotations.length;
  const px = size * size * 3;
  const images = new Uint8Array(n * px);
  const bar = progress(`decode VOC${year} ${split}`, n, 'items', opts.quiet);
  let next = 0, decoded = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const a = annotations[i]!;
      const xml = join(dir, 'Annotations', `${a.id}.xml`);
      images.set(await decodeResized(join(dir, 'JPEGImages', `${a.id}.jpg`), size, { width: a.width, height: a.height, xml }), i * px);
      bar.update(++decoded);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, Math.max(1, n)) }, worker));
  } catch (err) {
    bar.finish(`stopped after ${decoded} of ${n} images`);
    throw err;
  }
  bar.finish(`${n} images`);
  return {
    name: `voc${year}-${split}`, split, n, size, images,
    boxes: annotations.map((a) => a.objects.map((o) => ({ cls: o.cls, box: vocBoxToResized(o.box, a.width, a.height, size), difficult: o.difficult }))),
    ids: annotations.map((a) => a.id),
    origSizes: annotations.map((a): [number, number] => [a.width, a.height]),
    annotations,
    classes: [...VOC_CLASSES],
  };
}
