/**
 * The COCO evaluator against hand-worked cases. Each expected number is derived in the test from pycocotools'
 * rules: per IoU threshold, detections ranked by score give cumulative TP/FP; recall = TP / (counted gts),
 * precision = TP / (TP + FP) made non-increasing from the right, read at the 101 recall points 0, .01, .., 1 (the
 * first detection whose recall reaches the point; 0 beyond the highest recall); AP averages those 101 values and
 * the thresholds .50:.05:.95; AR averages the final recall over thresholds. -1 means "no counted ground truth".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateCoco } from '../../src/detection/coco/evaluate.js';
import { defaultCocoParams, linspace } from '../../src/detection/coco/params.js';
import { encodeMask } from '../../src/detection/coco/rle.js';
import { formatSummary, pythonFixed3 } from '../../src/detection/coco/summary.js';
import { cocoDataset, det } from './_coco.js';

/** The summary's names, for readable assertions. */
const NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];

function assertStats(actual: number[], expected: Record<string, number>): void {
  for (const [name, value] of Object.entries(expected)) {
    const got = actual[NAMES.indexOf(name)];
    assert.ok(Math.abs(got - value) < 1e-12, `${name}: got ${got}, expected ${value}`);
  }
}

/** Mean of the 101-point precision curve whose value is `p(r)` at recall point r = i/100. */
function ap101(p: (r: number) => number): number {
  let sum = 0;
  for (let i = 0; i <= 100; i++) sum += p(i / 100);
  return sum / 101;
}

