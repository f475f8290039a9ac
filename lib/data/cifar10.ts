// CIFAR-10: readers for the official binary release and for image-folder layouts, a decoded uint8 cache
// (one file per split + a manifest written last, all in a staging folder that replaces the old cache when complete), and `loadCifar10`, which reads that cache in one go.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import sharp from 'sharp';
import { UserError } from '../errors.ts';
import { atomicWrite, atomicWriteJson, fsErrorText, removeStaleTemps, underFlag, writableDir } from '../io.ts';
import { acquireLock } from '../lock.ts';
import { cifar10Paths, dataRoot, CIFAR10_BINARY_URL } from './paths.ts';
import { extractTar } from './tar.ts';
import { downloadFile, fileDigests, progress, DownloadError, type Digests } from './download.ts';

export interface ImageDataset {
  name: string;
  /** n*h*w*3 bytes, NHWC. */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  height: number;
  width: number;
  classes: string[];
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

interface KnownArchive { file: string; md5?: string; sha256?: string; format: 'binary' | 'python' | 'image-folder'; description: string; jpegQuality?: number }

/** Official checksums (www.cs.toronto.edu/~kriz/cifar.html) and the JPEG mirror used in this environment. */
export const KNOWN_CIFAR10_ARCHIVES: KnownArchive[] = [
  { file: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', format: 'binary', description: 'official CIFAR-10 binary release' },
  { file: 'cifar-10-python.tar.gz', md5: 'c58f30108f718f92721af3b95e74349a', format: 'python', description: 'official CIFAR-10 python release' },
  {
    file: 'cifar10-jpeg.tar.gz', sha256: 'efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4', format: 'image-folder', jpegQuality: 75,
    description: 'public JPEG mirror of CIFAR-10: all 60,000 images re-encoded as JPEG quality 75, so pixels differ slightly from the official release',
  },
];

/** The pickle release is recognized (by checksum or by its data_batch_1 file) only to say what to use instead. */
const pythonReleaseRefused = (where: string): UserError => new UserError(`${where}: the python (pickle) release of CIFAR-10 is not supported; use the binary release ${CIFAR10_BINARY_URL}`);

/** Which known archive a file is, checked by name and by hash; a known name with the wrong hash is an error. */
export function identifyArchive(file: string, d: Digests): KnownArchive | null {
  const byHash = KNOWN_CIFAR10_ARCHIVES.find((k) => k.md5 === d.md5 || k.sha256 === d.sha256) ?? null;
  const byName = KNOWN_CIFAR10_ARCHIVES.find((k) => k.file === basename(file));
  if (byName && byHash !== byName) {
    const [algo, got, want] = byName.md5 ? ['md5', d.md5, byName.md5] : ['sha256', d.sha256, byName.sha256];
    throw new UserError(`${file}: checksum mismatch (${algo} ${got}, expected ${want} for the ${byName.description}); the file is truncated or corrupt`);
  }
  if (byHash?.format === 'python') {
    throw pythonReleaseRefused(file);
  }
  return byHash;
}

// ---- readers ---------------------------------------------------------------------------------------

const RECORD = 1 + 3072;

/** One binary batch file: records of 1 label byte + 1024 R + 1024 G + 1024 B (CHW, 32x32), converted to HWC. */
export function parseBinaryBatch(bytes: Uint8Array, file: string): { images: Uint8Array; labels: Uint8Array; n: number } {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new UserError(`${file}: size ${bytes.length} bytes is not a multiple of ${RECORD} (truncated or not a CIFAR-10 binary batch)`);
  }
  const n = bytes.length / RECORD;
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD;
    const label = bytes[rec]!;
    if (label > 9) throw new UserError(`${file}: record ${i} has label ${label}, expected 0-9 (not a CIFAR-10 binary batch)`);
    labels[i] = label;
    const out = i * 3072;
    for (let p = 0; p < 1024; p++) {
      images[out + 3 * p] = bytes[rec + 1 + p]!;
      images[out + 3 * p + 1] = bytes[rec + 1 + 1024 + p]!;
      images[out + 3 * p + 2] = bytes[rec + 1 + 2048 + p]!;
    }
  }
  return { images, labels, n };
}

