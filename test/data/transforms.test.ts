import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RawImage } from '../../src/data/image.js';
import { toGrayscale, toRgb } from '../../src/data/image.js';
import { writeNormalized } from '../../src/data/preprocessing.js';
import { resizeBilinear } from '../../src/data/resize.js';
import { sampleRng } from '../../src/data/seeding.js';
import {
  applyTransform,
  applyTransforms,
  centerCrop,
  flipHorizontal,
  padImage,
  randomResizedCropBox,
  resizeShorter,
  roundHalfEven,
  type TransformOp,
} from '../../src/data/transforms.js';
import { Rng } from '../../src/nn/init.js';

function gray(height: number, width: number, values: number[]): RawImage {
  return { data: Uint8Array.from(values), height, width, channels: 1 };
}

function ramp(height: number, width: number): RawImage {
  return gray(
    height,
    width,
    Array.from({ length: height * width }, (_, i) => i % 256),
  );
}

describe('image transforms (torchvision semantics)', () => {
  it('rounds halves to even like Python round()', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
  });

  it('pads with zeros, flips, converts gray <-> RGB with PIL luma', () => {
    const padded = padImage(gray(1, 2, [7, 9]), 1, 2);
    assert.deepEqual([padded.height, padded.width], [3, 6]);
    assert.deepEqual(Array.from(padded.data), [0, 0, 0, 0, 0, 0, 0, 0, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(flipHorizontal(gray(1, 3, [1, 2, 3])).data), [3, 2, 1]);
    const rgb = toRgb(gray(1, 1, [200]));
    assert.deepEqual(Array.from(rgb.data), [200, 200, 200]);
    // PIL: L = (R*299 + G*587 + B*114) / 1000 -> (255, 0, 0) -> 76, (0, 255, 0) -> 150, (0, 0, 255) -> 29.
    const colours: RawImage = {
      data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]),
      height: 1,
      width: 3,
      channels: 3,
    };
    assert.deepEqual(Array.from(toGrayscale(colours).data), [76, 150, 29]);
  });

  it("resizes with PIL's antialiased bilinear filter (hand-computed taps)", () => {
    // 4 -> 2: support 2, weights [3/7, 3/7, 1/7] and [1/7, 3/7, 3/7].
    assert.deepEqual(Array.from(resizeBilinear(gray(1, 4, [0, 70, 140, 210]), 1, 2).data), [50, 160]);
    // 2 -> 4: plain half-pixel bilinear, edges clamped.
    assert.deepEqual(Array.from(resizeBilinear(gray(1, 2, [0, 100]), 1, 4).data), [0, 25, 75, 100]);
    const flat = gray(5, 7, new Array(35).fill(123));
    assert.ok(
      resizeBilinear(flat, 3, 11).data.every((v) => v === 123),
      'a constant image stays constant',
    );
    const same = ramp(4, 4);
    assert.deepEqual(resizeBilinear(same, 4, 4).data, same.data);
  });

  it('Resize(int) keeps the aspect ratio like torchvision (longer side truncated)', () => {
    const resized = resizeShorter(ramp(300, 451), 256);
    assert.deepEqual([resized.height, resized.width], [256, Math.trunc((256 * 451) / 300)]);
    const tall = resizeShorter(ramp(500, 375), 256);
    assert.deepEqual([tall.height, tall.width], [341, 256]);
  });

  it('CenterCrop uses round((H - h) / 2) with ties to even, and pads small images', () => {
    const image = ramp(5, 5);
    const crop = centerCrop(image, 2);
    // (5 - 2) / 2 = 1.5 -> 2
    assert.deepEqual(Array.from(crop.data), [12, 13, 17, 18]);
    const small = centerCrop(gray(1, 1, [9]), 3);
    assert.deepEqual(Array.from(small.data), [0, 0, 0, 0, 9, 0, 0, 0, 0]);
  });

  it('RandomCrop(32, padding=4) draws top then left uniformly in [0, 8]', () => {
    const image = ramp(32, 32);
    const rng = new Rng(5);
    const probe = new Rng(5);
    const top = Math.floor(probe.uniform() * 9);
    const left = Math.floor(probe.uniform() * 9);
    const out = applyTransform(image, { op: 'randomCrop', size: 32, padding: 4 }, rng);
    const padded = padImage(image, 4, 4);
    assert.equal(out.data[0], padded.data[top * 40 + left]);
    assert.equal(out.data[31 * 32 + 31], padded.data[(top + 31) * 40 + left + 31]);
  });

  it('RandomResizedCrop boxes follow get_params: inside the image, area and ratio in range, centre fallback', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) {
      const [top, left, h, w] = randomResizedCropBox(375, 500, [0.08, 1], [3 / 4, 4 / 3], rng);
      assert.ok(top >= 0 && left >= 0 && top + h <= 375 && left + w <= 500);
      assert.ok(h * w >= 0.08 * 375 * 500 * 0.97 && h * w <= 375 * 500);
      assert.ok(w / h > (3 / 4) * 0.95 && w / h < (4 / 3) * 1.05);
    }
    // A 1x100 strip cannot fit any box of ratio in [3/4, 4/3] with area >= 8: centre crop with the ratio clamped.
    assert.deepEqual(randomResizedCropBox(1, 100, [0.5, 1], [3 / 4, 4 / 3], new Rng(2)), [0, 49, 1, 1]);
  });

  it('pipelines are deterministic per (seed, epoch, sample) and differ across samples', () => {
    const ops: TransformOp[] = [
      { op: 'randomResizedCrop', size: 24, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
      { op: 'randomHorizontalFlip', p: 0.5 },
    ];
    const image: RawImage = {
      data: Uint8Array.from({ length: 40 * 50 * 3 }, (_, i) => (i * 7) % 256),
      height: 40,
      width: 50,
      channels: 3,
    };
    const a = applyTransforms(image, ops, sampleRng(3, 1, 17));
    const b = applyTransforms(image, ops, sampleRng(3, 1, 17));
    assert.deepEqual(a.data, b.data);
    const others = [sampleRng(3, 1, 18), sampleRng(3, 2, 17), sampleRng(4, 1, 17)].map((rng) =>
      applyTransforms(image, ops, rng),
    );
    for (const other of others) assert.notDeepEqual(other.data, a.data);
  });

  it('ToTensor + Normalize in float32, grayscale replicated to RGB', () => {
    const out = new Float32Array(2 * 3);
    writeNormalized(gray(1, 2, [0, 255]), [0.5, 0.25, 0], [0.5, 0.25, 1], out, 0);
    assert.deepEqual(Array.from(out), [-1, -1, 0, 1, 3, 1]);
    const f = Math.fround;
    const one = new Float32Array(3);
    writeNormalized(
      { data: Uint8Array.from([10, 20, 30]), height: 1, width: 1, channels: 3 },
      [0.485, 0.456, 0.406],
      [0.229, 0.224, 0.225],
      one,
      0,
    );
    assert.equal(one[0], f(f(f(10 / 255) - f(0.485)) / f(0.229)));
    assert.throws(
      () => writeNormalized(gray(2, 2, [1, 2, 3, 4]), [0, 0, 0], [1, 1, 1], new Float32Array(12), 1),
      /does not fit/,
    );
  });
});
