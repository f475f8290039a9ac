// Semantic-segmentation datasets as uint8 arrays in memory: RGB frames (NHWC) and per-pixel class maps, resized
// to one size for the whole split. Readers for the layouts users download:
// - CamVid as published with SegNet (the `CamVid/` folder of the SegNet tutorial): `{train,val,test}.txt` lists of
//   "image label" paths, or the `{split}/` and `{split}annot/` folders; PNG frames (official) or JPEG (the copy here).
//   Labels 0-10 are the 11 classes, 11 is void and becomes IGNORE_INDEX.
// - Cityscapes (seed 000's dataset): `leftImg8bit/{split}/{city}/*_leftImg8bit.png` with
//   `gtFine/{split}/{city}/*_gtFine_labelIds.png`; the 34 labelIds map to the 19 train ids (cityscapesScripts
//   labels.py), every other labelId to IGNORE_INDEX.
// Frames are decoded with sharp and resized with Pillow's bilinear filter (resizeImage: what torchvision's Resize
// applies to PIL images, so the seed's PyTorch pipeline gets the same pixels; antialiased when shrinking, which
// matters here: 360x480 -> 192x256 or 1024x2048 -> 256x512 would alias with plain 4-tap bilinear). Label maps are
// resized with nearest neighbour only (class indices are never blended).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { UserError } from '../errors.ts';
import { resizeImage } from './augment.ts';
import { resizeNearest } from './geometry.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from './classNames.ts';

