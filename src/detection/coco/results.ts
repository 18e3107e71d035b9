/**
 * A detector's output in COCO result form, as mmdetection's `CocoDataset.results2json` writes it: boxes x1 y1 x2
 * y2 -> [x, y, w, h] (w = x2 - x1, no +1), masks as RLEs, labels -> category ids.
 */
import { DatasetError } from '../../data/dataset.js';
import type { Detection } from '../types.js';
import type { CocoDataset } from './dataset.js';
import type { CocoResult } from './evaluate.js';
import { encodeMask } from './rle.js';

/**
 * Category id of each detector label, matched by class name (mmdetection's `cat_ids = get_cat_ids(cat_names=
 * CLASSES)` gives the same map on COCO); null for a class the dataset does not have. Throws when no class name
 * is in the dataset, which means the detector and the dataset do not belong together.
 */
export function categoryIdsForClasses(
  classNames: readonly string[],
  dataset: CocoDataset,
): Array<number | null> {
  const byName = new Map<string, number>();
  for (const category of dataset.categories)
    if (!byName.has(category.name)) byName.set(category.name, category.id);
  const ids = classNames.map((name) => byName.get(name) ?? null);
  if (classNames.length > 0 && ids.every((id) => id === null)) {
    const shown = dataset.categories
      .slice(0, 5)
      .map((c) => c.name)
      .join(', ');
    throw new DatasetError(
      `${dataset.source}: none of the detector's ${classNames.length} class names (${classNames.slice(0, 5).join(', ')}, ...) ` +
        `is a category of the dataset (${shown}${dataset.categories.length > 5 ? ', ...' : ''})`,
    );
  }
  return ids;
}

/** COCO results of one image's detections; detections of classes missing from the dataset are left out. */
export function detectionsToResults(
  imageId: number,
  detections: readonly Detection[],
  categoryIds: ReadonlyArray<number | null>,
): CocoResult[] {
  const results: CocoResult[] = [];
  for (const detection of detections) {
    const categoryId = categoryIds[detection.label];
    if (categoryId === null || categoryId === undefined) continue;
    const [x1, y1, x2, y2] = detection.box;
    results.push({
      imageId,
      categoryId,
      score: detection.score,
      bbox: [x1, y1, x2 - x1, y2 - y1],
      segmentation: detection.mask ? encodeMask(detection.mask) : undefined,
    });
  }
  return results;
}
