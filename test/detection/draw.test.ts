/** Drawing detections: what lands on which pixel, and refusing masks of another size. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blankImage } from '../../src/data/image.js';
import { classColor, detectionCaption, drawDetections } from '../../src/detection/draw.js';
import { GLYPH_WIDTH, glyphPixel } from '../../src/detection/font5x8.js';
import type { Detection } from '../../src/detection/types.js';

const detection = (box: Detection['box'], extra: Partial<Detection> = {}): Detection => ({
  box,
  score: 0.876,
  label: 4,
  labelName: 'airplane',
  ...extra,
});

describe('drawDetections', () => {
  it('draws onto an RGB copy of a grayscale image and leaves the input untouched', () => {
    const gray = blankImage(40, 60, 1);
    gray.data.fill(50);
    const drawn = drawDetections(gray, [detection([10, 20, 30, 35])], { lineWidth: 1 });
    assert.equal(drawn.channels, 3);
    assert.ok(gray.data.every((v) => v === 50));
    const at = (x: number, y: number) => [...drawn.data.subarray(3 * (y * 60 + x), 3 * (y * 60 + x) + 3)];
    // 1-px outline on the box's pixel edges: x 10 and 29, y 20 and 34.
    assert.deepEqual(at(10, 25), classColor(4));
    assert.deepEqual(at(29, 25), classColor(4));
    assert.deepEqual(at(15, 34), classColor(4));
    assert.deepEqual(at(11, 25), [50, 50, 50]);
    assert.deepEqual(at(30, 25), [50, 50, 50]);
    // The tag sits above the box (rows 20 - 10 .. 19 at text scale 1).
    assert.deepEqual(at(10, 10), classColor(4));
    assert.deepEqual(at(10, 9), [50, 50, 50]);
  });

  it('puts the tag inside the box when the box touches the top edge', () => {
    const drawn = drawDetections(blankImage(40, 200, 3), [detection([100, 0, 150, 30])], { lineWidth: 1 });
    // Row 5, just right of the tag's left padding: tag colour (there is no room above row 0).
    assert.deepEqual([...drawn.data.subarray(3 * (5 * 200 + 100), 3 * (5 * 200 + 100) + 3)], classColor(4));
  });

  it('blends masks at the given opacity and refuses masks of another size', () => {
    const mask = { width: 30, height: 30, data: new Uint8Array(900).fill(1) };
    const image = blankImage(30, 30, 3);
    image.data.fill(100);
    const drawn = drawDetections(image, [detection([0, 0, 0.1, 0.1], { mask })], {
      maskAlpha: 0.25,
      lineWidth: 1,
    });
    // Pixel (20, 25) is clear of the 1x1 box and of the tag (rows 0-9): 0.75 * 100 + 0.25 * colour.
    const expected = classColor(4).map((c) => Math.round(0.75 * 100 + 0.25 * c));
    assert.deepEqual([...drawn.data.subarray(3 * (25 * 30 + 20), 3 * (25 * 30 + 21))], expected);
    const wrong = { width: 30, height: 4, data: new Uint8Array(120) };
    assert.throws(
      () => drawDetections(image, [detection([0, 0, 1, 1], { mask: wrong })]),
      /detection 0: mask is 30x4, the image 30x30/,
    );
  });

  it('captions are "class score" with two decimals, in a font where glyphs differ', () => {
    assert.equal(detectionCaption(detection([0, 0, 1, 1])), 'airplane 0.88');
    // 'I' is a centre column with serifs; '-' a single middle row; unknown characters draw '?'.
    assert.deepEqual(
      Array.from({ length: GLYPH_WIDTH }, (_, x) => glyphPixel('-', x, 3)),
      [true, true, true, true, true],
    );
    assert.equal(glyphPixel('-', 2, 0), false);
    assert.equal(glyphPixel('I', 2, 3), true);
    assert.equal(glyphPixel('I', 0, 3), false);
    const pattern = (c: string) =>
      Array.from({ length: 40 }, (_, i) => glyphPixel(c, i % 5, Math.floor(i / 5)));
    assert.deepEqual(pattern('\u00e9'), pattern('?'));
    const printable = Array.from({ length: 95 }, (_, i) => pattern(String.fromCharCode(32 + i)).join());
    assert.equal(new Set(printable).size, 95, 'every printable ASCII character has its own glyph');
  });
});