export interface SegDataset {
  name: string;
  split: string;
  n: number;
  height: number;
  width: number;
  classes: string[];
  ignoreIndex: number;
  /** RGB per class, for drawing predictions. */
  palette: [number, number, number][];
  /** n*h*w*3 RGB, HWC. */
  images: Uint8Array;
  /** n*h*w class index in [0, classes.length) or ignoreIndex. */
  labels: Uint8Array;
  /** Frame names (file stem; Cityscapes: city/stem), in dataset order. */
  ids: string[];
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export type SegSplit = 'train' | 'val' | 'test';
export interface SegSize { height: number; width: number }

/** Label value of void / unlabelled pixels after mapping, in both datasets (the usual ignore_index of seg losses). */
export const IGNORE_INDEX = 255;

// ---- class tables ------------------------------------------------------------------------------------

/** SegNet's 11 CamVid classes, in label-index order (SegNet-Tutorial Scripts/test_segmentation_camvid.py). */
export const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'];
/** SegNet's colours for them (same script; void/unlabelled is black). */
export const CAMVID_PALETTE: [number, number, number][] = [
  [128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128], [60, 40, 222], [128, 128, 0],
  [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 128, 192],
];
/** Label value of void in the SegNet CamVid annotations. */
export const CAMVID_VOID = 11;
/** CamVid frames as published: 360 x 480. */
export const CAMVID_SIZE: SegSize = { height: 360, width: 480 };

/** The 19 Cityscapes evaluation classes in trainId order, with their colours (cityscapesScripts helpers/labels.py). */
export const CITYSCAPES_CLASSES = [
  'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation', 'terrain',
  'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
];
export const CITYSCAPES_PALETTE: [number, number, number][] = [
  [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153], [250, 170, 30],
  [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
  [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
];
/**
 * trainId of each labelId 0-33 (labels.py): void, flat-but-unevaluated and rare classes (unlabeled, ego vehicle,
 * rectification border, out of roi, static, dynamic, ground, parking, rail track, guard rail, bridge, tunnel,
 * polegroup, caravan, trailer) -> 255. License plate has id -1 and is never written into labelIds images.
 */
export const CITYSCAPES_LABEL_TO_TRAIN: readonly number[] = [
  255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6,
  7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 16, 17, 18,
];
/** Seed 000 resized Cityscapes frames to 256 x 512. */
export const CITYSCAPES_SEED_SIZE: SegSize = { height: 256, width: 512 };

// ---- loaders -----------------------------------------------------------------------------------------

interface Sample { id: string; image: string; label: string }

/** How a dataset's raw label values become class indices: lut[v] = class, IGNORE_INDEX, or -1 (invalid). */
interface LabelSpec { lut: Int16Array; valid: string }

const camvidLabels: LabelSpec = {
  lut: Int16Array.from({ length: 256 }, (_, v) => (v < CAMVID_CLASSES.length ? v : v === CAMVID_VOID ? IGNORE_INDEX : -1)),
  valid: `0-${CAMVID_CLASSES.length - 1} (classes) or ${CAMVID_VOID} (void)`,
};
const cityscapesLabels: LabelSpec = {
  lut: Int16Array.from({ length: 256 }, (_, v) => (v < CITYSCAPES_LABEL_TO_TRAIN.length ? CITYSCAPES_LABEL_TO_TRAIN[v]! : -1)),
  valid: `a Cityscapes labelId 0-${CITYSCAPES_LABEL_TO_TRAIN.length - 1}`,
};

/**
 * CamVid (SegNet split) from `root`, the folder holding train.txt / val.txt / test.txt (or the train/ + trainannot/
 * folders). List lines look like `/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png`;
 * each path is resolved as its last two components under `root`, and a frame listed as .png is also looked for as
 * .jpg/.jpeg (and the reverse), since copies re-encode frames.
 */
export async function loadCamVid(root: string, split: SegSplit, size: SegSize): Promise<SegDataset> {
  requireDir(root, 'the CamVid folder with train.txt, val.txt, test.txt');
  const samples = camvidSamples(root, split);
  return loadSamples(`camvid-${split}`, split, samples, size, CAMVID_CLASSES, CAMVID_PALETTE, camvidLabels);
}

/** Cityscapes fine annotations from `root`, the folder holding leftImg8bit/ and gtFine/. */
export async function loadCityscapes(root: string, split: SegSplit, size: SegSize): Promise<SegDataset> {
  requireDir(root, 'the Cityscapes folder with leftImg8bit/ and gtFine/');
  const samples = cityscapesSamples(root, split);
  return loadSamples(`cityscapes-${split}`, split, samples, size, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, cityscapesLabels);
}

/** The frames at `indices`, in that order, copied into a new dataset. */
export function subsetSeg(ds: SegDataset, indices: ArrayLike<number>): SegDataset {
  const px = ds.height * ds.width, n = indices.length;
  const images = new Uint8Array(n * px * 3), labels = new Uint8Array(n * px), ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = indices[i]!;
    if (!(Number.isInteger(k) && k >= 0 && k < ds.n)) throw new RangeError(`subsetSeg: index ${k} outside [0, ${ds.n})`);
    images.set(ds.images.subarray(k * px * 3, (k + 1) * px * 3), i * px * 3);
    labels.set(ds.labels.subarray(k * px, (k + 1) * px), i * px);
    ids.push(ds.ids[k]!);
  }
  return { ...ds, n, images, labels, ids, classes: [...ds.classes], palette: ds.palette.map((c) => [...c] as [number, number, number]) };
}

// ---- layouts -----------------------------------------------------------------------------------------

function requireDir(dir: string, what: string): void {
  if (!existsSync(dir)) throw new UserError(`${dir}: not found (expected ${what})`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder (expected ${what})`);
}

const FRAME_EXTS = ['.png', '.jpg', '.jpeg'];
const stem = (file: string): string => basename(file).replace(/\.[^.]*$/, '');

/** The listed frame, or the same name with another image extension. */
function findFrame(path: string): string | null {
  if (existsSync(path)) return path;
  const base = path.replace(/\.[^./]*$/, '');
  for (const ext of FRAME_EXTS) if (existsSync(base + ext)) return base + ext;
  return null;
}

function camvidSamples(root: string, split: SegSplit): Sample[] {
  const list = join(root, `${split}.txt`);
  if (existsSync(list)) return camvidList(root, list);
  const imgDir = join(root, split), annDir = join(root, `${split}annot`);
  if (!existsSync(imgDir) || !existsSync(annDir)) {
    const hint = existsSync(join(root, 'CamVid')) ? `; did you mean ${join(root, 'CamVid')}?` : '';
    throw new UserError(`${list}: missing, and no ${split}/ + ${split}annot/ folders beside it (expected the SegNet CamVid layout${hint})`);
  }
  const frames = readdirSync(imgDir).filter((f) => FRAME_EXTS.some((e) => f.toLowerCase().endsWith(e))).sort();
  if (frames.length === 0) throw new UserError(`${imgDir}: no .png/.jpg frames`);
  return frames.map((f) => {
    const label = join(annDir, `${stem(f)}.png`);
    if (!existsSync(label)) throw new UserError(`${label}: label file missing (for frame ${join(imgDir, f)})`);
    return { id: stem(f), image: join(imgDir, f), label };
  });
}

function camvidList(root: string, list: string): Sample[] {
  const lines = readFileSync(list, 'utf8').split(/\r?\n/);
  const samples: Sample[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new UserError(`${list}:${i + 1}: expected 'image-path label-path', got '${line.trim()}'`);
    // Published lists hold absolute paths of the authors' machine (/SegNet/CamVid/train/x.png): keep <split>/<file>.
    const local = (p: string): string => join(root, ...p.split(/[\\/]/).filter(Boolean).slice(-2));
    const listedImage = local(parts[0]!), label = local(parts[1]!);
    const image = findFrame(listedImage);
    if (!image) throw new UserError(`${listedImage}: image file missing (listed in ${list}:${i + 1}; also looked for .png/.jpg/.jpeg)`);
    if (!existsSync(label)) throw new UserError(`${label}: label file missing (listed in ${list}:${i + 1})`);
    samples.push({ id: stem(image), image, label });
  });
  if (samples.length === 0) throw new UserError(`${list}: no entries`);
  return samples;
}

function cityscapesSamples(root: string, split: SegSplit): Sample[] {
  const imgRoot = join(root, 'leftImg8bit', split), gtRoot = join(root, 'gtFine', split);
  if (!existsSync(imgRoot)) throw new UserError(`${imgRoot}: not found (expected leftImg8bit/${split}/<city>/*_leftImg8bit.png)`);
  if (!existsSync(gtRoot)) throw new UserError(`${gtRoot}: not found (expected gtFine/${split}/<city>/*_gtFine_labelIds.png)`);
  const samples: Sample[] = [];
  const cities = readdirSync(imgRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  for (const city of cities) {
    for (const f of readdirSync(join(imgRoot, city)).filter((n) => n.endsWith('_leftImg8bit.png')).sort()) {
      const frame = f.slice(0, -'_leftImg8bit.png'.length);
      const label = join(gtRoot, city, `${frame}_gtFine_labelIds.png`);
      if (!existsSync(label)) throw new UserError(`${label}: label file missing (for frame ${join(imgRoot, city, f)})`);
      samples.push({ id: `${city}/${frame}`, image: join(imgRoot, city, f), label });
    }
  }
  if (samples.length === 0) throw new UserError(`${imgRoot}: no <city>/*_leftImg8bit.png frames`);
  return samples;
}

// ---- decoding ----------------------------------------------------------------------------------------

async function loadSamples(name: string, split: SegSplit, samples: Sample[], size: SegSize, classes: string[], palette: [number, number, number][], spec: LabelSpec): Promise<SegDataset> {
  const { height, width } = size;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new UserError(`size ${height}x${width}: expected positive integer height and width`);
  }
  const n = samples.length, px = height * width;
  const images = new Uint8Array(n * px * 3), labels = new Uint8Array(n * px);
  let next = 0;
  // sharp decodes on libuv's thread pool: a few files in flight keep it busy without holding many full frames.
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const s = samples[i]!;
      const [frame, label] = await Promise.all([decodeFrame(s.image), decodeLabel(s.label, spec)]).catch((err: unknown) => {
        next = n; // the first error ends the load: the other workers stop taking files
        throw err;
      });
      if (label.width !== frame.width || label.height !== frame.height) {
        throw new UserError(`${s.label}: label is ${label.width}x${label.height}, but its image ${s.image} is ${frame.width}x${frame.height}`);
      }
      resizeImage(frame.data, frame.height, frame.width, images.subarray(i * px * 3, (i + 1) * px * 3), height, width);
      resizeNearest(label.data, label.width, 0, 0, label.height, label.width, labels.subarray(i * px, (i + 1) * px), height, width);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, n) }, worker));
  return {
    name, split, n, height, width, classes: [...classes], ignoreIndex: IGNORE_INDEX, palette: palette.map((c) => [...c] as [number, number, number]),
    images, labels, ids: samples.map((s) => s.id), mean: IMAGENET_MEAN, std: IMAGENET_STD,
  };
}

const firstLine = (err: unknown): string => (err as Error).message.split('\n')[0]!;

async function decodeFrame(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new UserError(`${file}: cannot decode image (${firstLine(err)})`);
  }
}

/** A single-channel 8-bit PNG of raw label values, mapped through the dataset's table; every pixel is checked. */
async function decodeLabel(file: string, spec: LabelSpec): Promise<{ data: Uint8Array; width: number; height: number }> {
  let meta: sharp.Metadata, raw: Buffer, channels: number;
  try {
    meta = await sharp(file).metadata();
    channels = meta.channels ?? 0; // sharp types channels as 3 | 4, but greyscale PNGs report 1
    raw = channels === 1 && meta.depth === 'uchar' ? await sharp(file).extractChannel(0).raw().toBuffer() : Buffer.alloc(0);
  } catch (err) {
    throw new UserError(`${file}: cannot decode label image (${firstLine(err)})`);
  }
  const width = meta.width ?? 0, height = meta.height ?? 0;
  if (channels !== 1 || meta.depth !== 'uchar') {
    throw new UserError(`${file}: expected a single-channel 8-bit label PNG of class indices, got ${channels} channel(s) of ${meta.depth} (a colour-coded or palette label image?)`);
  }
  if (raw.length !== width * height) throw new UserError(`${file}: decoded ${raw.length} label values for ${width}x${height} pixels`);
  const data = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = spec.lut[raw[i]!]!;
    if (v < 0) throw new UserError(`${file}: label value ${raw[i]} at pixel (x=${i % width}, y=${Math.floor(i / width)}) is not ${spec.valid}`);
    data[i] = v;
  }
  return { data, width, height };
}
