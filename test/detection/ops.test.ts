/** The detection building blocks on hand-worked cases (the parity tests cover them on real data). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { baseAnchors, gridAnchors } from '../../src/detection/anchors.js';
import { multiclassNms } from '../../src/detection/bbox-head.js';
import { decodeDeltas } from '../../src/detection/box-coder.js';
import { RLADetector } from '../../src/detection/detector.js';
import { pasteMask } from '../../src/detection/mask-paste.js';
import { batchedNms, nms } from '../../src/detection/nms.js';
import { prepareImage, rescaleSize, resizeLinear } from '../../src/detection/preprocess.js';
import { roiAlign, roiLevels } from '../../src/detection/roi-align.js';
import { initBackend } from '../../src/engine/backend.js';
import { assertClose, assertNoLeak } from '../helpers/tensors.js';
import { tinyConfig } from './fixtures.js';

describe('detection building blocks', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('anchors: centre offset 0, unrounded sizes, ratio-major order, shifted by col/row * stride', () => {
    const base = baseAnchors(4, [0.5, 1, 2], [8]);
    const r = Math.SQRT2 * 16; // ratio 0.5: w = 4 * sqrt(2) * 8, h = 4 / sqrt(2) * 8
    assertClose(base, [-r, -r / 2, r, r / 2, -16, -16, 16, 16, -r / 2, -r, r / 2, r], 1e-4, 'base anchors');
    const grid = gridAnchors(base, 4, 2, 3);
    // Cell (row 1, col 2), anchor 1 (ratio 1): shift (8, 4).
    const at = ((1 * 3 + 2) * 3 + 1) * 4;
    assert.deepEqual(Array.from(grid.subarray(at, at + 4)), [-8, -12, 24, 20]);
  });

  it('delta coder: zero deltas keep the box, dw/dh clamp at log(1000/16), boxes clip to the image', () => {
    const rois = Float32Array.from([10, 10, 30, 50]);
    assertClose(
      decodeDeltas(rois, new Float32Array(4), [1, 1, 1, 1], [100, 100]),
      [10, 10, 30, 50],
      0,
      'identity',
    );
    const wide = decodeDeltas(rois, Float32Array.from([0, 0, 10, 0]), [1, 1, 1, 1], [1000, 5000]);
    // Width 20 * exp(log(62.5)) = 1250 around x = 20: [-605, 645] clipped to [0, 645].
    assertClose(wide, [0, 10, 645, 50], 1e-3, 'clamped and clipped');
    // Class-specific deltas with stds: dx 1 * 0.1 moves by 0.1 * width.
    const moved = decodeDeltas(
      rois,
      Float32Array.from([0, 0, 0, 0, 1, 0, 0, 0]),
      [0.1, 0.1, 0.2, 0.2],
      [100, 100],
    );
    assertClose(moved, [10, 10, 30, 50, 12, 10, 32, 50], 1e-5, 'two classes');
  });

  it('NMS suppresses only IoU strictly above the threshold, per group, and returns kept boxes by score', () => {
    const boxes = Float32Array.from([0, 0, 2, 1, 0, 0, 1, 1, 5, 5, 6, 6]); // IoU(0, 1) = 0.5 exactly
    const scores = [0.9, 0.8, 0.95];
    assert.deepEqual(nms(boxes, scores, 0.5), [2, 0, 1]);
    assert.deepEqual(nms(boxes, scores, 0.49), [2, 0]);
    assert.deepEqual(batchedNms(boxes, scores, [0, 1, 0], 0.3), [2, 0, 1]);
    assert.deepEqual(batchedNms(boxes, scores, [0, 0, 0], 0.3), [2, 0]);
  });

  it('multiclass NMS: candidates strictly above score_thr, class-specific boxes, max_per_img', () => {
    const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 20, 20, 1, 1, 10, 10, 0, 0, 20, 20]);
    const scores = Float32Array.from([0.05, 0.7, 0.6, 0.3]); // 2 boxes x 2 classes; 0.05 is not > 0.05
    const all = multiclassNms(boxes, scores, 2, { scoreThr: 0.05, iouThreshold: 0.5, maxPerImg: 10 });
    // Class 1 has the same box twice (IoU 1): its 0.3 copy is suppressed; class 0's box stands alone.
    assert.deepEqual(Array.from(all.labels), [1, 0]);
    assertClose(all.scores, [0.7, 0.6], 1e-7, 'scores');
    const top = multiclassNms(boxes, scores, 2, { scoreThr: 0.05, iouThreshold: 0.5, maxPerImg: 1 });
    assert.deepEqual(Array.from(top.boxes), [0, 0, 20, 20]);
  });

  it('RoI levels: floor(log2(sqrt(area) / 56 + 1e-6)) clamped to the 4 levels', () => {
    const sides = [10, 56, 111, 112, 224, 448, 2000];
    const boxes = Float32Array.from(sides.flatMap((s) => [0, 0, s, s]));
    assert.deepEqual(Array.from(roiLevels(boxes, 4, 56)), [0, 0, 0, 1, 2, 3, 3]);
  });

  it('RoIAlign (aligned, adaptive sampling): bins average ceil(roi / out) samples per axis at half-pixel offsets', () => {
    // Feature value = column index, 1 channel, 8 x 8.
    const data = Float32Array.from({ length: 64 }, (_, i) => i % 8);
    const pooled = roiAlign(
      { data, height: 8, width: 8, channels: 1 },
      Float32Array.from([0, 0, 8, 8]),
      1,
      2,
    );
    // x samples: -0.5 + 4 * pw + 1 + 2 * ix = 0.5, 2.5 | 4.5, 6.5 -> means 1.5 and 5.5 in every row.
    assertClose(pooled, [1.5, 5.5, 1.5, 5.5], 1e-6, 'ramp');
  });

  it('mask pasting: a certain mask covers exactly the pixels whose centres lie in the box', () => {
    const mask = pasteMask(Float32Array.from([1, 1, 1, 1]), 2, [2, 2, 6, 6], 10, 10, 0.5);
    let count = 0;
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 10; x++) {
        const inside = x >= 2 && x < 6 && y >= 2 && y < 6;
        assert.equal(mask.data[y * 10 + x], inside ? 1 : 0, `pixel ${x},${y}`);
        count += mask.data[y * 10 + x];
      }
    }
    assert.equal(count, 16);
  });

  it('preprocessing: mmcv rescale size, cv2 bilinear, RGB normalisation, zero padding to 32', () => {
    assert.deepEqual(rescaleSize(640, 480, [1333, 800]), [1067, 800]);
    assert.deepEqual(rescaleSize(2000, 500, [1333, 800]), [1333, 333]);
    const row = resizeLinear({ data: Uint8Array.from([0, 100]), height: 1, width: 2, channels: 1 }, 1, 4);
    assert.deepEqual(Array.from(row.data), [0, 25, 75, 100]);
    const config = tinyConfig('faster_rcnn');
    const gray = { data: new Uint8Array(50 * 40).fill(124), height: 50, width: 40, channels: 1 as const };
    const prepared = prepareImage(gray, config);
    try {
      // (400, 256) scale: factor min(400 / 50, 256 / 40) = 6.4 -> 256 x 320, already a multiple of 32.
      assert.deepEqual(prepared.imageShape, [320, 256]);
      assert.deepEqual(prepared.input.shape, [1, 320, 256, 3]);
      assertClose(
        tf.slice(prepared.input, [0, 0, 0, 0], [1, 1, 1, 3]).dataSync(),
        [(124 - 123.675) / 58.395, (124 - 116.28) / 57.12, (124 - 103.53) / 57.375],
        1e-6,
        'normalised pixel',
      );
    } finally {
      prepared.input.dispose();
    }
    assert.throws(
      () => prepareImage({ data: new Uint8Array(), height: 0, width: 5, channels: 3 }, config),
      /empty image/,
    );
  });

  it('frozen stages take no gradient and BatchNorm stays in eval mode in training mode (norm_eval)', () => {
    const detector = new RLADetector('faster_rcnn_tiny', tinyConfig('faster_rcnn'));
    try {
      const trainable = (key: string) =>
        detector.stateEntries().find((e) => e.key === key)!.owner.variable.trainable;
      assert.equal(trainable('backbone.conv1.weight'), false);
      assert.equal(trainable('backbone.stages.0.0.conv1.weight'), false);
      assert.equal(trainable('backbone.recurrent_convs.0.weight'), false);
      assert.equal(trainable('backbone.stages.1.0.conv1.weight'), true);
      assert.equal(trainable('neck.lateral_convs.0.conv.weight'), true);
      detector.train();
      assert.equal(detector.backbone.bn1.training, false);
      assert.equal(detector.backbone.stages.at(2).at(0).training, true);
      assert.equal(detector.neck.training, true);
    } finally {
      detector.dispose();
    }
  });

  it('an image without detections gives an empty list (Mask R-CNN: no masks) and leaks nothing', async () => {
    const config = tinyConfig('mask_rcnn');
    config.roi!.test.scoreThr = 1; // softmax scores never exceed 1
    const detector = new RLADetector('mask_rcnn_tiny', config, { seed: 3 });
    try {
      const image = {
        data: new Uint8Array(64 * 96 * 3).fill(90),
        height: 64,
        width: 96,
        channels: 3 as const,
      };
      const detections = await assertNoLeak(() => detector.detect(image), 'detect');
      assert.deepEqual(detections, []);
      assert.deepEqual((await detector.run(image)).masks, []);
    } finally {
      detector.dispose();
    }
  });
});
