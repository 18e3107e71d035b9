/** Small COCO-format datasets for the evaluator and CLI tests. */
import { type CocoDataset, parseCocoDataset } from '../../src/detection/coco/dataset.js';
import type { CocoResult } from '../../src/detection/coco/evaluate.js';
import type { XywhBox } from '../../src/detection/coco/iou.js';

/** A ground-truth object for {@link cocoJson}. */
export interface GtSpec {
  image?: number;
  category?: number;
  bbox: XywhBox;
  /** Defaults to the box area. */
  area?: number;
  iscrowd?: 0 | 1;
  segmentation?: unknown;
}

/** The annotation JSON of `images` (100x100 unless given) and `categories`, with ids counted from 1. */
export function cocoJson(
  gts: GtSpec[],
  options: { images?: Array<{ id: number; width?: number; height?: number }>; categories?: string[] } = {},
): Record<string, unknown> {
  const images = options.images ?? [{ id: 1 }];
  const categories = options.categories ?? ['cat'];
  return {
    images: images.map(({ id, width = 100, height = 100 }) => ({
      id,
      file_name: `image${id}.png`,
      width,
      height,
    })),
    categories: categories.map((name, i) => ({ id: i + 1, name })),
    annotations: gts.map((gt, i) => ({
      id: i + 1,
      image_id: gt.image ?? images[0].id,
      category_id: gt.category ?? 1,
      bbox: gt.bbox,
      area: gt.area ?? gt.bbox[2] * gt.bbox[3],
      iscrowd: gt.iscrowd ?? 0,
      ...(gt.segmentation === undefined ? {} : { segmentation: gt.segmentation }),
    })),
  };
}

/** A parsed dataset of {@link cocoJson}. */
export function cocoDataset(...args: Parameters<typeof cocoJson>): CocoDataset {
  return parseCocoDataset(cocoJson(...args), 'test.json', '/nonexistent');
}

/** A box detection on image 1, category 1 unless given. */
export function det(score: number, bbox: XywhBox, image = 1, category = 1): CocoResult {
  return { imageId: image, categoryId: category, score, bbox };
}