function concatSplit(name: string, parts: { images: Uint8Array; labels: Uint8Array; n: number }[], h: number, w: number, classes: string[]): ImageDataset {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * h * w * 3), labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { images.set(p.images, at * h * w * 3); labels.set(p.labels, at); at += p.n; }
  return { name, images, labels, n, height: h, width: w, classes };
}

/** The official binary layout (`cifar-10-batches-bin/`): data_batch_1..5.bin, test_batch.bin, batches.meta.txt. */
export function readBinaryLayout(dir: string): { train: ImageDataset; test: ImageDataset } {
  const need = (f: string): string => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new UserError(`${p}: missing (expected the CIFAR-10 binary layout: data_batch_1..5.bin, test_batch.bin)`);
    return p;
  };
  const meta = join(dir, 'batches.meta.txt');
  const classes = existsSync(meta) ? readFileSync(meta, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean) : CIFAR10_CLASSES;
  if (classes.length !== 10) throw new UserError(`${meta}: expected 10 class names, found ${classes.length}`);
  const read = (f: string): ReturnType<typeof parseBinaryBatch> => { const p = need(f); return parseBinaryBatch(readFileSync(p), p); };
  const train = [1, 2, 3, 4, 5].map((i) => read(`data_batch_${i}.bin`));
  return { train: concatSplit('cifar10-train', train, 32, 32, classes), test: concatSplit('cifar10-test', [read('test_batch.bin')], 32, 32, classes) };
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

function listDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
}

