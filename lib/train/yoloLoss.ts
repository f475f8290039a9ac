// YOLOv1 (Redmon et al. 2016) training targets, loss (their Eq. 3), decoding and class-wise non-maximum suppression, for
// YOLO-ConvMixer (lib/models/yoloConvMixer.ts) on detection batches (lib/data/voc.ts DetDataset: per-image box lists
// {cls, box: [x0, y0, x1, y1]} in continuous pixels of the size x size resized image).
//
// Layouts, as the seed author's code (github.com/AlfaranoAndrea/ConvMixer_extensions-, "object detection/", whose loss.py
// is aladdinpersson's YOLOv1 loss) has them:
//   prediction [N, S, S, C + 5B]: C class scores, then per box b: confidence (C + 5b), x, y, w, h (C + 5b + 1..4)
//   target     [N, S, S, C + 5]:  one-hot class, object flag (C), x, y, w, h (C + 1..4) of the cell's object
// x, y: the box centre relative to its cell's top-left corner, in cell units (0..1); w, h: in cell units (image / S).
// The seed's target tensor has C + 5B channels with the last 5(B - 1) always zero; here they are left out.
//
// The loss, per image, summed over the S x S cells i (obj_i: cell i has an object; r_ib: box b is responsible for it,
// the one of the B with the highest IoU with the cell's ground truth, the first on ties):
//   lambdaCoord sum obj_i [ (x - x^)^2 + (y - y^)^2 + (s(w) - sqrt(w^))^2 + (s(h) - sqrt(h^))^2 ]   of the responsible box
//   + sum obj_i (conf_resp - 1)^2
//   + lambdaNoobj [ sum (1 - obj_i) sum_b conf_ib^2  +  sum obj_i sum_b (1 - r_ib) conf_ib^2 ]
//   + sum obj_i sum_c (p_c - p^_c)^2
// with s(v) = sign(v) sqrt(|v + 1e-6|) on predictions (aladdinpersson's sign-preserving square root, as in the seed's
// loss.py: the eps is added before the absolute value). Choices, and where they come from:
// - Confidence target 1 for the responsible box, not its IoU: the seed's loss.py (target[..., 20] is the object flag).
// - The no-object term on the non-responsible box of an object cell (the second half of the lambdaNoobj bracket) is
//   Eq. 3's 1^noobj_ij; the seed's loss.py leaves it out. `noobjOnUnresponsible: false` gives the seed's loss exactly.
// - Reduction: the sum over the batch divided by the batch size ('batchMean', default; YOLOv1's loss is per image); the
//   seed's loss.py returns the plain sum (nn.MSELoss(reduction='sum')): reduction 'sum'.
// - Class scores are raw linear outputs trained with squared error against the one-hot class (no softmax), as YOLOv1.
import * as tf from '@tensorflow/tfjs';
import type { Box } from '../data/voc.ts';

/** One ground-truth object of an image: class index and [x0, y0, x1, y1] in pixels of the (square) network input. */
export interface DetBox { cls: number; box: Box }

export interface YoloGrid {
  /** Grid size. */
  S: number;
  /** Boxes per cell. */
  B: number;
  /** Classes. */
  C: number;
}

export interface YoloLossOptions extends YoloGrid {
  lambdaCoord?: number;
  lambdaNoobj?: number;
  /** Eq. 3's no-object term on the non-responsible boxes of object cells (default true; the seed's loss.py: false). */
  noobjOnUnresponsible?: boolean;
  /** 'batchMean' (default): summed loss / N; 'sum': summed over the batch, as the seed's loss.py. */
  reduction?: 'batchMean' | 'sum';
}

/** YOLOv1's weights: lambda_coord 5, lambda_noobj 0.5. */
export const YOLO_LAMBDA_COORD = 5;
export const YOLO_LAMBDA_NOOBJ = 0.5;
/** The options that reproduce the seed author's loss.py exactly (besides S, B, C). */
export const SEED_LOSS_OPTIONS = { noobjOnUnresponsible: false, reduction: 'sum' } as const;