describe('COCO parameters are the doubles pycocotools uses', () => {
  it('10 IoU thresholds .50:.05:.95 and 101 recall points, as numpy linspace computes them', () => {
    const p = defaultCocoParams([3, 1, 3], [2, 1]);
    assert.deepEqual(p.imgIds, [1, 3]);
    assert.deepEqual(p.catIds, [1, 2]);
    assert.equal(p.iouThrs.length, 10);
    assert.equal(p.recThrs.length, 101);
    // linspace(.5, .95, 10): i * ((.95 - .5) / 9) + .5; 0.75 and 0.5 must be exact (summarize selects them by ==).
    assert.equal(p.iouThrs[0], 0.5);
    assert.equal(p.iouThrs[5], 0.75);
    assert.equal(p.iouThrs[9], 0.95);
    // numpy's values (printed by numpy 2.4 for linspace(.5, .95, 10)): 0.9 is 0.8999999999999999 there too.
    assert.deepEqual(p.iouThrs, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
    assert.equal(p.recThrs[35], 35 * 0.01); // not 0.35: numpy multiplies by the step
    assert.notEqual(35 * 0.01, 0.35);
    assert.deepEqual(linspace(0, 1, 3), [0, 0.5, 1]);
  });
});

describe('COCO bbox evaluation: hand-worked cases', () => {
  it('two objects, a false positive between two true positives, one match only at IoU <= .70', () => {
    // g1 = [0,0,10,10], g2 = [50,50,10,10] (areas 100: small). d1 (.9) = g1: IoU 1. d2 (.8) overlaps nothing.
    // d3 (.7) = [50,50,10,7.2]: IoU 72 / 100 = .72, a match at t = .50 .. .70 (5 thresholds), a miss above.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [50, 50, 10, 10] }]);
    const results = [det(0.9, [0, 0, 10, 10]), det(0.8, [20, 20, 10, 10]), det(0.7, [50, 50, 10, 7.2])];
    const { stats } = evaluateCoco(dataset, results, 'bbox');
    // t <= .70: TP FP TP -> recall .5 .5 1, precision 1 .5 .667 -> monotone 1 .667 .667:
    //   points r <= .5 (51 of them) read 1, points r > .5 (50) read 2/3.
    const apMatched = ap101((r) => (r <= 0.5 ? 1 : 2 / 3)); // (51 + 100/3) / 101 = 0.83498
    // t >= .75: TP FP FP -> recall .5 .5 .5, precision 1 .5 .333: points r <= .5 read 1, the rest 0.
    const apMissed = ap101((r) => (r <= 0.5 ? 1 : 0)); // 51 / 101 = 0.50495
    assert.ok(Math.abs(apMatched - 0.834983) < 1e-6 && Math.abs(apMissed - 0.50495) < 1e-6);
    assertStats(stats, {
      AP: (5 * apMatched + 5 * apMissed) / 10, // 0.66997
      AP50: apMatched,
      AP75: apMissed,
      APs: (5 * apMatched + 5 * apMissed) / 10,
      APm: -1, // no ground truth of medium or large area: the category has nothing counted there
      APl: -1,
      AR1: 0.5, // only d1 is kept: recall 1/2 at every threshold
      AR10: (5 * 1 + 5 * 0.5) / 10, // 0.75
      AR100: 0.75,
      ARs: 0.75,
      ARm: -1,
      ARl: -1,
    });
  });

  it('prints the 12 lines exactly as pycocotools does', () => {
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [50, 50, 10, 10] }]);
    const results = [det(0.9, [0, 0, 10, 10]), det(0.8, [20, 20, 10, 10]), det(0.7, [50, 50, 10, 7.2])];
    const evaluation = evaluateCoco(dataset, results, 'bbox');
    assert.deepEqual(formatSummary(evaluation.stats, evaluation.params), [
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.670',
      ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.835',
      ' Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.505',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.670',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.500',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 0.750',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.750',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 0.750',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000',
    ]);
  });

  it("rounds three-decimal ties to even like Python's format", () => {
    assert.equal(pythonFixed3(0.0625), '0.062'); // JavaScript's toFixed gives 0.063
    assert.equal(pythonFixed3(0.1875), '0.188');
    assert.equal(pythonFixed3(0.3125), '0.312');
    assert.equal(pythonFixed3(2 / 3), '0.667');
    assert.equal(pythonFixed3(-1), '-1.000');
  });

  it('an IoU exactly at a threshold is a match (pycocotools skips only IoU < t)', () => {
    // [0,0,10,10] against the gt [0,0,10,5]: intersection 50, union 100 -> IoU .5 exactly = iouThrs[0].
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 5] }]);
    const { stats } = evaluateCoco(dataset, [det(0.9, [0, 0, 10, 10])], 'bbox');
    // A match at t = .5 only: AP 1 there, 0 at the other nine thresholds.
    assertStats(stats, { AP: 0.1, AP50: 1, AP75: 0, AR100: 0.1 });
  });

  it('each ground truth is matched once: the second detection on the same object is a false positive', () => {
    // Both detections equal the gt (IoU 1): the higher score takes it, the other is FP at every threshold.
    // Ranking TP FP: recall 1 1, precision 1 .5 -> every recall point reads 1: AP 1; the duplicate costs nothing
    // because it ranks below the match.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }]);
    const above = evaluateCoco(dataset, [det(0.9, [0, 0, 10, 10]), det(0.8, [0, 0, 10, 10])], 'bbox');
    assertStats(above.stats, { AP: 1, AR1: 1 });
    // A false positive ranked first: FP TP -> recall 0 1, precision 0 .5 -> monotone .5 .5: AP .5 everywhere.
    const below = evaluateCoco(dataset, [det(0.9, [40, 40, 10, 10]), det(0.8, [0, 0, 10, 10])], 'bbox');
    assertStats(below.stats, { AP: 0.5, AP50: 0.5, AR1: 0, AR10: 1 });
  });

  it('a detection takes the unmatched ground truth of highest IoU, not the first one', () => {
    // gt A = [0,0,10,10], gt B = [2,0,10,10]. d (.9) = [2,0,10,10]: IoU with A = 80/120 = .667, with B = 1 -> B.
    // d2 (.8) = [0,0,10,10] then takes A (IoU 1). Both TP at every threshold: AP 1. Had d taken A (first IoU >= .5),
    // d2 would have found A taken and B at .667 only: a miss at t >= .70.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [2, 0, 10, 10] }]);
    const { stats } = evaluateCoco(dataset, [det(0.9, [2, 0, 10, 10]), det(0.8, [0, 0, 10, 10])], 'bbox');
    assertStats(stats, { AP: 1, AR100: 1 });
  });

  it('detections of several images are ranked together by score', () => {
    // Image 1: gt [0,0,10,10], detection (.6) on it. Image 2: gt [0,0,10,10], a FP (.9) and a TP (.3).
    // Pooled ranking: FP(.9) TP(.6) TP(.3): recall 0 .5 1, precision 0 .5 .667 -> monotone .667 .667 .667:
    // AP = 2/3 at every threshold.
    const images = { images: [{ id: 1 }, { id: 2 }] };
    const dataset = cocoDataset(
      [
        { bbox: [0, 0, 10, 10], image: 1 },
        { bbox: [0, 0, 10, 10], image: 2 },
      ],
      images,
    );
    const results = [det(0.6, [0, 0, 10, 10], 1), det(0.9, [50, 50, 10, 10], 2), det(0.3, [0, 0, 10, 10], 2)];
    const { stats } = evaluateCoco(dataset, results, 'bbox');
    // AR1 keeps each image's best: image 1's TP and image 2's FP -> recall 1/2.
    assertStats(stats, { AP: 2 / 3, AP50: 2 / 3, AR1: 0.5, AR10: 1 });
  });
});

