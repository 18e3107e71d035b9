/**
 * Non-maximum suppression as torchvision's `nms` and mmcv's `batched_nms` compute it: boxes in descending score
 * order (stable), a box is dropped when its IoU with a kept box of the same group is strictly greater than the
 * threshold; IoU in float32 without the legacy +1. Batched NMS runs per group (class or level), and the kept
 * indices come back by descending score.
 */

const f32 = Math.fround;

/** Indices 0..n-1 ordered by descending score, ties by index (a stable sort). */
export function argsortDescending(scores: ArrayLike<number>, indices?: number[]): number[] {
  const order = indices ? [...indices] : Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b] - scores[a] || a - b);
}

function area(boxes: Float32Array, i: number): number {
  return f32(f32(boxes[4 * i + 2] - boxes[4 * i]) * f32(boxes[4 * i + 3] - boxes[4 * i + 1]));
}

/** IoU of boxes i and j of a [n * 4] array. */
export function iou(boxes: Float32Array, i: number, j: number): number {
  const w = Math.max(
    0,
    f32(Math.min(boxes[4 * i + 2], boxes[4 * j + 2]) - Math.max(boxes[4 * i], boxes[4 * j])),
  );
  const h = Math.max(
    0,
    f32(Math.min(boxes[4 * i + 3], boxes[4 * j + 3]) - Math.max(boxes[4 * i + 1], boxes[4 * j + 1])),
  );
  const inter = f32(w * h);
  return f32(inter / f32(f32(area(boxes, i) + area(boxes, j)) - inter));
}

/** NMS over `candidates` (indices into boxes [n * 4] / scores); returns the kept ones by descending score. */
export function nms(
  boxes: Float32Array,
  scores: ArrayLike<number>,
  iouThreshold: number,
  candidates?: number[],
): number[] {
  const order = argsortDescending(scores, candidates);
  const suppressed = new Uint8Array(order.length);
  const keep: number[] = [];
  for (let a = 0; a < order.length; a++) {
    if (suppressed[a]) continue;
    const i = order[a];
    keep.push(i);
    for (let b = a + 1; b < order.length; b++) {
      if (!suppressed[b] && iou(boxes, i, order[b]) > iouThreshold) suppressed[b] = 1;
    }
  }
  return keep;
}

/** NMS within each group (`groups[i]` = class or level of box i); kept indices by descending score. */
export function batchedNms(
  boxes: Float32Array,
  scores: ArrayLike<number>,
  groups: ArrayLike<number>,
  iouThreshold: number,
): number[] {
  const members = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const list = members.get(groups[i]);
    if (list) list.push(i);
    else members.set(groups[i], [i]);
  }
  const kept: number[] = [];
  for (const list of members.values()) kept.push(...nms(boxes, scores, iouThreshold, list));
  return argsortDescending(scores, kept);
}