/** Channels of a target cell: C one-hot + object flag + x, y, w, h. */
export const targetChannels = (C: number): number => C + 5;

/**
 * One image's target [S, S, C + 5] (row-major: cell row i = floor(S y), column j = floor(S x) of the box centre, clamped
 * into the grid). A cell takes the first box (in list order) whose centre falls in it; later ones are dropped, as the
 * seed's dataset code does. Boxes must lie in [0, imageSize] with x0 <= x1, y0 <= y1 and a class in [0, C).
 */
export function yoloTargetArray(boxes: readonly DetBox[], imageSize: number, S: number, C: number): Float32Array {
  const depth = targetChannels(C);
  const out = new Float32Array(S * S * depth);
  for (const [k, { cls, box }] of boxes.entries()) {
    const [x0, y0, x1, y1] = box;
    if (!Number.isInteger(cls) || cls < 0 || cls >= C) throw new RangeError(`yoloTargets: box ${k} has class ${cls}, expected an integer in [0, ${C})`);
    if (![x0, y0, x1, y1].every(Number.isFinite) || x0 > x1 || y0 > y1 || x0 < 0 || y0 < 0 || x1 > imageSize || y1 > imageSize) {
      throw new RangeError(`yoloTargets: box ${k} [${box.join(', ')}] is not a box inside the ${imageSize}x${imageSize} image`);
    }
    const cx = (x0 + x1) / 2 / imageSize, cy = (y0 + y1) / 2 / imageSize;
    const i = Math.min(S - 1, Math.floor(S * cy)), j = Math.min(S - 1, Math.floor(S * cx));
    const at = (i * S + j) * depth;
    if (out[at + C] !== 0) continue;
    out[at + cls] = 1;
    out[at + C] = 1;
    out[at + C + 1] = S * cx - j;
    out[at + C + 2] = S * cy - i;
    out[at + C + 3] = (S * (x1 - x0)) / imageSize;
    out[at + C + 4] = (S * (y1 - y0)) / imageSize;
  }
  return out;
}

/** A batch's targets [N, S, S, C + 5] from per-image box lists (see yoloTargetArray). */
export function yoloTargets(boxes: readonly (readonly DetBox[])[], imageSize: number, S: number, C: number): tf.Tensor4D {
  const per = S * S * targetChannels(C);
  const data = new Float32Array(boxes.length * per);
  boxes.forEach((b, n) => data.set(yoloTargetArray(b, imageSize, S, C), n * per));
  return tf.tensor4d(data, [boxes.length, S, S, targetChannels(C)]);
}

/** IoU of boxes in (x, y, w, h) midpoint form over the last axis (size 4), as aladdinpersson's intersection_over_union. */
function midpointIoU(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const corners = (t: tf.Tensor): tf.Tensor[] => {
    const [x, y, w, h] = tf.split(t, 4, -1);
    const hw = tf.div(w!, 2), hh = tf.div(h!, 2);
    return [tf.sub(x!, hw), tf.sub(y!, hh), tf.add(x!, hw), tf.add(y!, hh)];
  };
  const [ax1, ay1, ax2, ay2] = corners(a), [bx1, by1, bx2, by2] = corners(b);
  const iw = tf.relu(tf.sub(tf.minimum(ax2!, bx2!), tf.maximum(ax1!, bx1!)));
  const ih = tf.relu(tf.sub(tf.minimum(ay2!, by2!), tf.maximum(ay1!, by1!)));
  const inter = tf.mul(iw, ih);
  const areaA = tf.abs(tf.mul(tf.sub(ax2!, ax1!), tf.sub(ay2!, ay1!))), areaB = tf.abs(tf.mul(tf.sub(bx2!, bx1!), tf.sub(by2!, by1!)));
  return tf.div(inter, tf.add(tf.sub(tf.add(areaA, areaB), inter), 1e-6));
}

