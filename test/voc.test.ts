// Pascal VOC: the AP metric on hand-made cases whose AP is worked out by hand in the comments (perfect detector,
// duplicate, difficult objects, a difficult-only class, ties, misses, the IoU threshold and the +1 pixel convention,
// 11-point vs all-point), plus an independent all-point formula on random cases; the XML reader and the loader on a
// generated VOCdevkit; comp4 files written and read back; the real VOC2007 subset if present; `convmixer eval voc` end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { UserError } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import { parseXml } from '../lib/data/xml.ts';
import {
  loadVocAnnotations, loadVocDetection, readVocAnnotation, readVocSplit, resizedBoxToVoc, vocBoxToResized, VOC_CLASSES, type Box,
} from '../lib/data/voc.ts';
import { readVocDetections, vocDetectionsFile, writeVocDetections } from '../lib/eval/voc.ts';
import { vocAp07, vocApAll, vocEvaluate, vocIou, type Detection, type GtImage, type GtObject } from '../lib/metrics/voc.ts';
import { runEvalVoc } from '../lib/cli/evalVoc.ts';
import { convmixerAsync } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'voc-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
const obj = (cls: number, box: Box, difficult = false): GtObject => ({ cls, box, difficult });
const det = (imageId: string, cls: number, score: number, box: Box): Detection => ({ imageId, cls, score, box });
const CLASSES = ['a', 'b', 'c'];
const A: Box = [1, 1, 10, 10], B: Box = [21, 21, 40, 40], C: Box = [51, 1, 60, 10];
const FAR: Box = [100, 100, 110, 110];

/** AP of class 0 of a one-class evaluation. */
function ap(gt: GtImage[], dets: Detection[]): { ap07: number; apAll: number } {
  const r = vocEvaluate(gt, dets, { classes: ['a'] }).perClass[0]!;
  return { ap07: r.ap07, apAll: r.apAll };
}

test('voc iou: +1 pixel convention of the devkit, 0 when apart', () => {
  assert.equal(vocIou(A, A), 1);
  // [1,10] and [6,15] in x share columns 6..10 = 5 pixels of 10; same rows: 50 / (100 + 100 - 50).
  close(vocIou(A, [6, 1, 15, 10]), 1 / 3, 'half shift');
  // Touching at one pixel column (10): overlap 1 x 10 = 10 of 100 + 100 - 10.
  close(vocIou(A, [10, 1, 19, 10]), 10 / 190, 'one shared column');
  assert.equal(vocIou(A, [11, 1, 20, 10]), 0);
});

test('voc ap: a perfect detector has AP 1 (11-point and all-point)', () => {
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A), obj(0, B)] }, { id: '2', objects: [obj(0, C)] }];
  assert.deepEqual(ap(gt, [det('1', 0, 0.9, A), det('2', 0, 0.8, C), det('1', 0, 0.7, B)]), { ap07: 1, apAll: 1 });
});

test('voc ap: a duplicate detection is a false positive (it matches an object already found)', () => {
  // Ranked: A (TP), A again (FP, duplicate), B (TP). npos 2: recall .5 .5 1, precision 1 .5 2/3.
  // 11-point: t = 0 .. 0.5 (6 points) -> 1; t = 0.6 .. 1 (5 points) -> 2/3: (6 + 10/3) / 11 = 28/33.
  // All-point: envelope 1 up to recall .5, then 2/3: .5 * 1 + .5 * 2/3 = 5/6.
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A), obj(0, B)] }];
  const r = ap(gt, [det('1', 0, 0.9, A), det('1', 0, 0.8, [1, 1, 10, 11]), det('1', 0, 0.7, B)]);
  close(r.ap07, 28 / 33, 'ap07');
  close(r.apAll, 5 / 6, 'apAll');
  // A duplicate ranked after every true positive costs nothing.
  assert.deepEqual(ap(gt, [det('1', 0, 0.9, A), det('1', 0, 0.7, B), det('1', 0, 0.1, A)]), { ap07: 1, apAll: 1 });
});

test('voc ap: greedy matching takes the highest-IoU object and does not fall back to another one', () => {
  // The second detection overlaps A (IoU 0.9, already found) more than B2 (IoU > 0.5): a duplicate, not B2's TP.
  const a: Box = [1, 1, 100, 100], b2: Box = [1, 21, 100, 120];
  const second: Box = [1, 5, 100, 104];
  assert.ok(vocIou(second, a) > vocIou(second, b2) && vocIou(second, b2) >= 0.5);
  const r = vocEvaluate([{ id: '1', objects: [obj(0, a), obj(0, b2)] }], [det('1', 0, 0.9, a), det('1', 0, 0.8, second)], { classes: ['a'] }).perClass[0]!;
  assert.deepEqual([r.tp, r.fp], [1, 1]);
  // Recall .5 .5, precision 1 .5: 11-point 6/11 (t up to 0.5); all-point .5.
  close(r.ap07, 6 / 11, 'ap07');
  close(r.apAll, 0.5, 'apAll');
});