describe('COCO evaluation: crowds', () => {
  it('a detection inside a crowd region is ignored, however many; crowd IoU = intersection / detection area', () => {
    // g = [0,0,20,20] (counted); crowd = [50,0,50,50] (area 2500). d1 (.9) = [60,10,10,10] and d3 (.7) =
    // [70,20,10,10] lie inside the crowd: IoU 100/100 = 1 (a plain IoU would be 100/2500 = .04, a false positive).
    // Both match the crowd (crowds are never used up) and are ignored. d2 (.8) = g: TP.
    // Ranking ignored, TP, ignored: cumulative TP 0 1 1, FP 0 0 0 -> recall 0 1 1, precision 0 1 1 -> monotone
    // 1 1 1: AP 1 and AR 1. Without crowd handling d1 would rank first as FP and AP would be .5.
    const dataset = cocoDataset([{ bbox: [0, 0, 20, 20] }, { bbox: [50, 0, 50, 50], iscrowd: 1 }]);
    const results = [det(0.9, [60, 10, 10, 10]), det(0.8, [0, 0, 20, 20]), det(0.7, [70, 20, 10, 10])];
    const { stats } = evaluateCoco(dataset, results, 'bbox');
    assertStats(stats, { AP: 1, AP50: 1, AR1: 0, AR10: 1, AR100: 1 });
  });

  it('a detection matched to a counted object does not move to a crowd; one that misses it falls back to the crowd', () => {
    // g = [0,0,10,10]; crowd = [0,0,10,20] (area 200). d (.9) = [0,0,10,16]: IoU with g = 100/160 = .625, with the
    // crowd 160/160 = 1. Counted objects are tried first and, once one is held, ignored ones are not tried: TP at
    // t = .50 .. .60 (3 thresholds). Above, g fails and the crowd takes d: ignored, not FP, so no FP either.
    // t <= .60: TP -> AP 1. t >= .65: nothing counted is found: recall 0 -> AP 0.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [0, 0, 10, 20], iscrowd: 1 }]);
    const evaluation = evaluateCoco(dataset, [det(0.9, [0, 0, 10, 16])], 'bbox');
    assertStats(evaluation.stats, { AP: 0.3, AP50: 1, AP75: 0, AR100: 0.3 });
    // The precision at t = .75 is 0 (not -1): the category has a counted object.
    assert.equal(evaluation.precision[0 + 5 * 101 * 4 * 3], 0);
  });

  it('crowd-only images: their detections are ignored inside the crowd, false positives outside', () => {
    // Image 1: g = [0,0,10,10] with a TP (.5). Image 2: only a crowd [0,0,50,50].
    // Inside (.9, [10,10,10,10]): ignored -> ranking ignored, TP: precision 1 at recall 1 -> AP 1.
    // Outside (.9, [60,60,10,10]): FP, TP -> precision 0 .5 -> monotone .5 .5 -> AP .5.
    const images = { images: [{ id: 1 }, { id: 2 }] };
    const dataset = cocoDataset(
      [
        { bbox: [0, 0, 10, 10], image: 1 },
        { bbox: [0, 0, 50, 50], image: 2, iscrowd: 1 },
      ],
      images,
    );
    const tp = det(0.5, [0, 0, 10, 10], 1);
    assertStats(evaluateCoco(dataset, [tp, det(0.9, [10, 10, 10, 10], 2)], 'bbox').stats, { AP: 1 });
    assertStats(evaluateCoco(dataset, [tp, det(0.9, [60, 60, 10, 10], 2)], 'bbox').stats, { AP: 0.5 });
  });

  it('a dataset whose only objects are crowds has nothing to score: every number is -1', () => {
    const dataset = cocoDataset([{ bbox: [0, 0, 50, 50], iscrowd: 1 }]);
    const { stats } = evaluateCoco(dataset, [det(0.9, [10, 10, 10, 10]), det(0.8, [60, 60, 10, 10])], 'bbox');
    assert.deepEqual(stats, Array(12).fill(-1));
  });
});

