/**
 * pycocotools' `Params` for bbox and segm evaluation. The thresholds are computed the way numpy's `linspace`
 * computes them (`i * step + start`, the last one set to `stop`) so that they are the very same doubles: a recall
 * or IoU that equals a threshold compares the same way as in pycocotools.
 */

/** Evaluation settings (pycocotools `Params.setDetParams`). */
export interface CocoEvalParams {
  /** Images evaluated (default: every image of the dataset, sorted). */
  imgIds: number[];
  /** Categories evaluated (default: every category of the dataset, sorted). */
  catIds: number[];
  /** IoU thresholds .50:.05:.95. */
  iouThrs: number[];
  /** Recall points 0:.01:1. */
  recThrs: number[];
  /** Detections kept per image, ascending (1, 10, 100). */
  maxDets: number[];
  /** Object area ranges in pixels (all, small < 32^2, medium < 96^2, large). */
  areaRng: Array<[number, number]>;
  areaRngLbl: string[];
}

/** numpy `linspace(start, stop, num)` with endpoint, bit for bit. */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const values = Array.from({ length: num }, (_, i) => i * step + start);
  values[num - 1] = stop;
  return values;
}

/** pycocotools' default detection parameters for the given images and categories. */
export function defaultCocoParams(imgIds: number[], catIds: number[]): CocoEvalParams {
  return {
    imgIds: [...new Set(imgIds)].sort((a, b) => a - b),
    catIds: [...new Set(catIds)].sort((a, b) => a - b),
    iouThrs: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
    recThrs: linspace(0, 1, Math.round(1 / 0.01) + 1),
    maxDets: [1, 10, 100],
    areaRng: [
      [0, 1e5 ** 2],
      [0, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
  };
}
