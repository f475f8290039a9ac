import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { parseBinaryBatch, prepareCifar10, loadCifar10, type ImageDataset } from '../lib/data/cifar10.ts';
import { balancedSubset } from '../lib/data/subset.ts';
import { downloadFile } from '../lib/data/download.ts';
import { cifar10Paths } from '../lib/data/paths.ts';
import { tarBytes } from './fixtures/tarWriter.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'cm-data-'));

/** A binary batch of CIFAR records: label, then R, G, B planes; pixel p of record r holds (r*7 + p + plane*50) % 256. */
function binaryBatch(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, r) => {
    out[r * 3073] = label;
    for (let plane = 0; plane < 3; plane++) for (let p = 0; p < 1024; p++) out[r * 3073 + 1 + plane * 1024 + p] = (r * 7 + p + plane * 50) % 256;
  });
  return out;
}

test('binary batch reader converts CHW records to HWC and keeps labels', () => {
  const { images, labels, n } = parseBinaryBatch(binaryBatch([3, 9]), 'b.bin');
  assert.equal(n, 2);
  assert.deepEqual(Array.from(labels), [3, 9]);
  // record 1, pixel 5 (row 0, col 5): R = 7+5, G = 7+5+50, B = 7+5+100
  assert.deepEqual(Array.from(images.subarray(3072 + 15, 3072 + 18)), [12, 62, 112]);
  assert.throws(() => parseBinaryBatch(binaryBatch([1, 2]).subarray(0, 5000), 'cut.bin'), /^UserError: cut\.bin: size 5000 bytes is not a multiple of 3073/);
});

function binaryTarball(file: string, truncateTest = false): void {
  const dir = 'cifar-10-batches-bin/';
  const items = [1, 2, 3, 4, 5].map((i) => ({ name: `${dir}data_batch_${i}.bin`, data: binaryBatch([i % 10, (i + 5) % 10]) }));
  const testBatch = binaryBatch([0, 1, 2]);
  items.push({ name: `${dir}test_batch.bin`, data: truncateTest ? testBatch.subarray(0, 4000) : testBatch });
  items.push({ name: `${dir}batches.meta.txt`, data: new TextEncoder().encode('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n') });
  writeFileSync(file, gzipSync(tarBytes(items)));
}

test('prepare from a binary-layout tarball writes a cache that loadCifar10 reads back exactly', async () => {
  const dir = tmp(), root = join(dir, 'data');
  binaryTarball(join(dir, 'mini.tar.gz'));
  const res = await prepareCifar10({ from: join(dir, 'mini.tar.gz'), root, quiet: true });
  assert.equal(res.manifest.source.kind, 'binary');
  assert.equal(res.manifest.source.knownAs, null);
  assert.match(res.manifest.source.description, /unverified/);
  const train = await loadCifar10('train', { root }), test_ = await loadCifar10('test', { root });
  assert.equal(train.n, 10);
  assert.equal(test_.n, 3);
  assert.deepEqual(Array.from(train.labels), [1, 6, 2, 7, 3, 8, 4, 9, 5, 0]);
  assert.equal(train.classes[9], 'truck');
  // train image 2 is record 0 of data_batch_2: pixel 0 = (0, 50, 100)
  assert.deepEqual(Array.from(train.images.subarray(2 * 3072, 2 * 3072 + 3)), [0, 50, 100]);
  assert.deepEqual(Array.from(test_.images.subarray(3072 + 3, 3072 + 6)), [8, 58, 108]);
  assert.deepEqual(readdirSync(join(root, 'cifar10')), ['cache']); // the unpacked archive is cleaned up
  rmSync(dir, { recursive: true });
});

test('a truncated binary batch inside the archive fails naming the batch file, and leaves no complete cache', async () => {
  const dir = tmp(), root = join(dir, 'data');
  binaryTarball(join(dir, 'mini.tar.gz'), true);
  await assert.rejects(prepareCifar10({ from: join(dir, 'mini.tar.gz'), root, quiet: true }), /test_batch\.bin: size 4000 bytes is not a multiple of 3073/);
  assert.equal(existsSync(cifar10Paths(root).manifest), false);
  await assert.rejects(loadCifar10('train', { root }), /not prepared.*run `convmixer data cifar10`/);
  rmSync(dir, { recursive: true });
});

async function pngFolder(dir: string): Promise<Record<string, Buffer>> {
  const pixels: Record<string, Buffer> = {};
  for (const [split, cls, name, seed] of [['train', 'cat', 'a.png', 1], ['train', 'dog', 'b.png', 2], ['train', 'cat', 'c.png', 3], ['test', 'cat', 'd.png', 4], ['test', 'dog', 'e.png', 5]] as const) {
    const raw = Buffer.from(Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 13 + seed * 31) % 256));
    mkdirSync(join(dir, split, cls), { recursive: true });
    await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).png().toFile(join(dir, split, cls, name));
    pixels[`${split}/${cls}/${name}`] = raw;
  }
  return pixels;
}