describe('COCO evaluation: edge cases', () => {
  it('no detections: AP and AR 0 for categories with objects', () => {
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [0, 0, 40, 40] }]);
    const { stats } = evaluateCoco(dataset, [], 'bbox');
    // Small (100) and medium (1600) objects exist; no large one -> -1 there.
    assert.deepEqual(stats, [0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, -1]);
  });

  it('empty categories (no objects, with or without detections) do not enter the means', () => {
    // Category 1 as in the single-object case (AP 1); category 2 has no objects, only a detection: -1, left out.
    // Category 3 has neither. Means over categories with objects: AP 1, not 1/2 or 1/3.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }], { categories: ['a', 'b', 'c'] });
    const results = [det(0.9, [0, 0, 10, 10]), det(0.95, [0, 0, 10, 10], 1, 2)];
    const evaluation = evaluateCoco(dataset, results, 'bbox');
    assertStats(evaluation.stats, { AP: 1, AP50: 1, AR100: 1 });
    // recall[t=0][k][a=all][m=100] for the three categories: 1, -1, -1.
    const recallAt = (k: number) => evaluation.recall[((0 * 3 + k) * 4 + 0) * 3 + 2];
    assert.deepEqual([recallAt(0), recallAt(1), recallAt(2)], [1, -1, -1]);
  });

  it('maxDets truncation: AR1/AR10 keep the top 1/10 per image, and only the top 100 are evaluated at all', () => {
    // One object; a FP (.9) ranked above the TP (.8). AR1: only the FP -> 0; AR10: 1. AP: FP TP -> .5.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }]);
    const two = evaluateCoco(dataset, [det(0.9, [50, 50, 5, 5]), det(0.8, [0, 0, 10, 10])], 'bbox');
    assertStats(two.stats, { AP: 0.5, AR1: 0, AR10: 1, AR100: 1 });
    // 100 FPs (scores .500 .. .599) above the TP (.4): the TP is the 101st and is cut -> AP 0, AR100 0.
    const many = Array.from({ length: 100 }, (_, i) => det(0.5 + i / 1000, [60 + (i % 30), 60, 5, 5]));
    const cut = evaluateCoco(dataset, [...many, det(0.4, [0, 0, 10, 10])], 'bbox');
    assertStats(cut.stats, { AP: 0, AR100: 0 });
    // With 99 FPs it is the 100th and kept: FP x99 then TP -> recall 1 at precision 1/100; every recall point
    // reads .01 -> AP .01; AR10 is still 0.
    const kept = evaluateCoco(dataset, [...many.slice(1), det(0.4, [0, 0, 10, 10])], 'bbox');
    assertStats(kept.stats, { AP: 0.01, AR10: 0, AR100: 1 });
  });

  it('area ranges: objects outside the range are ignored, and so are unmatched detections outside it', () => {
    // g_small = [0,0,10,10] (area 100), g_medium = [100,100,40,40] (area 1600), image 300x300.
    // d1 (.9) = g_medium, d2 (.8) = [250,250,10,10] (a small FP), d3 (.7) = g_small.
    // all:    TP FP TP -> precision 1 .667 .667 at recall .5 .5 1 -> (51 + 50 * 2/3) / 101 = .83498 at every t.
    // small:  d1 matches the ignored g_medium -> ignored; FP; TP -> recall 0 1, precision 0 .5 -> AP .5.
    // medium: TP; d2 unmatched and small -> ignored; d3 matches the ignored g_small -> ignored -> AP 1.
    // large:  nothing counted -> -1.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }, { bbox: [100, 100, 40, 40] }], {
      images: [{ id: 1, width: 300, height: 300 }],
    });
    const results = [det(0.9, [100, 100, 40, 40]), det(0.8, [250, 250, 10, 10]), det(0.7, [0, 0, 10, 10])];
    const { stats } = evaluateCoco(dataset, results, 'bbox');
    const all = ap101((r) => (r <= 0.5 ? 1 : 2 / 3));
    assertStats(stats, {
      AP: all,
      APs: 0.5,
      APm: 1,
      APl: -1,
      AR1: 0.5, // d1 only: one of the two objects
      AR100: 1,
      ARs: 1,
      ARm: 1,
      ARl: -1,
    });
  });

  it('uses the stored area, not the box, to place an object in a range', () => {
    // A 40x40 box whose stored (mask) area is 900 is a small object: APs 1, APm -1.
    const dataset = cocoDataset([{ bbox: [0, 0, 40, 40], area: 900 }]);
    const { stats } = evaluateCoco(dataset, [det(0.9, [0, 0, 40, 40])], 'bbox');
    assertStats(stats, { APs: 1, APm: -1 });
  });

  it('refuses detections on images the dataset does not have, naming them', () => {
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10] }]);
    assert.throws(
      () => evaluateCoco(dataset, [det(0.9, [0, 0, 10, 10], 7)], 'bbox'),
      /image id 7.*not in test\.json/,
    );
    const withPolygon = cocoDataset([{ bbox: [0, 0, 10, 10], segmentation: [[0, 0, 10, 0, 10, 10, 0, 10]] }]);
    assert.throws(
      () => evaluateCoco(withPolygon, [det(0.9, [0, 0, 10, 10])], 'segm'),
      /no mask: segm evaluation/,
    );
    assert.throws(() => evaluateCoco(dataset, [], 'segm'), /annotation id 1 has no segmentation/);
  });
});