test('voc ap: a miss and a false positive between hits (11-point vs all-point)', () => {
  // 3 positives; ranked A (TP), FAR (FP), B (TP); C never found. Recall 1/3 1/3 2/3, precision 1 1/2 2/3.
  // 11-point: t = 0, .1, .2, .3 -> 1 (4 points); t = .4, .5, .6 -> 2/3 (3 points); t >= .7 -> 0: (4 + 2) / 11 = 6/11.
  // All-point: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 0 = 5/9.
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A), obj(0, B)] }, { id: '2', objects: [obj(0, C)] }];
  const r = ap(gt, [det('1', 0, 0.9, A), det('2', 0, 0.8, FAR), det('1', 0, 0.7, B)]);
  close(r.ap07, 6 / 11, 'ap07');
  close(r.apAll, 5 / 9, 'apAll');
  // No detections at all: AP 0.
  assert.deepEqual(ap(gt, []), { ap07: 0, apAll: 0 });
});

test('voc ap: the 11 recall points are numpy arange(0, 1.1, 0.1) values, so recall 3/10 misses the 0.3 point', () => {
  // 10 positives, 3 found first: recall .1 .2 .3 at precision 1. 3/10 < 3 * 0.1 = 0.30000000000000004, so only
  // t = 0, .1, .2 count: 11-point 3/11 (py-faster-rcnn and detectron2 give the same); all-point 0.3.
  const objects = Array.from({ length: 10 }, (_, i): GtObject => obj(0, [1 + 20 * i, 1, 10 + 20 * i, 10]));
  const r = ap([{ id: '1', objects }], objects.slice(0, 3).map((o, i) => det('1', 0, 1 - i / 10, o.box)));
  close(r.ap07, 3 / 11, 'ap07');
  close(r.apAll, 0.3, 'apAll');
});

test('voc ap: the IoU threshold is inclusive (devkit: ovmax >= 0.5)', () => {
  // A is 10 x 10 pixels; [1,1,10,20] is 10 x 20 and contains it: IoU 100 / 200 = 0.5 exactly -> TP.
  assert.equal(vocIou(A, [1, 1, 10, 20]), 0.5);
  assert.deepEqual(ap([{ id: '1', objects: [obj(0, A)] }], [det('1', 0, 1, [1, 1, 10, 20])]), { ap07: 1, apAll: 1 });
  // One pixel row more: 100 / 210 < 0.5 -> FP, AP 0.
  assert.deepEqual(ap([{ id: '1', objects: [obj(0, A)] }], [det('1', 0, 1, [1, 1, 10, 21])]), { ap07: 0, apAll: 0 });
  // A stricter threshold turns the exact-0.5 match into a miss.
  const strict = vocEvaluate([{ id: '1', objects: [obj(0, A)] }], [det('1', 0, 1, [1, 1, 10, 20])], { classes: ['a'], iouThreshold: 0.7 });
  assert.equal(strict.perClass[0]!.apAll, 0);
});

test('voc ap: difficult objects are neither true nor false positives, and are not positives', () => {
  // Class 0: A plus a difficult D. Ranked: D (ignored), A (TP). Recall 0 1, precision 0 (0/eps) 1: AP 1 both ways.
  const D: Box = [31, 31, 40, 40];
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A), obj(0, D, true)] }];
  const r = vocEvaluate(gt, [det('1', 0, 0.9, D), det('1', 0, 0.8, A)], { classes: ['a'] }).perClass[0]!;
  assert.deepEqual([r.nPositives, r.tp, r.fp, r.ap07, r.apAll], [1, 1, 0, 1, 1]);
  // A second detection of D is ignored too (no duplicate FP on difficult objects).
  const twice = vocEvaluate(gt, [det('1', 0, 0.9, D), det('1', 0, 0.85, D), det('1', 0, 0.8, A)], { classes: ['a'] }).perClass[0]!;
  assert.deepEqual([twice.tp, twice.fp, twice.apAll], [1, 0, 1]);
  // Missing D costs nothing: AP 1 with A alone.
  assert.deepEqual(ap(gt, [det('1', 0, 0.8, A)]), { ap07: 1, apAll: 1 });
});