/** The four sums of the loss, unweighted and summed over the batch (the lambdas and the reduction are applied by yoloV1Loss). */
export interface YoloLossTerms { coord: tf.Scalar; object: tf.Scalar; noObject: tf.Scalar; cls: tf.Scalar }

function checkShapes(pred: tf.Tensor4D, target: tf.Tensor4D, { S, B, C }: YoloGrid): void {
  const [n, s1, s2, d] = pred.shape;
  if (s1 !== S || s2 !== S || d !== C + 5 * B) throw new RangeError(`yoloV1Loss: prediction [${pred.shape}] is not [N, ${S}, ${S}, ${C + 5 * B}]`);
  if (target.shape.join() !== [n, S, S, targetChannels(C)].join()) {
    throw new RangeError(`yoloV1Loss: target [${target.shape}] is not [${n}, ${S}, ${S}, ${targetChannels(C)}]`);
  }
}

/** The coordinate, object, no-object and class sums of the YOLOv1 loss (see the header), each over the whole batch. */
export function yoloV1LossTerms(pred: tf.Tensor4D, target: tf.Tensor4D, opts: YoloLossOptions): YoloLossTerms {
  checkShapes(pred, target, opts);
  const { B, C } = opts;
  return tf.tidy(() => {
    const slice = (t: tf.Tensor, start: number, size: number): tf.Tensor => tf.slice(t, [0, 0, 0, start], [-1, -1, -1, size]);
    const exists = slice(target, C, 1);
    const targetBox = slice(target, C + 1, 4);
    const confs = Array.from({ length: B }, (_, b) => slice(pred, C + 5 * b, 1));
    const boxes = Array.from({ length: B }, (_, b) => slice(pred, C + 5 * b + 1, 4));
    // Responsible box: highest IoU with the cell's ground truth (argMax takes the first on ties); no gradient flows through it.
    const best = tf.argMax(tf.concat(boxes.map((box) => midpointIoU(box, targetBox)), -1), -1);
    const responsible = tf.split(tf.cast(tf.oneHot(best, B), 'float32'), B, -1);
    const pick = (ts: tf.Tensor[]): tf.Tensor => tf.addN(ts.map((t, b) => tf.mul(responsible[b]!, t)));

    const predBox = tf.mul(exists, pick(boxes));
    const trueBox = tf.mul(exists, targetBox);
    const [predXY, predWH] = tf.split(predBox, [2, 2], -1);
    const [trueXY, trueWH] = tf.split(trueBox, [2, 2], -1);
    const signedSqrt = tf.mul(tf.sign(predWH!), tf.sqrt(tf.abs(tf.add(predWH!, 1e-6))));
    const coord = tf.add(tf.sum(tf.squaredDifference(predXY!, trueXY!)), tf.sum(tf.squaredDifference(signedSqrt, tf.sqrt(trueWH!))));

    const object = tf.sum(tf.square(tf.mul(exists, tf.sub(pick(confs), 1))));
    const empty = tf.sub(1, exists);
    let noObject = tf.addN(confs.map((conf) => tf.sum(tf.square(tf.mul(empty, conf)))));
    if (opts.noobjOnUnresponsible ?? true) {
      noObject = tf.add(noObject, tf.addN(confs.map((conf, b) => tf.sum(tf.square(tf.mul(tf.mul(exists, tf.sub(1, responsible[b]!)), conf))))));
    }
    const cls = tf.sum(tf.square(tf.mul(exists, tf.sub(slice(pred, 0, C), slice(target, 0, C)))));
    return { coord: coord as tf.Scalar, object: object as tf.Scalar, noObject: noObject as tf.Scalar, cls: cls as tf.Scalar };
  });
}