test('image-folder reader decodes PNGs in class/file order, pixel-exact', async () => {
  const dir = tmp(), root = join(dir, 'data');
  const px = await pngFolder(join(dir, 'imgs'));
  const res = await prepareCifar10({ from: join(dir, 'imgs'), root, quiet: true });
  assert.equal(res.manifest.source.kind, 'image-folder');
  const train = await loadCifar10('train', { root });
  assert.deepEqual(train.classes, ['cat', 'dog']);
  assert.equal(train.height, 4);
  assert.deepEqual(Array.from(train.labels), [0, 0, 1]);
  assert.deepEqual(Buffer.from(train.images.subarray(0, 48)), px['train/cat/a.png']);
  assert.deepEqual(Buffer.from(train.images.subarray(48, 96)), px['train/cat/c.png']);
  assert.deepEqual(Buffer.from(train.images.subarray(96, 144)), px['train/dog/b.png']);
  const t = await loadCifar10('test', { root });
  assert.deepEqual(Buffer.from(t.images.subarray(48, 96)), px['test/dog/e.png']);
  // an undecodable image is named
  writeFileSync(join(dir, 'imgs', 'test', 'dog', 'f.jpg'), 'not a jpeg');
  await assert.rejects(prepareCifar10({ from: join(dir, 'imgs'), root, quiet: true }), (e: Error) => e.message.includes(join(dir, 'imgs', 'test', 'dog', 'f.jpg')) && /cannot decode/.test(e.message));
  rmSync(dir, { recursive: true });
});