test('voc ap: a class with only difficult objects has no AP and is left out of both means', () => {
  // Class a: perfect (AP 1). Class b: one object found at rank 2 after a FP: recall 0 1, precision 0 .5: AP .5.
  // Class c: only a difficult object (detected or not): NaN, not counted. Means over a and b: .75 both.
  const gt: GtImage[] = [
    { id: '1', objects: [obj(0, A), obj(2, C, true)] },
    { id: '2', objects: [obj(1, B)] },
  ];
  const dets = [det('1', 0, 0.9, A), det('1', 1, 0.9, FAR), det('2', 1, 0.5, B), det('1', 2, 0.9, C), det('2', 2, 0.8, FAR)];
  const r = vocEvaluate(gt, dets, { classes: CLASSES });
  assert.deepEqual(r.perClass.map((c) => [c.cls, c.nPositives, c.nDetections, c.ap07, c.apAll]),
    [['a', 1, 1, 1, 1], ['b', 1, 2, 0.5, 0.5], ['c', 0, 2, NaN, NaN]]);
  assert.equal(r.classesInMean, 2);
  close(r.map07, 0.75, 'map07');
  close(r.mapAll, 0.75, 'mapAll');
});

test('voc ap: equal scores keep their input order (stable sort), and the order changes AP', () => {
  // Same score 0.5: a FP (image 2, no object) and the TP on A. FP first: recall 0 1, precision 0 .5 -> AP .5;
  // TP first: recall 1 1, precision 1 .5 -> AP 1.
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A)] }, { id: '2', objects: [] }];
  const fp = det('2', 0, 0.5, A), tp = det('1', 0, 0.5, A);
  assert.deepEqual(ap(gt, [fp, tp]), { ap07: 0.5, apAll: 0.5 });
  assert.deepEqual(ap(gt, [tp, fp]), { ap07: 1, apAll: 1 });
  // A higher score still goes first whatever the input order.
  assert.deepEqual(ap(gt, [det('2', 0, 0.4, A), tp]), { ap07: 1, apAll: 1 });
});

test('voc ap: all-point AP equals the mean over positives of the best precision at or after each hit (random cases)', () => {
  // An independent form of the all-point AP: sum over TP ranks k of max_{j >= k} precision_j, divided by npos.
  const rng = createRng(7);
  for (let trial = 0; trial < 30; trial++) {
    const npos = 1 + Math.floor(rng.next() * 8);
    const objects = Array.from({ length: npos }, (_, i): GtObject => obj(0, [1 + 30 * i, 1, 20 + 30 * i, 20]));
    const dets: Detection[] = [];
    for (let d = 0; d < 12; d++) {
      const hit = rng.next() < 0.5;
      const box: Box = hit ? objects[Math.floor(rng.next() * npos)]!.box : [1 + 30 * 20, 1, 20 + 30 * 20, 20];
      dets.push(det('1', 0, Math.round(rng.next() * 1000) / 1000, box));
    }
    const got = vocEvaluate([{ id: '1', objects }], dets, { classes: ['a'] }).perClass[0]!;
    // Replay the matching by hand: sorted by score (stable), a box counts once.
    const order = dets.map((d, i) => ({ d, i })).sort((x, y) => y.d.score - x.d.score || x.i - y.i).map((x) => x.d);
    const found = new Set<string>();
    const hits = order.map((d) => {
      const key = d.box.join();
      const isTp = d.box[0] < 600 && !found.has(key);
      if (isTp) found.add(key);
      return isTp;
    });
    const precision = hits.map((_, k) => hits.slice(0, k + 1).filter(Boolean).length / (k + 1));
    let sum = 0;
    hits.forEach((h, k) => { if (h) sum += Math.max(...precision.slice(k)); });
    close(got.apAll, sum / npos, `trial ${trial}`);
    assert.equal(got.tp, found.size);
  }
});

test('voc ap curves: vocAp07 / vocApAll on a hand curve', () => {
  // Recall .2 .4 .4 .8, precision 1 1 2/3 .75: envelope 1 to .4, .75 to .8, 0 after.
  const rec = [0.2, 0.4, 0.4, 0.8], prec = [1, 1, 2 / 3, 0.75];
  close(vocApAll(rec, prec), 0.4 * 1 + 0.4 * 0.75, 'all-point');
  // 11-point: t = 0 .. .4 -> 1 (5 points); .5 .. .8 -> .75 (4 points); .9, 1 -> 0.
  close(vocAp07(rec, prec), (5 + 4 * 0.75) / 11, '11-point');
});

test('voc evaluate: detections for unknown images and bad classes are refused', () => {
  const gt: GtImage[] = [{ id: '1', objects: [obj(0, A)] }];
  assert.throws(() => vocEvaluate(gt, [det('9', 0, 1, A)], { classes: ['a'] }), (e: Error) => e instanceof UserError && /image '9'/.test(e.message));
  assert.throws(() => vocEvaluate(gt, [det('1', 3, 1, A)], { classes: ['a'] }), /class index 3/);
  assert.throws(() => vocEvaluate([...gt, ...gt], [], { classes: ['a'] }), /twice/);
});

// ---- XML reader and annotations ----

