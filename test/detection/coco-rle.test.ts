/**
 * COCO RLE masks, polygons and IoUs: cases worked out by hand from maskApi.c's rules, plus the reference values of
 * pycocotools' own C code in test/fixtures/coco/maskapi-reference.json (made by tools/coco-maskapi-reference.py).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { boxIous, maskIous } from '../../src/detection/coco/iou.js';
import { rleFromPolygon, rleFromPolygons } from '../../src/detection/coco/polygon.js';
import {
  decodeRle,
  encodeMask,
  mergeRles,
  type Rle,
  rleArea,
  rleFromString,
  rleToBbox,
  rleToString,
} from '../../src/detection/coco/rle.js';
import { fixturePath } from '../helpers/paths.js';

/** An RLE of the given runs. */
const rle = (height: number, width: number, counts: number[]): Rle => ({
  height,
  width,
  counts: Uint32Array.from(counts),
});

describe('COCO RLE', () => {
  it('encodes column-major, zeros first, and decodes back to the row-major mask', () => {
    // Rows [0 1 1] / [0 0 1]: down column 0: 0 0, column 1: 1 0, column 2: 1 1 -> runs 2 zeros, 1 one, 1 zero, 2 ones.
    const mask = { width: 3, height: 2, data: Uint8Array.from([0, 1, 1, 0, 0, 1]) };
    const encoded = encodeMask(mask);
    assert.deepEqual([...encoded.counts], [2, 1, 1, 2]);
    assert.deepEqual(decodeRle(encoded), mask);
    assert.equal(rleArea(encoded), 3);
    assert.deepEqual(rleToBbox(encoded), [1, 0, 2, 2]);
    // A mask starting with a one starts with an empty run of zeros.
    assert.deepEqual(
      [...encodeMask({ width: 1, height: 2, data: Uint8Array.from([1, 0]) }).counts],
      [0, 1, 1],
    );
  });

  it('a run of ones wrapping into the next column makes the box span every row (maskApi rleToBbox)', () => {
    // 2x2 [[0 1] [1 0]]: column-major 0 1 | 1 0 -> runs [1, 2, 1]; the ones run from (x0, y1) to (x1, y0).
    assert.deepEqual(rleToBbox(rle(2, 2, [1, 2, 1])), [0, 0, 2, 2]);
    assert.deepEqual(rleToBbox(rle(4, 4, [16])), [0, 0, 0, 0]);
  });

  it('compressed strings: 5 bits a character from "0", continuation bit 0x20, runs after the third as differences', () => {
    // [5, 3, 2]: small values are one character each: '0' + 5, '0' + 3, '0' + 2.
    assert.equal(rleToString(rle(2, 5, [5, 3, 2])), '532');
    // 100 = 3 * 32 + 4: low group 4 with the continuation bit (4 | 0x20 = 36 -> 'T'), then 3 -> '3'.
    assert.equal(rleToString(rle(10, 10, [100])), 'T3');
    // [1, 10, 1, 2]: the fourth run is stored as 2 - 10 = -8: low 5 bits 24 (sign bit 0x10 set, rest -1) -> 'H'.
    // The third (1) is stored as is: deltas start at index 3, as in maskApi (i > 2).
    assert.equal(rleToString(rle(2, 7, [1, 10, 1, 2])), '1:1H');
    for (const counts of [[5, 3, 2], [100], [1, 10, 1, 2], [0, 7, 93], [4000, 1, 5000, 999, 0, 0]]) {
      const total = counts.reduce((a, b) => a + b, 0);
      const original = rle(1, total, counts);
      assert.deepEqual([...rleFromString(rleToString(original), 1, total).counts], counts);
    }
  });

  it('refuses compressed counts that do not fit the stated size or are not COCO characters', () => {
    assert.throws(
      () => rleFromString('532', 2, 6, 'ann 7'),
      /ann 7: runs cover 10 pixels, but the mask is 2x6/,
    );
    assert.throws(() => rleFromString('5~', 2, 5, 'ann 7'), /ann 7: compressed counts hold a character/);
    assert.throws(() => rleFromString('T', 10, 10, 'ann 7'), /ann 7: compressed counts end inside a number/);
    assert.throws(() => rleFromString('1H', 1, 1, 'x'), /negative run|runs cover/);
  });

  it('merges polygon parts into their union', () => {
    // 1x4 masks 1100 and 0110 -> 1110: runs [0, 3, 1].
    const a = rle(1, 4, [0, 2, 2]);
    const b = rle(1, 4, [1, 2, 1]);
    assert.deepEqual([...mergeRles([a, b]).counts], [0, 3, 1]);
    assert.deepEqual([...mergeRles([a]).counts], [0, 2, 2]);
  });
});

