/**
 * The evaluator against pycocotools itself: test/fixtures/coco/cocoeval-reference.json holds a random COCO-format
 * dataset (polygons, crowd RLEs, an image without objects, a category without objects), 52 detections (jittered,
 * duplicated, false positives, tied scores, 15+ on one image) and the stats and summary lines COCOeval printed for
 * them, run from cocoapi's own Python and C sources by tools/coco-reference/make_fixtures.py.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseCocoDataset } from '../../src/detection/coco/dataset.js';
import { type CocoResult, evaluateCoco } from '../../src/detection/coco/evaluate.js';
import type { XywhBox } from '../../src/detection/coco/iou.js';
import { rleFromString } from '../../src/detection/coco/rle.js';
import { formatSummary } from '../../src/detection/coco/summary.js';
import { fixturePath } from '../helpers/paths.js';

interface Reference {
  dataset: unknown;
  results: Array<{
    image_id: number;
    category_id: number;
    bbox: XywhBox;
    score: number;
    segmentation: { size: [number, number]; counts: string };
  }>;
  bbox: { stats: number[]; lines: string[] };
  segm: { stats: number[]; lines: string[] };
}

describe('COCO evaluation equals pycocotools on a random dataset', () => {
  const path = fixturePath('coco', 'cocoeval-reference.json');
  const reference = JSON.parse(readFileSync(path, 'utf8')) as Reference;
  const dataset = parseCocoDataset(reference.dataset, path, '/nonexistent');
  const results: CocoResult[] = reference.results.map((r) => ({
    imageId: r.image_id,
    categoryId: r.category_id,
    score: r.score,
    bbox: r.bbox,
    segmentation: rleFromString(r.segmentation.counts, r.segmentation.size[0], r.segmentation.size[1]),
  }));

  for (const iouType of ['bbox', 'segm'] as const) {
    it(`${iouType}: the 12 stats within 1e-12 and the printed lines character for character`, () => {
      const evaluation = evaluateCoco(dataset, results, iouType);
      const expected = reference[iouType];
      evaluation.stats.forEach((value, i) => {
        assert.ok(
          Math.abs(value - expected.stats[i]) < 1e-12,
          `stat ${i}: ${value} vs pycocotools ${expected.stats[i]}`,
        );
      });
      // A fixture that exercises every area range: no stat is -1.
      assert.ok(expected.stats.every((value) => value > 0));
      assert.deepEqual(formatSummary(evaluation.stats, evaluation.params), expected.lines);
    });
  }
});