/** Decodes one image to HWC RGB uint8; names the file when it cannot. */
async function decodeRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  try {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw new UserError(`${file}: cannot decode image (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * An image-folder layout: `<dir>/{train,test}/<class>/*.{jpg,png}`. Classes are the sorted folder names
 * (the same in both splits); images are decoded with bounded concurrency, in sorted file order.
 */
export async function readImageFolder(dir: string, opts: { concurrency?: number; quiet?: boolean } = {}): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const classes = listDirs(join(dir, 'train'));
  const testClasses = listDirs(join(dir, 'test'));
  if (classes.length < 2) throw new UserError(`${join(dir, 'train')}: expected one folder per class, found ${classes.length}`);
  if (testClasses.join() !== classes.join()) throw new UserError(`${join(dir, 'test')}: class folders [${testClasses}] differ from train's [${classes}]`);
  const files = (split: string): { path: string; label: number }[] =>
    classes.flatMap((c, label) => readdirSync(join(dir, split, c)).filter((f) => IMAGE_EXT.test(f)).sort().map((f) => ({ path: join(dir, split, c, f), label })));
  const lists = { train: files('train'), test: files('test') };
  const total = lists.train.length + lists.test.length;
  const bar = progress('decode images', total, 'items', opts.quiet);
  let decoded = 0;
  let shape: { height: number; width: number; file: string } | null = null;
  const decodeSplit = async (split: 'train' | 'test'): Promise<ImageDataset> => {
    const list = lists[split];
    if (list.length === 0) throw new UserError(`${join(dir, split)}: no .jpg/.png images found`);
    const first = await decodeRgb(list[0]!.path);
    shape ??= { height: first.height, width: first.width, file: list[0]!.path };
    const { height, width } = shape;
    const px = height * width * 3;
    const images = new Uint8Array(list.length * px);
    const labels = Uint8Array.from(list, (f) => f.label);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < list.length; i = next++) {
        const img = i === 0 ? first : await decodeRgb(list[i]!.path);
        if (img.height !== height || img.width !== width) {
          throw new UserError(`${list[i]!.path}: image is ${img.width}x${img.height}, expected ${width}x${height} like ${shape!.file}`);
        }
        images.set(img.data, i * px);
        bar.update(++decoded);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
    return { name: `cifar10-${split}`, images, labels, n: list.length, height, width, classes };
  };
  const train = await decodeSplit('train');
  const test = await decodeSplit('test');
  bar.finish(`${total} images`);
  return { train, test };
}

type Layout = { kind: 'binary' | 'image-folder'; dir: string };

/** Finds the dataset inside an unpacked folder (the folder itself or up to two levels down). */
export function findLayout(dir: string): Layout {
  const queue: [string, number][] = [[dir, 0]];
  while (queue.length) {
    const [d, depth] = queue.shift()!;
    if (existsSync(join(d, 'data_batch_1.bin'))) return { kind: 'binary', dir: d };
    if (existsSync(join(d, 'data_batch_1'))) throw pythonReleaseRefused(d);
    const subs = listDirs(d);
    if (subs.includes('train') && subs.includes('test')) return { kind: 'image-folder', dir: d };
    if (depth < 2) for (const s of subs) queue.push([join(d, s), depth + 1]);
  }
  throw new UserError(`${dir}: no CIFAR-10 data found (expected cifar-10-batches-bin/*.bin or train/<class>/*.jpg|png and test/<class>/...)`);
}

// ---- cache -----------------------------------------------------------------------------------------

const SplitSchema = z.object({ file: z.string(), n: z.number().int().positive(), bytes: z.number().int().positive(), sha256: z.string() });
const ManifestSchema = z.object({
  format: z.literal('convmixer-image-cache'),
  version: z.literal(1),
  dataset: z.literal('cifar10'),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.literal(3),
  classes: z.array(z.string()).min(2),
  layout: z.string(),
  splits: z.object({ train: SplitSchema, test: SplitSchema }),
  source: z.object({
    path: z.string(), kind: z.enum(['binary', 'image-folder']), md5: z.string().nullable(), sha256: z.string().nullable(),
    knownAs: z.string().nullable(), description: z.string(), jpegQuality: z.number().nullable(),
  }),
  createdAt: z.string(),
});
export type Cifar10Manifest = z.infer<typeof ManifestSchema>;

/** The folders a re-prepare uses beside the cache: the new cache while it is written, the old one while it is swapped out. */
function cacheSiblings(root: string | undefined): { staging: string; old: string } {
  const { cacheDir } = cifar10Paths(root);
  return { staging: `${cacheDir}.new`, old: `${cacheDir}.old` };
}

/** Undoes what a killed earlier prepare left: a half-written staging folder, or an old cache swapped out but not back. */
function recoverCache(root: string | undefined): void {
  const { cacheDir } = cifar10Paths(root);
  const { staging, old } = cacheSiblings(root);
  rmSync(staging, { recursive: true, force: true });
  if (existsSync(old)) {
    if (existsSync(cacheDir)) rmSync(old, { recursive: true, force: true });
    else renameSync(old, cacheDir);
  }
}

/**
 * Writes the new cache (split files, then the manifest) into a staging folder and only then swaps it in for the old
 * one (two renames, no space needed): a re-prepare that fails (full disk, bad data) leaves the old cache usable.
 */
function writeCache(root: string | undefined, data: { train: ImageDataset; test: ImageDataset }, source: Cifar10Manifest['source']): Cifar10Manifest {
  const p = cifar10Paths(root);
  const { staging, old } = cacheSiblings(root);
  // Something that is not a cache folder where the cache goes (a file) is not ours to replace.
  if (existsSync(p.cacheDir) && !statSync(p.cacheDir).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, '${p.cacheDir}'`), { code: 'ENOTDIR', path: p.cacheDir });
  }
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const split = (ds: ImageDataset, name: 'train' | 'test'): z.infer<typeof SplitSchema> => {
      const bytes = Buffer.concat([ds.images, ds.labels]);
      atomicWrite(join(staging, basename(p.split(name))), bytes);
      return { file: basename(p.split(name)), n: ds.n, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    };
    const manifest: Cifar10Manifest = {
      format: 'convmixer-image-cache', version: 1, dataset: 'cifar10',
      height: data.train.height, width: data.train.width, channels: 3, classes: data.train.classes,
      layout: 'each split file: n*height*width*3 uint8 images (NHWC, RGB) followed by n uint8 labels',
      splits: { train: split(data.train, 'train'), test: split(data.test, 'test') },
      source, createdAt: new Date().toISOString(),
    };
    atomicWriteJson(join(staging, basename(p.manifest)), manifest);
    rmSync(old, { recursive: true, force: true });
    if (existsSync(p.cacheDir)) renameSync(p.cacheDir, old);
    renameSync(staging, p.cacheDir);
    rmSync(old, { recursive: true, force: true });
    return manifest;
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(p.cacheDir) && existsSync(old)) renameSync(old, p.cacheDir);
    throw err;
  }
}

function readManifest(root?: string): Cifar10Manifest {
  const p = cifar10Paths(root);
  if (!existsSync(p.manifest)) {
    throw new UserError(`CIFAR-10 is not prepared under ${p.dir} (no ${basename(p.manifest)}); run \`convmixer data cifar10\` first (see data/README.md)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p.manifest, 'utf8'));
  } catch {
    throw new UserError(`${p.manifest}: not JSON (damaged cache manifest); rerun \`convmixer data cifar10\``);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) throw new UserError(`${p.manifest}: not a valid cache manifest (${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}); rerun \`convmixer data cifar10\``);
  return parsed.data;
}