describe('COCO segm evaluation', () => {
  /** A row-major 100x100 mask with the rectangle x in [x0, x1), y in [y0, y1) set. */
  function rectMask(x0: number, y0: number, x1: number, y1: number) {
    const data = new Uint8Array(100 * 100);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * 100 + x] = 1;
    return encodeMask({ width: 100, height: 100, data });
  }

  it('mask IoU against a polygon ground truth: half the square is a match at .50 only', () => {
    // The polygon (0,0)-(10,0)-(10,10)-(0,10) rasterises to pixels x, y in 0..9 (area 100). The detection mask
    // covers x 0..4, y 0..9: IoU 50/100 = .5 -> a match at t = .5 only -> AP .1, AP50 1, AP75 0.
    const dataset = cocoDataset([{ bbox: [0, 0, 10, 10], segmentation: [[0, 0, 10, 0, 10, 10, 0, 10]] }]);
    const result = {
      imageId: 1,
      categoryId: 1,
      score: 0.9,
      bbox: [0, 0, 5, 10] as const,
      segmentation: rectMask(0, 0, 5, 10),
    };
    const { stats } = evaluateCoco(dataset, [result], 'segm');
    assertStats(stats, { AP: 0.1, AP50: 1, AP75: 0 });
    // The same detection scored by boxes: [0,0,5,10] against [0,0,10,10] is also .5.
    assertStats(evaluateCoco(dataset, [result], 'bbox').stats, { AP: 0.1 });
  });

  it('a mask detection inside a crowd RLE ground truth is ignored; masks decide, not boxes', () => {
    // Crowd: an uncompressed RLE of the rectangle x 50..99, y 0..99 (column-major: 5000 zeros, then 5000 ones).
    // d1 (.9): mask x 60..69, y 0..9, inside the crowd -> crowd IoU 100/100 = 1 -> ignored.
    // d2 (.8): a mask equal to the polygon object -> TP. Ranking ignored, TP -> AP 1.
    const dataset = cocoDataset([
      { bbox: [0, 0, 10, 10], segmentation: [[0, 0, 10, 0, 10, 10, 0, 10]] },
      { bbox: [50, 0, 50, 100], iscrowd: 1, segmentation: { size: [100, 100], counts: [5000, 5000] } },
    ]);
    const results = [
      {
        imageId: 1,
        categoryId: 1,
        score: 0.9,
        bbox: [60, 0, 10, 10] as const,
        segmentation: rectMask(60, 0, 70, 10),
      },
      {
        imageId: 1,
        categoryId: 1,
        score: 0.8,
        bbox: [0, 0, 10, 10] as const,
        segmentation: rectMask(0, 0, 10, 10),
      },
    ];
    assertStats(evaluateCoco(dataset, results, 'segm').stats, { AP: 1, AR100: 1 });
  });
});