function annotationXml(width: number, height: number, objects: { name: string; box: Box; difficult?: boolean | null }[]): string {
  const objs = objects.map((o) => `\t<object>\n\t\t<name>${o.name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n`
    + (o.difficult === null ? '' : `\t\t<difficult>${o.difficult ? 1 : 0}</difficult>\n`)
    + `\t\t<bndbox>\n\t\t\t<xmin>${o.box[0]}</xmin>\n\t\t\t<ymin>${o.box[1]}</ymin>\n\t\t\t<xmax>${o.box[2]}</xmax>\n\t\t\t<ymax>${o.box[3]}</ymax>\n\t\t</bndbox>\n\t</object>\n`).join('');
  return `<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>x.jpg</filename>\n\t<owner><name>?</name></owner>\n`
    + `\t<size>\n\t\t<width>${width}</width>\n\t\t<height>${height}</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n${objs}</annotation>\n`;
}

function writeXml(name: string, text: string): string {
  const dir = join(tmp, 'xml');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('xml: elements, attributes, entities, comments, CDATA; errors give line:col', () => {
  const root = parseXml(`<?xml version="1.0"?>\n<!-- c -->\n<a x='1' y="&lt;2&gt;"><b>t &amp; &#65;&#x42;</b><![CDATA[<raw>]]><c/></a>\n`);
  assert.equal(root.name, 'a');
  assert.deepEqual(root.attributes, { x: '1', y: '<2>' });
  assert.deepEqual(root.children.map((c) => [c.name, c.text]), [['b', 't & AB'], ['c', '']]);
  assert.equal(root.text, '<raw>');
  assert.throws(() => parseXml('<a>\n  <b></a>'), /<\/a> closes <b> .* at line 2:/);
  assert.throws(() => parseXml('<a><b></b>'), /<a> is never closed at line 1:1/);
  assert.throws(() => parseXml('<a></a><b/>'), /content after the root element/);
  assert.throws(() => parseXml('<a>x & y</a>'), /'&' not starting an entity/);
  assert.throws(() => parseXml('<a>&nbsp;</a>'), /unknown entity '&nbsp;'/);
  assert.throws(() => parseXml('<a x=1></a>'), /must be quoted/);
  assert.throws(() => parseXml(''), /no root element/);
});

test('voc annotation: a good file, 1-based boxes kept, difficult read (missing = 0, as VOC2012 leaves it out)', () => {
  const path = writeXml('000007.xml', annotationXml(500, 333, [
    { name: 'car', box: [141, 50, 500, 330] }, { name: 'person', box: [1, 1, 10, 333], difficult: true }, { name: 'dog', box: [5, 6, 7, 8], difficult: null },
  ]));
  assert.deepEqual(readVocAnnotation(path), {
    id: '000007', width: 500, height: 333, objects: [
      { cls: 6, name: 'car', box: [141, 50, 500, 330], difficult: false },
      { cls: 14, name: 'person', box: [1, 1, 10, 333], difficult: true },
      { cls: 11, name: 'dog', box: [5, 6, 7, 8], difficult: false },
    ],
  });
  assert.equal(VOC_CLASSES.length, 20);
  assert.deepEqual([VOC_CLASSES[0], VOC_CLASSES[6], VOC_CLASSES[14], VOC_CLASSES[19]], ['aeroplane', 'car', 'person', 'tvmonitor']);
});

test('voc annotation: malformed XML, unknown class, boxes outside the image or inverted: one line naming the file', () => {
  const cases: [string, string, RegExp][] = [
    ['truncated.xml', annotationXml(50, 40, [{ name: 'cat', box: [1, 1, 5, 5] }]).replace('</annotation>\n', ''), /malformed XML: <annotation> is never closed at line 1:1/],
    ['mismatch.xml', '<annotation><size><width>5</width></height></size></annotation>', /malformed XML: <\/height> closes <size>/],
    ['unknown.xml', annotationXml(50, 40, [{ name: 'unicorn', box: [1, 1, 5, 5] }]), /<object> 1 \(unicorn\): unknown class 'unicorn'/],
    ['outside-x.xml', annotationXml(50, 40, [{ name: 'cat', box: [1, 1, 5, 5] }, { name: 'dog', box: [10, 1, 51, 40] }]), /<object> 2 \(dog\): box \[10, 1, 51, 40\] is outside the 50x40 image/],
    ['zero.xml', annotationXml(50, 40, [{ name: 'dog', box: [0, 1, 5, 5] }]), /outside the 50x40 image/],
    ['inverted.xml', annotationXml(50, 40, [{ name: 'dog', box: [20, 1, 10, 5] }]), /xmin > xmax/],
    ['nan.xml', annotationXml(50, 40, [{ name: 'dog', box: [1, 1, 'x' as unknown as number, 5] }]), /<xmax> must be a number, got 'x'/],
    ['nosize.xml', '<annotation><object><name>dog</name></object></annotation>', /expected one <size>, found 0/],
    ['root.xml', '<annotations/>', /root element is <annotations>/],
  ];
  for (const [name, text, pattern] of cases) {
    const path = writeXml(name, text);
    assert.throws(() => readVocAnnotation(path), (e: Error) => {
      assert.ok(e instanceof UserError, `${name}: ${e.message}`);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), `${name}: one line`);
      return true;
    });
  }
  assert.throws(() => readVocAnnotation(join(tmp, 'xml', 'absent.xml')), /absent\.xml: cannot read the annotation \(ENOENT\)/);
});

