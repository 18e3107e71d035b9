/**
 * A detector scored on a COCO-format dataset, as mmdetection's `tools/test.py --eval bbox segm` does: every image
 * (sorted by id) through `detect`, the detections turned into COCO results, then COCOeval per IoU type. Masks are
 * scored (segm) when the detector gives them.
 */
import type { Detector } from '../types.js';
import { type CocoDataset, readCocoImage } from './dataset.js';
import { type CocoEvaluation, type CocoResult, evaluateCoco, type IouType } from './evaluate.js';
import { defaultCocoParams } from './params.js';
import { categoryIdsForClasses, detectionsToResults } from './results.js';

/** Options of {@link evaluateDetector}. */
export interface EvaluateDetectorOptions {
  /** Evaluate only the first `limit` images (by id). */
  limit?: number;
  /** Called after each image with the count done and the total. */
  onImage?: (done: number, total: number) => void;
}

/** The results and one evaluation per IoU type (bbox, then segm for detectors with masks). */
export interface DetectorEvaluation {
  results: CocoResult[];
  evaluations: CocoEvaluation[];
  imageCount: number;
}

/** Runs `detector` over `dataset` and evaluates its detections. */
export async function evaluateDetector(
  detector: Detector,
  dataset: CocoDataset,
  options: EvaluateDetectorOptions = {},
): Promise<DetectorEvaluation> {
  const categoryIds = categoryIdsForClasses(detector.classNames, dataset);
  const params = defaultCocoParams(
    dataset.images.map((image) => image.id),
    dataset.categories.map((category) => category.id),
  );
  if (options.limit !== undefined) params.imgIds = params.imgIds.slice(0, options.limit);
  const results: CocoResult[] = [];
  let hasMasks = false;
  for (const [done, imageId] of params.imgIds.entries()) {
    const image = dataset.imagesById.get(imageId)!;
    const detections = await detector.detect(await readCocoImage(dataset, image));
    hasMasks ||= detections.some((detection) => detection.mask !== undefined);
    results.push(...detectionsToResults(imageId, detections, categoryIds));
    options.onImage?.(done + 1, params.imgIds.length);
  }
  const iouTypes: IouType[] = hasMasks ? ['bbox', 'segm'] : ['bbox'];
  return {
    results,
    evaluations: iouTypes.map((iouType) => evaluateCoco(dataset, results, iouType, params)),
    imageCount: params.imgIds.length,
  };
}