export function cifar10Manifest(opts: { root?: string } = {}): Cifar10Manifest {
  return readManifest(opts.root);
}

/** A split from the prepared cache under <root>/cifar10/cache (one file read). */
export async function loadCifar10(split: 'train' | 'test', opts: { root?: string } = {}): Promise<ImageDataset> {
  const m = readManifest(opts.root);
  const file = cifar10Paths(opts.root).split(split);
  const s = m.splits[split];
  const px = m.height * m.width * 3;
  let bytes: Buffer;
  try { bytes = readFileSync(file); } catch { throw new UserError(`${file}: missing although the manifest lists it; rerun \`convmixer data cifar10\``); }
  if (bytes.length !== s.n * (px + 1) || bytes.length !== s.bytes) {
    throw new UserError(`${file}: ${bytes.length} bytes, expected ${s.n * (px + 1)} (corrupt cache); rerun \`convmixer data cifar10\``);
  }
  // A flipped bit keeps the size: the manifest's checksum catches it (~0.4 s for the 150 MB train split).
  if (createHash('sha256').update(bytes).digest('hex') !== s.sha256) {
    throw new UserError(`${file}: sha256 does not match the manifest (corrupt cache); rerun \`convmixer data cifar10\``);
  }
  const images = new Uint8Array(bytes.buffer, bytes.byteOffset, s.n * px);
  const labels = new Uint8Array(bytes.buffer, bytes.byteOffset + s.n * px, s.n);
  return { name: `cifar10-${split}`, images, labels, n: s.n, height: m.height, width: m.width, classes: m.classes };
}

// ---- prepare (the `convmixer data cifar10` job) ------------------------------------------------------

export interface PrepareOptions { from?: string; root?: string; keepRaw?: boolean; quiet?: boolean }

export interface PrepareResult { manifest: Cifar10Manifest; seconds: number; cacheDir: string }