// ---- a generated VOCdevkit ----

const LEFT = [200, 30, 60], RIGHT = [20, 90, 220];

/** A w x h JPEG whose left half is LEFT and right half RIGHT. */
async function halfImage(path: string, w: number, h: number): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(x < w / 2 ? LEFT : RIGHT, (y * w + x) * 3);
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(path);
}

interface FixtureImage { id: string; w: number; h: number; objects: { name: string; box: Box; difficult?: boolean }[] }

const FIXTURE: FixtureImage[] = [
  { id: '000001', w: 40, h: 20, objects: [{ name: 'dog', box: [11, 6, 20, 10] }, { name: 'person', box: [1, 1, 40, 20] }] },
  { id: '000002', w: 32, h: 48, objects: [{ name: 'dog', box: [3, 4, 30, 40] }, { name: 'cat', box: [1, 1, 8, 8], difficult: true }] },
  { id: '000003', w: 24, h: 24, objects: [{ name: 'person', box: [2, 2, 12, 20] }, { name: 'bird', box: [5, 5, 9, 9], difficult: true }] },
];

async function makeDevkit(root: string, images: FixtureImage[], split = 'test'): Promise<string> {
  const voc = join(root, 'VOCdevkit', 'VOC2007');
  for (const d of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(voc, d), { recursive: true });
  for (const im of images) {
    writeFileSync(join(voc, 'Annotations', `${im.id}.xml`), annotationXml(im.w, im.h, im.objects));
    await halfImage(join(voc, 'JPEGImages', `${im.id}.jpg`), im.w, im.h);
  }
  writeFileSync(join(voc, 'ImageSets', 'Main', `${split}.txt`), images.map((i) => i.id).join('\n') + '\n');
  return join(root, 'VOCdevkit');
}

const devkit = await makeDevkit(join(tmp, 'fixture'), FIXTURE);

test('voc boxes: 1-based VOC pixels <-> continuous pixels of the resize, exact and inverse', () => {
  // 40 x 20 image to 8 x 8: x scale 1/5, y scale 2/5. [11,6,20,10] covers columns 11..20 = [10, 20) -> [2, 4); rows 6..10 -> [5, 10) -> [2, 4).
  assert.deepEqual(vocBoxToResized([11, 6, 20, 10], 40, 20, 8), [2, 2, 4, 4]);
  assert.deepEqual(vocBoxToResized([1, 1, 40, 20], 40, 20, 8), [0, 0, 8, 8]);
  assert.deepEqual(vocBoxToResized([1, 1, 500, 375], 500, 375, 224), [0, 0, 224, 224]);
  const box: Box = [37, 12, 311, 290];
  resizedBoxToVoc(vocBoxToResized(box, 353, 301, 448), 353, 301, 448).forEach((v, i) => close(v, box[i]!, `coordinate ${i}`));
});

test('voc loader: split ids, images stretched to size x size (HWC RGB), boxes mapped, difficult kept', async () => {
  assert.deepEqual(readVocSplit(devkit, '2007', 'test'), ['000001', '000002', '000003']);
  // The parent of VOCdevkit works too.
  assert.deepEqual(readVocSplit(join(tmp, 'fixture'), '2007', 'test'), ['000001', '000002', '000003']);
  const size = 16;
  const ds = await loadVocDetection(devkit, '2007', 'test', size, { quiet: true });
  assert.deepEqual([ds.name, ds.split, ds.n, ds.size, ds.images.length], ['voc2007-test', 'test', 3, 16, 3 * 16 * 16 * 3]);
  assert.deepEqual(ds.ids, ['000001', '000002', '000003']);
  assert.deepEqual(ds.origSizes, [[40, 20], [32, 48], [24, 24]]);
  assert.deepEqual(ds.classes, [...VOC_CLASSES]);
  assert.deepEqual(ds.boxes[0], [{ cls: 11, box: [4, 4, 8, 8], difficult: false }, { cls: 14, box: [0, 0, 16, 16], difficult: false }]);
  assert.deepEqual(ds.boxes[1]!.map((b) => [b.cls, b.difficult]), [[11, false], [7, true]]);
  assert.deepEqual(ds.boxes[1]![0]!.box, [(2 * 16) / 32, (3 * 16) / 48, (30 * 16) / 32, (40 * 16) / 48]);
  // Stretch, no crop: every image's left columns are LEFT and right columns RIGHT (JPEG q100 4:4:4: within a few levels).
  for (let i = 0; i < ds.n; i++) {
    for (const [x, color] of [[1, LEFT], [size - 2, RIGHT]] as const) {
      for (const y of [0, size / 2, size - 1]) {
        const at = ((i * size + y) * size + x) * 3;
        const px = [...ds.images.subarray(at, at + 3)];
        px.forEach((v, c) => assert.ok(Math.abs(v - color[c]!) <= 4, `image ${i} (${x},${y}) channel ${c}: ${v} vs ${color[c]}`));
      }
    }
  }
  const limited = await loadVocDetection(devkit, '2007', 'test', 8, { quiet: true, limit: 2 });
  assert.deepEqual([limited.n, limited.ids], [2, ['000001', '000002']]);
});

