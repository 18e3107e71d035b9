import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pngjs from 'pngjs';
import { Canvas, parseHexColor } from '../../src/render/canvas.js';
import { normalizeRange, viridis } from '../../src/render/colormap.js';
import { GLYPH_HEIGHT, textWidth } from '../../src/render/font5x7.js';
import { encodePng } from '../../src/render/png.js';

/** Bounding box [x0, y0, x1, y1] (inclusive) of the pixels that are not white. */
function inkBox(canvas: Canvas): number[] | null {
  let box: number[] | null = null;
  for (let y = 0; y < canvas.height; y++)
    for (let x = 0; x < canvas.width; x++) {
      const i = 3 * (y * canvas.width + x);
      if (canvas.image.data[i] + canvas.image.data[i + 1] + canvas.image.data[i + 2] === 765) continue;
      box = box
        ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)]
        : [x, y, x, y];
    }
  return box;
}

describe('render: colour map, canvas, bitmap font, PNG', () => {
  it("viridis runs from matplotlib's dark purple to yellow, brighter at every step", () => {
    assert.deepEqual(viridis(0), [68, 1, 84]);
    assert.deepEqual(viridis(1), [253, 231, 37]);
    assert.deepEqual(viridis(-3), viridis(0), 'clamped');
    assert.deepEqual(viridis(Number.NaN), viridis(0));
    const luminance = ([r, g, b]: number[]) => 0.299 * r + 0.587 * g + 0.114 * b;
    for (let k = 1; k <= 100; k++) assert.ok(luminance(viridis(k / 100)) > luminance(viridis((k - 1) / 100)));
  });

  it('normalizes a map to [0, 1] by its own range; constant or non-finite values give zeros', () => {
    assert.deepEqual([...normalizeRange([2, 4, 3])], [0, 1, 0.5]);
    assert.deepEqual([...normalizeRange([5, 5])], [0, 0]);
    assert.deepEqual([...normalizeRange([1, Number.NaN, 3])], [0, 0, 1]);
  });

  it('draws text where it is anchored, at its measured size, horizontally and vertically', () => {
    const canvas = new Canvas(100, 60);
    canvas.text('H1', 10, 20, [0, 0, 0], { scale: 2 });
    // 'H' starts with a full column; '1' ends one blank column before its cell's end.
    const box = inkBox(canvas)!;
    assert.equal(box[0], 10);
    assert.equal(box[3] - box[1] + 1, 2 * GLYPH_HEIGHT);
    assert.ok(box[2] < 10 + textWidth('H1', 2));
    const vertical = new Canvas(60, 100);
    vertical.text('HH', 30, 50, [0, 0, 0], { vertical: true, align: 'center' });
    const v = inkBox(vertical)!;
    assert.equal(v[2] - v[0] + 1, GLYPH_HEIGHT, 'rotated: the glyph height runs along x');
    assert.equal(v[3] - v[1] + 1, textWidth('HH'));
    assert.throws(() => parseHexColor('red'), /#rrggbb/);
  });

  it('draws dashed lines with gaps and encodes PNGs that decode to the same pixels', () => {
    const canvas = new Canvas(40, 10);
    canvas.line(0, 5, 39, 5, [255, 0, 0], { dash: [6, 4] });
    const row = Array.from({ length: 40 }, (_, x) => canvas.image.data[3 * (5 * 40 + x) + 1] === 0);
    // 6 on, 4 off along the line, sampled every half pixel and rounded to pixels: pixels 0-6 on, 7-9 off, 10-16 on.
    assert.deepEqual(
      row
        .slice(0, 18)
        .map((on, x) => (on ? x : -1))
        .filter((x) => x >= 0),
      [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16],
    );
    const png = pngjs.PNG.sync.read(Buffer.from(encodePng(canvas.image)));
    assert.deepEqual([png.width, png.height], [40, 10]);
    assert.deepEqual([...png.data.subarray(4 * (5 * 40), 4 * (5 * 40) + 4)], [255, 0, 0, 255]);
    assert.deepEqual([...png.data.subarray(4 * (5 * 40 + 7), 4 * (5 * 40 + 7) + 4)], [255, 255, 255, 255]);
  });
});