test('checksum: a file named like the official tarball with other content is refused, naming the file', async () => {
  const dir = tmp();
  const file = join(dir, 'cifar-10-binary.tar.gz');
  binaryTarball(file);
  await assert.rejects(prepareCifar10({ from: file, root: join(dir, 'data'), quiet: true }),
    (e: Error) => e.message.startsWith(file) && /checksum mismatch \(md5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/.test(e.message));
  rmSync(dir, { recursive: true });
});

test('corrupt cache file is detected; a cache without manifest does not count', async () => {
  const dir = tmp(), root = join(dir, 'data');
  binaryTarball(join(dir, 'mini.tar.gz'));
  await prepareCifar10({ from: join(dir, 'mini.tar.gz'), root, quiet: true });
  const p = cifar10Paths(root);
  const good = readFileSync(p.split('test'));
  const flipped = Buffer.from(good);
  flipped[500]! ^= 1; // same size, one bit off
  writeFileSync(p.split('test'), flipped);
  await assert.rejects(loadCifar10('test', { root }), /^UserError: \S+test\.bin: sha256 does not match the manifest \(corrupt cache\); rerun `convmixer data cifar10`$/);
  writeFileSync(p.split('test'), good);
  assert.equal((await loadCifar10('test', { root })).n, 3);
  writeFileSync(p.split('test'), good.subarray(0, 100));
  await assert.rejects(loadCifar10('test', { root }), /test\.bin: 100 bytes, expected 9219 \(corrupt cache\)/);
  writeFileSync(p.manifest, readFileSync(p.manifest, 'utf8').slice(0, 40));
  await assert.rejects(loadCifar10('test', { root }), /^UserError: \S+manifest\.json: not JSON \(damaged cache manifest\); rerun `convmixer data cifar10`$/);
  rmSync(p.manifest);
  await assert.rejects(loadCifar10('train', { root }), /not prepared/);
  rmSync(dir, { recursive: true });
});

test('download: verified file is renamed from .part; a checksum mismatch or a cut connection leaves nothing; offline prepare says where to put the tarball', async () => {
  const body = Buffer.alloc(300000, 9);
  const md5 = createHash('md5').update(body).digest('hex');
  const server = createServer((req, res) => {
    if (req.url === '/cut') { res.writeHead(200, { 'content-length': String(body.length) }); res.write(body.subarray(0, 1000)); setTimeout(() => res.destroy(), 20); return; }
    res.writeHead(200, { 'content-length': String(body.length) }); res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = tmp();
  try {
    const got = await downloadFile(`${base}/f.bin`, join(dir, 'f.bin'), { md5 }, true);
    assert.equal(got.size, body.length);
    assert.deepEqual(readdirSync(dir), ['f.bin']);
    await assert.rejects(downloadFile(`${base}/g.bin`, join(dir, 'g.bin'), { md5: '0'.repeat(32) }, true), /checksum mismatch/);
    await assert.rejects(downloadFile(`${base}/cut`, join(dir, 'h.bin'), {}, true));
    assert.deepEqual(readdirSync(dir), ['f.bin']);
  } finally {
    server.close();
  }
  const root = join(dir, 'data');
  await assert.rejects(prepareCifar10({ from: 'http://127.0.0.1:1/cifar-10-binary.tar.gz', root, quiet: true }),
    (e: Error) => /cannot download/.test(e.message) && e.message.includes('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz') && e.message.includes(cifar10Paths(root).tarball));
  rmSync(dir, { recursive: true });
});

test('balancedSubset is class-balanced and deterministic', () => {
  const n = 200;
  const ds: ImageDataset = {
    name: 'd', n, height: 1, width: 1, classes: Array.from({ length: 10 }, (_, i) => `c${i}`),
    images: Uint8Array.from({ length: n * 3 }, (_, i) => Math.floor(i / 3)), labels: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10),
  };
  const a = balancedSubset(ds, 30, 5), b = balancedSubset(ds, 30, 5), c = balancedSubset(ds, 30, 6);
  assert.equal(a.n, 30);
  const counts = new Array(10).fill(0);
  a.labels.forEach((l) => counts[l]++);
  assert.deepEqual(counts, new Array(10).fill(3));
  assert.deepEqual(a.images, b.images);
  assert.notDeepEqual(a.images, c.images);
  // image and label stay paired: image i of ds holds value i, whose label is (i*7) % 10
  for (let i = 0; i < a.n; i++) assert.equal(a.labels[i], (a.images[i * 3]! * 7) % 10);
  assert.throws(() => balancedSubset(ds, 201, 0), /subset size 201/);
});

test('CLI: convmixer data cifar10 --from DIR --root prepares the cache; bad usage exits 2 with one line', () => {
  const dir = tmp();
  binaryTarball(join(dir, 'mini.tar.gz'));
  const cli = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, ['bin/convmixer.mjs', 'data', ...args], { encoding: 'utf8' });
  const ok = cli(['cifar10', '--from', join(dir, 'mini.tar.gz'), '--root', join(dir, 'data'), '--quiet']);
  assert.equal(ok.status, 0, String(ok.stderr));
  assert.match(String(ok.stdout), /cifar10: train 10 images, test 3 images, 32x32x3, 10 classes/);
  const bad = cli(['imagenet']);
  assert.equal(bad.status, 2);
  assert.equal(String(bad.stderr).trim().split('\n').length, 1);
  rmSync(dir, { recursive: true });
});

test('re-preparing over a good cache replaces it only when the new one is complete: a write that fails midway (file-size limit) leaves the old cache loadable', async () => {
  const dir = tmp(), root = join(dir, 'data');
  binaryTarball(join(dir, 'mini.tar.gz'));
  await prepareCifar10({ from: join(dir, 'mini.tar.gz'), root, quiet: true });
  const before = await loadCifar10('train', { root });
  // A bigger source: each unpacked batch (100 records, 307 kB) fits under the limit, the 1.5 MB train split does not.
  const labels = Array.from({ length: 100 }, (_, i) => i % 10);
  const items = [1, 2, 3, 4, 5].map((i) => ({ name: `cifar-10-batches-bin/data_batch_${i}.bin`, data: binaryBatch(labels) }));
  items.push({ name: 'cifar-10-batches-bin/test_batch.bin', data: binaryBatch(labels) });
  writeFileSync(join(dir, 'big.tar.gz'), gzipSync(tarBytes(items)));
  const res = spawnSync('bash', ['-c', 'ulimit -f 800 && exec "$0" bin/convmixer.mjs data cifar10 --from "$1" --root "$2" --quiet', process.execPath, join(dir, 'big.tar.gz'), root], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(res.status, 0, 'the re-prepare was meant to fail on the file-size limit');
  assert.match(String(res.stderr), /EFBIG|too large/i);
  const after = await loadCifar10('train', { root });
  assert.equal(after.n, before.n);
  assert.deepEqual(after.labels, before.labels);
  assert.deepEqual(after.images, before.images);
  assert.equal((await loadCifar10('test', { root })).n, 3);
  assert.deepEqual(readdirSync(join(root, 'cifar10')).filter((f) => f !== 'prepare.lock'), ['cache']); // no staging folder left behind
  // and a re-prepare that succeeds replaces it
  await prepareCifar10({ from: join(dir, 'big.tar.gz'), root, quiet: true });
  assert.equal((await loadCifar10('train', { root })).n, 500);
  assert.deepEqual(readdirSync(join(root, 'cifar10')), ['cache']);
  rmSync(dir, { recursive: true });
});