test('voc loader: a missing image, a size mismatch, a missing annotation or a bad split line is one line naming the file', async () => {
  const cases: [string, (voc: string) => void, RegExp][] = [
    ['missing image', (voc) => rmSync(join(voc, 'JPEGImages', '000002.jpg')), /JPEGImages\/000002\.jpg: missing image \(annotated in .*000002\.xml\)/],
    ['size mismatch', (voc) => writeFileSync(join(voc, 'Annotations', '000003.xml'), annotationXml(25, 24, [])), /JPEGImages\/000003\.jpg: image is 24x24 but .*000003\.xml says 25x24/],
    ['missing annotation', (voc) => rmSync(join(voc, 'Annotations', '000001.xml')), /Annotations\/000001\.xml: missing annotation for image '000001' of split 'test'/],
    ['bad split line', (voc) => writeFileSync(join(voc, 'ImageSets', 'Main', 'test.txt'), '000001\n000002 1\n'), /test\.txt:2: expected one image id, got '000002 1'/],
    ['duplicate id', (voc) => writeFileSync(join(voc, 'ImageSets', 'Main', 'test.txt'), '000001\n000001\n'), /test\.txt:2: image id '000001' listed twice/],
    ['not an image', (voc) => writeFileSync(join(voc, 'JPEGImages', '000001.jpg'), 'not a jpeg'), /000001\.jpg: cannot decode image/],
  ];
  for (const [what, breakIt, pattern] of cases) {
    const root = join(tmp, `broken-${what.replace(/ /g, '-')}`);
    const dk = await makeDevkit(root, FIXTURE);
    breakIt(join(dk, 'VOC2007'));
    await assert.rejects(loadVocDetection(dk, '2007', 'test', 8, { quiet: true }), (e: Error) => {
      assert.ok(e instanceof UserError, `${what}: ${e.message}`);
      assert.match(e.message, pattern, what);
      assert.ok(!e.message.includes('\n'), `${what}: one line`);
      return true;
    });
  }
  assert.throws(() => readVocSplit(devkit, '2012', 'test'), /no VOC2012 folder/);
  assert.throws(() => readVocSplit(devkit, '2007', 'val'), /Main\/val\.txt: no such split file/);
});

// ---- comp4 results files ----

test('voc results files: written and read back give the same detections and the same AP', () => {
  const gt = loadVocAnnotations(devkit, '2007', 'test');
  const rng = createRng(3);
  const dets: Detection[] = gt.flatMap((a) => a.objects.map((o) => det(a.id, o.cls, rng.next(), [o.box[0] + rng.next(), o.box[1] + 0.1, o.box[2] - 1 / 3, o.box[3]])));
  dets.push(det('000001', 0, 0.123456789, [1.5, 2.5, 3.5, 4.5]));
  const dir = join(tmp, 'results-roundtrip');
  const files = writeVocDetections(dir, 'test', VOC_CLASSES, dets);
  assert.equal(files.length, 20);
  assert.equal(readFileSync(vocDetectionsFile(dir, 'test', 'aeroplane'), 'utf8'), '000001 0.123456789 1.5 2.5 3.5 4.5\n');
  const back = readVocDetections(dir, 'test', VOC_CLASSES, { imageIds: new Set(gt.map((a) => a.id)) });
  assert.deepEqual(back.missing, []);
  const byClass = (ds: Detection[]): Detection[] => [...ds].sort((x, y) => x.cls - y.cls);
  assert.deepEqual(back.detections, byClass(dets));
  assert.deepEqual(vocEvaluate(gt, back.detections), vocEvaluate(gt, dets));
});

