/**
 * COCO detection evaluation with pycocotools' `COCOeval` semantics (evaluate -> accumulate -> summarize), for
 * boxes (`bbox`) and masks (`segm`). Per image and category, detections (highest score first, stable order) are
 * matched greedily to the unmatched ground truth of highest IoU at each of the 10 IoU thresholds; crowd ground
 * truths can absorb any number of detections and, like objects outside the area range, neither count as misses
 * nor make their matches count. Precision is made monotone and read at 101 recall points.
 */
import { DatasetError } from '../../data/dataset.js';
import { annotationRle, type CocoDataset } from './dataset.js';
import { boxIous, type IouMatrix, maskIous, type XywhBox } from './iou.js';
import { type CocoEvalParams, defaultCocoParams } from './params.js';
import { type Rle, rleArea, rleToBbox } from './rle.js';
import { summaryStats } from './summary.js';

export type IouType = 'bbox' | 'segm';

/** One detection in COCO result form (what pycocotools' `loadRes` reads from a results JSON). */
export interface CocoResult {
  imageId: number;
  categoryId: number;
  score: number;
  /** [x, y, w, h]; results with boxes get area w * h even for segm, as `loadRes` gives them. */
  bbox?: XywhBox;
  /** The detection's mask (needed for segm). */
  segmentation?: Rle;
}

/** What `accumulate` and `summarize` produce. */
export interface CocoEvaluation {
  iouType: IouType;
  params: CocoEvalParams;
  /** precision[t][r][k][a][m], flattened row-major; -1 where a category has no ground truth. */
  precision: Float64Array;
  /** recall[t][k][a][m], flattened row-major; -1 where a category has no ground truth. */
  recall: Float64Array;
  /** The 12 summary numbers in pycocotools' order (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl). */
  stats: number[];
}

/** An object as the matcher sees it. */
interface EvalObject {
  area: number;
  score: number;
  iscrowd: boolean;
  bbox: XywhBox;
  rle?: Rle;
}

/** pycocotools `evaluateImg`'s result for one image, category and area range. */
interface ImageEvaluation {
  /** Scores of the kept detections, highest first. */
  scores: number[];
  /** matched[t * D + d]: detection d matched a ground truth at threshold t. */
  matched: Uint8Array;
  /** ignored[t * D + d]: detection d matched an ignored ground truth, or is unmatched outside the area range. */
  ignored: Uint8Array;
  /** Ground truths that count (not crowd, inside the area range). */
  counted: number;
}

/** Evaluates `results` against `dataset` like pycocotools' COCOeval(iouType) with evaluate/accumulate/summarize. */
export function evaluateCoco(
  dataset: CocoDataset,
  results: readonly CocoResult[],
  iouType: IouType,
  params: CocoEvalParams = defaultCocoParams(
    dataset.images.map((image) => image.id),
    dataset.categories.map((category) => category.id),
  ),
): CocoEvaluation {
  const imgIds = new Set(params.imgIds);
  const catIds = new Set(params.catIds);
  // Objects grouped by category, then image (pycocotools' _gts[imgId, catId], _dts[imgId, catId]).
  const gts = new Map<number, Map<number, EvalObject[]>>();
  const dts = new Map<number, Map<number, EvalObject[]>>();
  const push = (groups: typeof gts, categoryId: number, imageId: number, object: EvalObject) => {
    let byImage = groups.get(categoryId);
    if (!byImage) {
      byImage = new Map();
      groups.set(categoryId, byImage);
    }
    const group = byImage.get(imageId);
    if (group) group.push(object);
    else byImage.set(imageId, [object]);
  };
  for (const annotation of dataset.annotations) {
    if (!imgIds.has(annotation.imageId) || !catIds.has(annotation.categoryId)) continue;
    push(gts, annotation.categoryId, annotation.imageId, {
      area: annotation.area,
      score: 0,
      iscrowd: annotation.iscrowd,
      bbox: annotation.bbox,
      rle: iouType === 'segm' ? annotationRle(dataset, annotation) : undefined,
    });
  }
  const useBoxArea = results.length > 0 && results[0].bbox !== undefined;
  results.forEach((result, i) => {
    const object = resultObject(result, i, dataset, iouType, useBoxArea);
    if (!imgIds.has(result.imageId) || !catIds.has(result.categoryId)) return;
    push(dts, result.categoryId, result.imageId, object);
  });

  const maxDet = params.maxDets[params.maxDets.length - 1];
  // evalImgs[k][a][i], null where the image has neither ground truths nor detections of the category.
  const evalImgs = params.catIds.map((catId) => {
    const gtOfImage = gts.get(catId);
    const dtOfImage = dts.get(catId);
    const perImage = params.imgIds.map((imgId) => {
      const gt = gtOfImage?.get(imgId) ?? [];
      const dt = byScore(dtOfImage?.get(imgId) ?? []).slice(0, maxDet);
      return gt.length === 0 && dt.length === 0 ? null : { gt, dt, ious: computeIous(dt, gt, iouType) };
    });
    return params.areaRng.map((areaRange) =>
      perImage.map((pair) =>
        pair === null ? null : evaluateImage(pair.gt, pair.dt, pair.ious, areaRange, params.iouThrs),
      ),
    );
  });
  const { precision, recall } = accumulate(evalImgs, params);
  return { iouType, params, precision, recall, stats: summaryStats(precision, recall, params) };
}

