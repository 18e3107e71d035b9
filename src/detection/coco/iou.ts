/**
 * IoU matrices of detections against ground truths, ported from maskApi.c's `bbIou` and `rleIou` (pycocotools
 * `mask.iou`). For a crowd ground truth the union is the detection's own area: a detection lying inside a crowd
 * region overlaps it fully however large the crowd is.
 */
import { type Rle, rleArea, rleToBbox } from './rle.js';

/** A COCO box: x, y of the top-left corner, width, height (pixels). */
export type XywhBox = readonly [number, number, number, number];

/** An IoU matrix, row-major `[detection][groundTruth]`. */
export interface IouMatrix {
  detections: number;
  groundTruths: number;
  values: Float64Array;
}

function matrix(detections: number, groundTruths: number): IouMatrix {
  return { detections, groundTruths, values: new Float64Array(detections * groundTruths) };
}

/** Box IoU of one detection and one ground truth (maskApi `bbIou`). */
function boxIou(d: XywhBox, g: XywhBox, crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const intersection = w * h;
  const detectionArea = d[2] * d[3];
  return intersection / (crowd ? detectionArea : detectionArea + g[2] * g[3] - intersection);
}

/** maskApi `bbIou`: IoUs of boxes, with crowd ground truths measured against the detection's area. */
export function boxIous(
  dts: readonly XywhBox[],
  gts: readonly XywhBox[],
  iscrowd: readonly boolean[],
): IouMatrix {
  const out = matrix(dts.length, gts.length);
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < gts.length; g++) out.values[d * gts.length + g] = boxIou(dts[d], gts[g], iscrowd[g]);
  }
  return out;
}

/**
 * maskApi `rleIou`: IoUs of masks. As in maskApi, the boxes are compared first (no box overlap: IoU 0) and masks
 * of different sizes get -1, which no threshold accepts.
 */
export function maskIous(dts: readonly Rle[], gts: readonly Rle[], iscrowd: readonly boolean[]): IouMatrix {
  const out = matrix(dts.length, gts.length);
  const dtBoxes = dts.map(rleToBbox);
  const gtBoxes = gts.map(rleToBbox);
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < gts.length; g++) {
      if (boxIou(dtBoxes[d], gtBoxes[g], iscrowd[g]) <= 0) continue;
      const dt = dts[d];
      const gt = gts[g];
      out.values[d * gts.length + g] =
        dt.height !== gt.height || dt.width !== gt.width ? -1 : runsIou(dt, gt, iscrowd[g]);
    }
  }
  return out;
}

/** Intersection over union (over the detection's area for a crowd) by walking both run lists at once. */
function runsIou(dt: Rle, gt: Rle, crowd: boolean): number {
  const a = dt.counts;
  const b = gt.counts;
  let ca = a[0];
  let cb = b[0];
  let ia = 1;
  let ib = 1;
  let va = false;
  let vb = false;
  let intersection = 0;
  let union = 0;
  let ct = 1;
  while (ct > 0) {
    const c = Math.min(ca, cb);
    if (va || vb) {
      union += c;
      if (va && vb) intersection += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && ia < a.length) {
      ca = a[ia++];
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && ib < b.length) {
      cb = b[ib++];
      vb = !vb;
    }
    ct += cb;
  }
  if (intersection === 0) union = 1;
  else if (crowd) union = rleArea(dt);
  return intersection / union;
}