test('voc results files: malformed lines and unknown images are one line with file:line', () => {
  const dir = join(tmp, 'results-bad');
  mkdirSync(dir, { recursive: true });
  const file = vocDetectionsFile(dir, 'test', 'dog');
  const cases: [string, RegExp][] = [
    ['000001 0.9 1 2 3\n', /dog\.txt:1: expected 'image_id score xmin ymin xmax ymax', got 5 fields/],
    ['000001 0.9 1 2 3 4\n\n000002 high 1 2 3 4\n', /dog\.txt:3: score 'high' is not a number/],
    ['000001 0.9 1 2 3 NaN\n', /dog\.txt:1: ymax 'NaN' is not a number/],
    ['000001 0.9 5 2 3 4\n', /dog\.txt:1: box \[5, 2, 3, 4\] has xmin > xmax/],
    ['000009 0.9 1 2 3 4\n', /dog\.txt:1: image '000009' is not in split 'test'/],
  ];
  for (const [text, pattern] of cases) {
    writeFileSync(file, text);
    assert.throws(() => readVocDetections(dir, 'test', VOC_CLASSES, { imageIds: new Set(['000001', '000002']) }), (e: Error) => {
      assert.ok(e instanceof UserError && e.message.startsWith(file), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }
  assert.throws(() => readVocDetections(join(tmp, 'xml'), 'test', VOC_CLASSES), /no detection files \(expected .*comp4_det_test_aeroplane\.txt/);
});

// ---- the real VOC2007 subset ----

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUBSET = ['../shared/datasets/voc2007-subset.tar', '../../shared/datasets/voc2007-subset.tar'].map((p) => join(ROOT, p)).find((p) => existsSync(p));
const tarWorks = spawnSync('tar', ['--version']).status === 0;
const skipReal = !SUBSET ? 'voc2007-subset.tar not found beside the repository (../shared/datasets or ../../shared/datasets); skipping'
  : !tarWorks ? 'no tar command to unpack voc2007-subset.tar; skipping' : false;

test('voc real subset: 765 trainval / 400 test ids, every annotation parses, images load', { skip: skipReal }, async () => {
  const dest = join(tmp, 'real');
  mkdirSync(dest);
  // Annotations and split lists first, then only the 16 images the loader reads (the whole archive is 100 MB).
  const untar = (members: string[]): void => {
    const r = spawnSync('tar', ['-xf', SUBSET!, '-C', dest, ...members]);
    assert.equal(r.status, 0, String(r.stderr));
  };
  untar(['--wildcards', 'VOCdevkit/VOC2007/Annotations/*', 'VOCdevkit/VOC2007/ImageSets/*']);
  const dk = join(dest, 'VOCdevkit');
  untar(readVocSplit(dk, '2007', 'test').slice(0, 16).map((id) => `VOCdevkit/VOC2007/JPEGImages/${id}.jpg`));
  const trainval = loadVocAnnotations(dk, '2007', 'trainval');
  const testSet = loadVocAnnotations(dk, '2007', 'test');
  assert.equal(trainval.length, 765);
  assert.equal(testSet.length, 400);
  assert.equal(new Set([...trainval, ...testSet].map((a) => a.id)).size, 1165, 'trainval and test are disjoint');
  // All 20 classes have positives in both splits; some objects are difficult.
  for (const set of [trainval, testSet]) {
    const classes = new Set(set.flatMap((a) => a.objects.filter((o) => !o.difficult).map((o) => o.cls)));
    assert.equal(classes.size, 20);
    assert.ok(set.some((a) => a.objects.some((o) => o.difficult)));
  }
  // VOC2007 000001 (test): 353x500 with a dog and a person (from the official annotation).
  const first = testSet.find((a) => a.id === '000001');
  if (first) assert.deepEqual([first.width, first.height, first.objects.map((o) => o.name)], [353, 500, ['dog', 'person']]);
  const ds = await loadVocDetection(dk, '2007', 'test', 64, { quiet: true, limit: 16 });
  assert.equal(ds.n, 16);
  assert.deepEqual(ds.origSizes, testSet.slice(0, 16).map((a) => [a.width, a.height]));
  for (const b of ds.boxes.flat()) assert.ok(b.box[0] >= 0 && b.box[1] >= 0 && b.box[2] <= 64 && b.box[3] <= 64 && b.box[0] < b.box[2] && b.box[1] < b.box[3]);
});

// ---- the CLI ----

/** `convmixer eval voc ...args` in this process (the real CLI is slow to start here): stdout lines, or the UserError. */
async function evalVoc(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]): void => { lines.push(parts.join(' ')); };
  try {
    assert.equal(await runEvalVoc(args), 0);
  } finally {
    console.log = log;
  }
  return lines.join('\n') + '\n';
}

test('convmixer eval voc: a perfect detections folder from the ground truth gives mAP 1 (text and --json, real CLI)', async () => {
  const gt = loadVocAnnotations(devkit, '2007', 'test');
  const dir = join(tmp, 'perfect');
  // Every object, difficult ones included (ignored), at score 1: a perfect detector.
  writeVocDetections(dir, 'test', VOC_CLASSES, gt.flatMap((a) => a.objects.map((o) => det(a.id, o.cls, 1, o.box))));
  // The three runs at once: starting the CLI is most of their time.
  const [text, json, bad] = await Promise.all([
    convmixerAsync(['eval', 'voc', '--devkit', devkit, '--split', 'test', '--detections', dir]),
    convmixerAsync(['eval', 'voc', '--devkit', devkit, '--split', 'test', '--detections', dir, '--json']),
    convmixerAsync(['eval', 'voc', '--devkit', devkit, '--split', 'test', '--detections', dir, '--year', '2010']),
  ]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /VOC2007 test: 3 images/);
  assert.match(text.stdout, /mAP@0\.5: VOC2007 11-point 100\.00%, all-point 100\.00% \(over 2 of 20 classes/);
  assert.match(text.stdout, /\ncat +0 +1 +0 +0 +n\/a +n\/a\n/);
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { map07: number; mapAll: number; classesInMean: number; images: number; perClass: { cls: string; ap07: number | null; nPositives: number }[] };
  assert.deepEqual([out.map07, out.mapAll, out.classesInMean, out.images], [1, 1, 2, 3]);
  assert.deepEqual(out.perClass.filter((c) => c.nPositives > 0).map((c) => [c.cls, c.nPositives, c.ap07]), [['dog', 2, 1], ['person', 2, 1]]);
  assert.equal(out.perClass.find((c) => c.cls === 'cat')!.ap07, null);
  // A user error through the real CLI: one line on stderr, exit 2.
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, "convmixer eval: --year: expected one of 2007, 2012, got '2010'\n");
});

test('convmixer eval voc: a miss and a false positive give the hand-computed mAP; missing class files noted', async () => {
  // One dog missed and a FP above the other: dog recall 0 .5, precision 0 .5 -> 11-point 6/11 * .5, all-point .25.
  const worse = join(tmp, 'worse');
  writeVocDetections(worse, 'test', VOC_CLASSES, [det('000003', 11, 0.9, [1, 1, 5, 5]), det('000001', 11, 0.8, [11, 6, 20, 10]),
    det('000001', 14, 1, [1, 1, 40, 20]), det('000003', 14, 1, [2, 2, 12, 20])]);
  const w = JSON.parse(await evalVoc(['--devkit', devkit, '--split', 'test', '--detections', worse, '--json'])) as { map07: number; mapAll: number; missingFiles: string[] };
  close(w.map07, (1 + (6 / 11) * 0.5) / 2, 'map07');
  close(w.mapAll, (1 + 0.25) / 2, 'mapAll');
  assert.deepEqual(w.missingFiles, []);
  rmSync(vocDetectionsFile(worse, 'test', 'person'));
  rmSync(vocDetectionsFile(worse, 'test', 'cat'));
  const text = await evalVoc(['--devkit', devkit, '--split', 'test', '--detections', worse]);
  assert.match(text, /no detection file for cat, person: counted as no detections/);
  assert.match(text, /\ndog +2 +2 +1 +1 +27\.27 +25\.00\n/);
  assert.match(text, /mAP@0\.5: VOC2007 11-point 13\.64%, all-point 12\.50%/);
});

test('convmixer eval voc: bad flags and inputs are one-line user errors', async () => {
  const dir = join(tmp, 'perfect');
  const cases: [string[], RegExp][] = [
    [['--split', 'test', '--detections', dir], /^--devkit DIR is required$/],
    [['--devkit', devkit, '--detections', dir], /^--split NAME is required/],
    [['--devkit', devkit, '--split', 'test'], /^--detections DIR is required$/],
    [['--devkit', join(tmp, 'nowhere'), '--split', 'test', '--detections', dir], /^--devkit .*nowhere: no VOC2007 folder/],
    [['--devkit', devkit, '--split', 'val', '--detections', dir], /val\.txt: no such split file/],
    [['--devkit', devkit, '--split', '../x', '--detections', dir], /split '\.\.\/x': expected a name/],
    [['--devkit', devkit, '--split', 'test', '--detections', join(tmp, 'nowhere')], /nowhere: no such folder of detections/],
    [['--devkit', devkit, '--split', 'test', '--detections', dir, '--iou', '0.7'], /^Unknown option '--iou'/],
    [['extra', '--devkit', devkit, '--split', 'test', '--detections', dir], /^Unexpected argument 'extra'/],
  ];
  for (const [args, pattern] of cases) {
    await assert.rejects(evalVoc(args), (e: Error) => {
      assert.ok(e instanceof UserError, `${args.join(' ')}: ${e.message}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  }
  assert.match(await evalVoc(['--help']), /usage: convmixer eval voc --devkit DIR/);
});