/** pycocotools `loadRes` for one result: its area is its box's, or its mask's when the results carry no boxes. */
function resultObject(
  result: CocoResult,
  i: number,
  dataset: CocoDataset,
  iouType: IouType,
  useBoxArea: boolean,
): EvalObject {
  const where = `detection ${i} (image id ${result.imageId})`;
  if (!dataset.imagesById.has(result.imageId)) {
    throw new DatasetError(`${where}: the image is not in ${dataset.source}`);
  }
  if (!Number.isFinite(result.score)) throw new DatasetError(`${where}: score ${result.score} is not finite`);
  if (iouType === 'segm' && result.segmentation === undefined) {
    throw new DatasetError(`${where} has no mask: segm evaluation needs masks`);
  }
  let bbox = result.bbox;
  if (bbox === undefined) {
    if (useBoxArea || result.segmentation === undefined) {
      throw new DatasetError(`${where} has no box, but bbox evaluation needs boxes`);
    }
    bbox = rleToBbox(result.segmentation);
  }
  return {
    area: useBoxArea ? bbox[2] * bbox[3] : rleArea(result.segmentation!),
    score: result.score,
    iscrowd: false,
    bbox,
    rle: result.segmentation,
  };
}

/** Highest score first; ties keep their order (numpy's stable mergesort in pycocotools). */
function byScore<T extends { score: number }>(objects: readonly T[]): T[] {
  return objects
    .map((object, index) => ({ object, index }))
    .sort((a, b) => b.object.score - a.object.score || a.index - b.index)
    .map(({ object }) => object);
}

/** pycocotools `computeIoU`: detections (already sorted and cut) against ground truths. */
function computeIous(dt: readonly EvalObject[], gt: readonly EvalObject[], iouType: IouType): IouMatrix {
  const iscrowd = gt.map((g) => g.iscrowd);
  return iouType === 'bbox'
    ? boxIous(
        dt.map((d) => d.bbox),
        gt.map((g) => g.bbox),
        iscrowd,
      )
    : maskIous(
        dt.map((d) => d.rle!),
        gt.map((g) => g.rle!),
        iscrowd,
      );
}

/**
 * pycocotools `evaluateImg` for one image and category (detections sorted and cut to maxDets[-1]). A detection
 * keeps the best IoU match at or above the threshold among ground truths not yet taken (crowds are never taken);
 * once it holds a counted ground truth it does not move to an ignored one, which are tried last.
 */