describe('COCO polygons', () => {
  it('an axis-aligned square with integer corners covers the pixels inside it', () => {
    // (0,0)-(10,0)-(10,10)-(0,10) on 20x20: pixel centres x + .5 in (0, 10): columns 0..9, each rows 0..9.
    const square = rleFromPolygon([0, 0, 10, 0, 10, 10, 0, 10], 20, 20);
    assert.equal(rleArea(square), 100);
    assert.deepEqual(rleToBbox(square), [0, 0, 10, 10]);
    // Column-major: each of columns 0..9 is 10 ones then 10 zeros.
    assert.deepEqual([...square.counts].slice(0, 4), [0, 10, 10, 10]);
    // The same square given clockwise or shifted by a fraction smaller than the 1/5 upsampling grid.
    assert.deepEqual(rleFromPolygon([0, 0, 0, 10, 10, 10, 10, 0], 20, 20), square);
    assert.deepEqual(rleFromPolygon([0.05, 0, 10.05, 0, 10.05, 10, 0.05, 10], 20, 20), square);
  });

  it('is clipped to the image and merges several parts', () => {
    // A square sticking out past the right and bottom edges keeps the 5x5 inside.
    assert.equal(rleArea(rleFromPolygon([5, 5, 15, 5, 15, 15, 5, 15], 10, 10)), 25);
    const two = rleFromPolygons(
      [
        [0, 0, 2, 0, 2, 2, 0, 2],
        [5, 5, 7, 5, 7, 7, 5, 7],
      ],
      10,
      10,
    );
    assert.equal(rleArea(two), 8);
    assert.deepEqual(rleToBbox(two), [0, 0, 7, 7]);
  });
});

describe('COCO IoU', () => {
  it('boxes: plain IoU, and intersection over the detection area for crowds', () => {
    // d = [0,0,10,10], g = [5,0,10,10]: intersection 50, union 150 -> 1/3; as a crowd: 50 / 100 = 1/2.
    const ious = boxIous(
      [[0, 0, 10, 10]],
      [
        [5, 0, 10, 10],
        [5, 0, 10, 10],
        [20, 20, 5, 5],
      ],
      [false, true, false],
    );
    assert.deepEqual([...ious.values], [1 / 3, 0.5, 0]);
  });

  it('masks: the same rules on pixels, -1 for masks of different sizes', () => {
    // 1x4: d = 1100, g = 0110 -> intersection 1, union 3; crowd: 1 / area(d) = 1/2.
    const d = rle(1, 4, [0, 2, 2]);
    const g = rle(1, 4, [1, 2, 1]);
    const ious = maskIous([d], [g, g], [false, true]);
    assert.deepEqual([...ious.values], [1 / 3, 0.5]);
    assert.deepEqual([...maskIous([d], [rle(2, 2, [1, 2, 1])], [false]).values], [-1]);
  });
});

describe("COCO masks against pycocotools' maskApi.c", () => {
  const path = fixturePath('coco', 'maskapi-reference.json');
  it('polygon rasterisation, compressed strings, areas, boxes and IoUs equal the C reference', () => {
    const reference = JSON.parse(readFileSync(path, 'utf8')) as {
      height: number;
      width: number;
      polygons: Array<{ xy: number[]; counts: string; area: number; bbox: number[] }>;
      ious: number[][];
      crowdIous: number[][];
    };
    const { height, width } = reference;
    const rles = reference.polygons.map(({ xy, counts, area, bbox }, i) => {
      const ours = rleFromPolygon(xy, height, width);
      assert.equal(rleToString(ours), counts, `polygon ${i}`);
      assert.equal(rleArea(ours), area, `polygon ${i} area`);
      assert.deepEqual(rleToBbox(ours), bbox, `polygon ${i} bbox`);
      assert.deepEqual(rleFromString(counts, height, width), ours);
      return ours;
    });
    const n = rles.length;
    const plain = maskIous(rles, rles, Array(n).fill(false));
    const crowd = maskIous(rles, rles, Array(n).fill(true));
    for (let d = 0; d < n; d++) {
      for (let g = 0; g < n; g++) {
        assert.ok(Math.abs(plain.values[d * n + g] - reference.ious[d][g]) < 1e-15, `iou ${d},${g}`);
        assert.ok(
          Math.abs(crowd.values[d * n + g] - reference.crowdIous[d][g]) < 1e-15,
          `crowd iou ${d},${g}`,
        );
      }
    }
  });
});