async function sourceFile(from: string | undefined, root: string | undefined, quiet: boolean): Promise<string> {
  const p = cifar10Paths(root);
  const url = from ?? (existsSync(p.tarball) ? undefined : CIFAR10_BINARY_URL);
  if (!url) return p.tarball;
  if (!/^https?:\/\//.test(url)) return resolve(url);
  const dest = from ? join(p.dir, 'downloads', basename(new URL(url).pathname) || 'download.tar.gz') : p.tarball;
  if (existsSync(dest)) return dest; // verified by checksum below, like any local file
  const known = KNOWN_CIFAR10_ARCHIVES.find((k) => k.file === basename(dest));
  try {
    await downloadFile(url, dest, { md5: known?.md5, sha256: known?.sha256 }, quiet);
  } catch (err) {
    if (!(err instanceof DownloadError)) throw err;
    throw new UserError(`cannot download ${url} (${err.message.replace(`${url}: `, '')}); download ${CIFAR10_BINARY_URL} yourself and place it at ${p.tarball}, or pass --from FILE|DIR`);
  }
  return dest;
}

/** Downloads or unpacks CIFAR-10, decodes it and writes the cache; the manifest is written last. */
export async function prepareCifar10(opts: PrepareOptions = {}): Promise<PrepareResult> {
  writableDir(dataRoot(opts.root), '--root');
  // One `convmixer data cifar10` per folder at a time: two would unpack into the same raw/ folder and delete it under each other.
  const dir = cifar10Paths(opts.root).dir;
  const lock = underFlag('--root', dir, () => acquireLock(join(dir, 'prepare.lock'), dir));
  try {
    return await prepareLocked(opts);
  } catch (err) {
    // A filesystem error under the data folder (full disk, permissions) while unpacking or writing: one line naming --root.
    const text = fsErrorText(err), path = (err as NodeJS.ErrnoException).path;
    if (!(err instanceof UserError) && text !== null && typeof path === 'string' && path.startsWith(dataRoot(opts.root))) {
      throw new UserError(`--root ${dataRoot(opts.root)}: cannot write ${path} (${text})`);
    }
    throw err;
  } finally {
    lock.release();
  }
}

async function prepareLocked(opts: PrepareOptions): Promise<PrepareResult> {
  const t0 = Date.now();
  const quiet = opts.quiet ?? false;
  const p = cifar10Paths(opts.root);
  for (const d of [p.dir, p.cacheDir]) removeStaleTemps(d); // left by a killed earlier run
  recoverCache(opts.root);
  const src = await sourceFile(opts.from, opts.root, quiet);
  if (!existsSync(src)) throw new UserError(`--from ${opts.from}: no such file or folder`);
  let layoutRoot = src;
  let digests: Digests | null = null;
  let known: KnownArchive | null = null;
  const raw = join(p.dir, 'raw');
  const st = statSync(src);
  // A device, FIFO or socket (--from /dev/null) is neither an archive to unpack nor a folder to search.
  if (!st.isFile() && !st.isDirectory()) throw new UserError(`--from ${src}: not a file or folder (expected a CIFAR-10 archive or an unpacked folder)`);
  const unpacked = st.isFile();
  try {
    if (unpacked) {
      digests = await fileDigests(src);
      known = identifyArchive(src, digests);
      const bar = progress(`unpack ${basename(src)}`, undefined, 'items', quiet);
      const { files } = await extractTar(src, raw, (n) => bar.update(n));
      bar.finish(`${files} files`);
      layoutRoot = raw;
    }
    const layout = findLayout(layoutRoot);
    const data = layout.kind === 'binary' ? readBinaryLayout(layout.dir) : await readImageFolder(layout.dir, { quiet });
    const exts = layout.kind === 'image-folder' ? 'image folder' : 'binary batches';
    const manifest = underFlag('--root', p.cacheDir, () => writeCache(opts.root, data, {
      path: src, kind: layout.kind, md5: digests?.md5 ?? null, sha256: digests?.sha256 ?? null,
      knownAs: known?.file ?? null,
      description: known?.description ?? `unverified ${exts} (not one of the known CIFAR-10 files)`,
      jpegQuality: known?.jpegQuality ?? null,
    }));
    return { manifest, seconds: (Date.now() - t0) / 1000, cacheDir: p.cacheDir };
  } finally {
    if (unpacked && !opts.keepRaw) rmSync(raw, { recursive: true, force: true });
  }
}