function evaluateImage(
  gtAll: readonly EvalObject[],
  dt: readonly EvalObject[],
  ious: IouMatrix,
  [minArea, maxArea]: [number, number],
  iouThrs: readonly number[],
): ImageEvaluation {
  const outside = (area: number) => area < minArea || area > maxArea;
  const gtIgnoredAll = gtAll.map((g) => g.iscrowd || outside(g.area));
  // Counted ground truths first (stable), as pycocotools' argsort of the ignore flags.
  const order = gtAll
    .map((_, g) => g)
    .sort((a, b) => Number(gtIgnoredAll[a]) - Number(gtIgnoredAll[b]) || a - b);
  const gtIgnored = order.map((g) => gtIgnoredAll[g]);
  const gtCrowd = order.map((g) => gtAll[g].iscrowd);
  const T = iouThrs.length;
  const D = dt.length;
  const G = order.length;
  const matched = new Uint8Array(T * D);
  const ignored = new Uint8Array(T * D);
  // pycocotools stores match ids and tests them for > 0; detection and annotation ids are >= 1 there, so flags
  // are equivalent.
  const gtTaken = new Uint8Array(T * G);
  if (D > 0 && G > 0) {
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < D; d++) {
        let best = Math.min(iouThrs[t], 1 - 1e-10);
        let m = -1;
        for (let g = 0; g < G; g++) {
          if (gtTaken[t * G + g] && !gtCrowd[g]) continue;
          if (m > -1 && !gtIgnored[m] && gtIgnored[g]) break;
          const iou = ious.values[d * ious.groundTruths + order[g]];
          if (iou < best) continue;
          best = iou;
          m = g;
        }
        if (m === -1) continue;
        ignored[t * D + d] = gtIgnored[m] ? 1 : 0;
        matched[t * D + d] = 1;
        gtTaken[t * G + m] = 1;
      }
    }
  }
  for (let d = 0; d < D; d++) {
    if (!outside(dt[d].area)) continue;
    for (let t = 0; t < T; t++) if (!matched[t * D + d]) ignored[t * D + d] = 1;
  }
  return {
    scores: dt.map((d) => d.score),
    matched,
    ignored,
    counted: gtIgnored.filter((ignore) => !ignore).length,
  };
}

/**
 * pycocotools `accumulate`: per category, area range and maxDets, the detections of all images (each cut to
 * maxDets) ranked by score, cumulative true and false positives, interpolated precision at each recall point.
 */
function accumulate(
  evalImgs: ReadonlyArray<ReadonlyArray<ReadonlyArray<ImageEvaluation | null>>>,
  params: CocoEvalParams,
): { precision: Float64Array; recall: Float64Array } {
  const T = params.iouThrs.length;
  const R = params.recThrs.length;
  const K = params.catIds.length;
  const A = params.areaRng.length;
  const M = params.maxDets.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const images = evalImgs[k][a].filter((e): e is ImageEvaluation => e !== null);
      if (images.length === 0) continue;
      const counted = images.reduce((sum, e) => sum + e.counted, 0);
      if (counted === 0) continue;
      for (let m = 0; m < M; m++) {
        const maxDet = params.maxDets[m];
        // (image, detection) pairs in image order, each image cut to maxDet, then stably ranked by score.
        const owners: ImageEvaluation[] = [];
        const indices: number[] = [];
        const scores: number[] = [];
        for (const e of images) {
          for (let d = 0; d < Math.min(e.scores.length, maxDet); d++) {
            owners.push(e);
            indices.push(d);
            scores.push(e.scores[d]);
          }
        }
        const nd = scores.length;
        const order = Array.from({ length: nd }, (_, i) => i).sort((i, j) => scores[j] - scores[i] || i - j);
        const pr = new Float64Array(nd);
        const rc = new Float64Array(nd);
        for (let t = 0; t < T; t++) {
          let tp = 0;
          let fp = 0;
          for (let r = 0; r < nd; r++) {
            const e = owners[order[r]];
            const at = t * e.scores.length + indices[order[r]];
            // An ignored detection repeats the previous cumulative counts (pycocotools' cumsum of 0s).
            if (!e.ignored[at]) {
              if (e.matched[at]) tp++;
              else fp++;
            }
            rc[r] = tp / counted;
            pr[r] = tp / (fp + tp + Number.EPSILON);
          }
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          // searchsorted(rc, recThrs, 'left'); precision stays 0 beyond the highest recall reached.
          let i = 0;
          for (let r = 0; r < R; r++) {
            while (i < nd && rc[i] < params.recThrs[r]) i++;
            precision[(((t * R + r) * K + k) * A + a) * M + m] = i < nd ? pr[i] : 0;
          }
        }
      }
    }
  }
  return { precision, recall };
}
