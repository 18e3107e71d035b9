/** The COCO annotation reader: what it keeps, and errors that name the file, entry and field of bad input. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  annotationRle,
  cocoSplitPaths,
  loadCocoDataset,
  parseCocoDataset,
} from '../../src/detection/coco/dataset.js';
import { rleArea, rleToBbox } from '../../src/detection/coco/rle.js';
import { tempDir } from '../data/_files.js';
import { cocoJson } from './_coco.js';

/** An annotation JSON the tests edit freely (to make it wrong). */
// biome-ignore lint/suspicious/noExplicitAny: the point is to write fields of any type
type EditableJson = Record<string, any>;

/** parseCocoDataset of a JSON edited by `edit`. */
function parseEdited(edit: (json: EditableJson) => void) {
  const json = cocoJson([
    { bbox: [0, 0, 10, 10], segmentation: [[0, 0, 10, 0, 10, 10, 0, 10]] },
  ]) as EditableJson;
  edit(json);
  return parseCocoDataset(json, 'ann.json', '/images');
}

describe('COCO annotation files', () => {
  it('reads images, categories and objects; crowd flags, default areas, polygon and RLE masks', () => {
    const dataset = parseEdited((json) => {
      delete json.annotations[0].area;
      json.annotations.push({
        id: 9,
        image_id: 1,
        category_id: 1,
        bbox: [50, 0, 50, 100],
        iscrowd: 1,
        area: 5000,
        segmentation: { size: [100, 100], counts: [5000, 5000] },
      });
    });
    assert.deepEqual(dataset.images, [{ id: 1, fileName: 'image1.png', width: 100, height: 100 }]);
    assert.deepEqual(dataset.categories, [{ id: 1, name: 'cat' }]);
    const [object, crowd] = dataset.annotations;
    assert.equal(object.area, 100); // no stored area: the box's
    assert.equal(object.iscrowd, false);
    assert.equal(crowd.iscrowd, true);
    assert.equal(rleArea(annotationRle(dataset, object)), 100);
    assert.deepEqual(rleToBbox(annotationRle(dataset, crowd)), [50, 0, 50, 100]);
  });

  it('reads a first polygon of exactly 4 numbers as boxes, as pycocotools does', () => {
    // [x, y, w, h] = [10, 20, 5, 4] -> the box's corner polygon -> 5 x 4 pixels.
    const dataset = parseEdited((json) => {
      json.annotations[0].segmentation = [[10, 20, 5, 4]];
    });
    const rle = annotationRle(dataset, dataset.annotations[0]);
    assert.deepEqual(rleToBbox(rle), [10, 20, 5, 4]);
    assert.equal(rleArea(rle), 20);
  });

  it('finds the standard layout under a root', () => {
    assert.deepEqual(cocoSplitPaths('/coco'), {
      annotations: join('/coco', 'annotations', 'instances_val2017.json'),
      images: join('/coco', 'val2017'),
    });
  });

  const bad: Array<[string, (json: EditableJson) => void, RegExp]> = [
    ['no images list', (j) => delete j.images, /ann\.json: "images" must be a list, got undefined/],
    [
      'an image without a size',
      (j) => delete j.images[0].width,
      /images\[0\]\.width must be an integer >= 1/,
    ],
    [
      'a file name leaving the folder',
      (j) => (j.images[0].file_name = '../../etc/passwd'),
      /images\[0\]\.file_name "\.\.\/\.\.\/etc\/passwd" leaves the image folder/,
    ],
    ['an absolute file name', (j) => (j.images[0].file_name = '/etc/passwd'), /leaves the image folder/],
    ['a duplicate image id', (j) => j.images.push({ ...j.images[0] }), /"images" has id 1 twice/],
    [
      'an object of an unknown image',
      (j) => (j.annotations[0].image_id = 5),
      /annotations\[0\]\.image_id 5 is not in "images"/,
    ],
    [
      'an object of an unknown category',
      (j) => (j.annotations[0].category_id = 7),
      /annotations\[0\]\.category_id 7 is not in "categories"/,
    ],
    [
      'a box of 3 numbers',
      (j) => (j.annotations[0].bbox = [1, 2, 3]),
      /annotations\[0\]\.bbox must be \[x, y, width, height\], got list of 3 items/,
    ],
    [
      'a NaN-like area',
      (j) => (j.annotations[0].area = 'big'),
      /annotations\[0\]\.area must be a number, got "big"/,
    ],
    ['iscrowd 2', (j) => (j.annotations[0].iscrowd = 2), /annotations\[0\]\.iscrowd must be 0 or 1, got 2/],
    [
      'an odd polygon',
      (j) => (j.annotations[0].segmentation = [[1, 2, 3]]),
      /annotations\[0\]\.segmentation\[0\] must be a polygon/,
    ],
    [
      'an RLE without size',
      (j) => (j.annotations[0].segmentation = { counts: 'abc' }),
      /annotations\[0\]\.segmentation\.size must be \[height, width\]/,
    ],
  ];
  for (const [what, edit, message] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parseEdited(edit), message));
  }

  it('refuses masks it cannot build: RLE runs that do not fill the size, polygons with huge coordinates', () => {
    const shortRle = parseEdited(
      (j) => (j.annotations[0].segmentation = { size: [10, 10], counts: [50, 20] }),
    );
    assert.throws(
      () => annotationRle(shortRle, shortRle.annotations[0]),
      /annotation id 1: runs cover 70 pixels, but the mask is 10x10 = 100/,
    );
    const huge = parseEdited((j) => (j.annotations[0].segmentation = [[0, 0, 1e12, 0, 1e12, 1e12]]));
    assert.throws(
      () => annotationRle(huge, huge.annotations[0]),
      /ann\.json: annotation id 1: polygon: its outline is .* points on the 5x grid, over 20000000/,
    );
  });

  it('names the file when it cannot be read or is not JSON', async () => {
    const dir = tempDir('rla-coco-json-');
    await assert.rejects(
      loadCocoDataset({ annotations: join(dir, 'missing.json'), images: dir }),
      /cannot read COCO annotations .*missing\.json/,
    );
    writeFileSync(join(dir, 'broken.json'), '{"images": [');
    await assert.rejects(
      loadCocoDataset({ annotations: join(dir, 'broken.json'), images: dir }),
      /broken\.json: not valid JSON/,
    );
  });
});