/** The YOLOv1 loss of a batch (see the header for the exact form and the options' defaults); differentiable in `pred`. */
export function yoloV1Loss(pred: tf.Tensor4D, target: tf.Tensor4D, opts: YoloLossOptions): tf.Scalar {
  return tf.tidy(() => {
    const t = yoloV1LossTerms(pred, target, opts);
    const total = tf.addN([tf.mul(t.coord, opts.lambdaCoord ?? YOLO_LAMBDA_COORD), t.object, tf.mul(t.noObject, opts.lambdaNoobj ?? YOLO_LAMBDA_NOOBJ), t.cls]);
    return ((opts.reduction ?? 'batchMean') === 'sum' ? total : tf.div(total, pred.shape[0])) as tf.Scalar;
  });
}

/** A predicted box: class, score, and [x0, y0, x1, y1] in pixels of the network input. */
export interface YoloDetection { cls: number; score: number; box: Box }

export interface DecodeOptions extends YoloGrid {
  /** Side of the (square) network input, in pixels. */
  imageSize: number;
  /** Boxes with score <= this are dropped. */
  confThreshold: number;
}

/**
 * Every box of every cell (S S B per image) as a detection, one list per image: class = the cell's highest class score,
 * score = box confidence x that class score (YOLOv1's class-specific confidence), kept when the score is above
 * confThreshold. Centre ((j + x) / S, (i + y) / S) and size (w / S, h / S) times imageSize; a negative predicted width or
 * height is read as 0 (an empty box). Boxes are not clipped to the image.
 */
export function decodeYolo(pred: tf.Tensor4D, opts: DecodeOptions): YoloDetection[][] {
  const { S, B, C, imageSize, confThreshold } = opts;
  const [n, s1, s2, depth] = pred.shape;
  if (s1 !== S || s2 !== S || depth !== C + 5 * B) throw new RangeError(`decodeYolo: prediction [${pred.shape}] is not [N, ${S}, ${S}, ${C + 5 * B}]`);
  const data = pred.dataSync();
  const cell = imageSize / S;
  const out: YoloDetection[][] = [];
  for (let img = 0; img < n; img++) {
    const found: YoloDetection[] = [];
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) {
        const at = ((img * S + i) * S + j) * depth;
        let cls = 0;
        for (let c = 1; c < C; c++) if (data[at + c]! > data[at + cls]!) cls = c;
        for (let b = 0; b < B; b++) {
          const o = at + C + 5 * b;
          const score = data[o]! * data[at + cls]!;
          if (!(score > confThreshold)) continue;
          const cx = (j + data[o + 1]!) * cell, cy = (i + data[o + 2]!) * cell;
          const hw = (Math.max(0, data[o + 3]!) * cell) / 2, hh = (Math.max(0, data[o + 4]!) * cell) / 2;
          found.push({ cls, score, box: [cx - hw, cy - hh, cx + hw, cy + hh] });
        }
      }
    }
    out.push(found);
  }
  return out;
}

/** IoU of two [x0, y0, x1, y1] boxes in continuous coordinates (0 when their union is empty). */
export function boxIoU(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Class-wise greedy non-maximum suppression of one image's detections: in order of decreasing score (equal scores keep
 * their input order), a box is kept unless a kept box of the same class overlaps it with IoU > iouThreshold
 * (torchvision's batched_nms rule). Returns the kept detections, highest score first.
 */
export function nms(boxes: readonly YoloDetection[], iouThreshold: number): YoloDetection[] {
  const order = boxes.map((d, k) => ({ d, k })).sort((a, b) => b.d.score - a.d.score || a.k - b.k);
  const kept: YoloDetection[] = [];
  for (const { d } of order) {
    if (kept.every((k) => k.cls !== d.cls || boxIoU(k.box, d.box) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/** decodeYolo then nms, per image. */
export function detectYolo(pred: tf.Tensor4D, opts: DecodeOptions & { iouThreshold: number }): YoloDetection[][] {
  return decodeYolo(pred, opts).map((found) => nms(found, opts.iouThreshold));
}
