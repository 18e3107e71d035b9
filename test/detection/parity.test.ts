import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { RLADetector } from '../../src/detection/detector.js';
import { initBackend } from '../../src/engine/backend.js';
import { assertNoLeak, maxAbsDiff } from '../helpers/tensors.js';
import {
  detectionFixtureBytes,
  fixtureImages,
  referenceTensors,
  type TinyDetector,
  tinyConfig,
} from './fixtures.js';
import { assertDetectionsEqual, assertIntermediatesMatch, assertMasksMatch } from './parity.js';

/** Intermediates each fixture stores for image 0 and that must have been compared. */
const COMPARED: Record<TinyDetector, string[]> = {
  faster_rcnn: [
    'neck.0',
    'neck.4',
    'rpn.cls.1',
    'rpn.reg.4',
    'rpn.proposals',
    'roi.levels',
    'roi.feats',
    'bbox.cls_score',
    'bbox.bbox_pred',
  ],
  retinanet: ['neck.0', 'neck.4', 'retina.reg.2', 'retina.cls.3', 'retina.cls.4'],
  mask_rcnn: ['neck.4', 'rpn.proposals', 'mask.pred'],
};

for (const kind of ['faster_rcnn', 'retinanet', 'mask_rcnn'] as const) {
  describe(`${kind} (tiny RLA-ResNet, mmdet 2.10 test semantics) against the torch reference`, () => {
    const reference = referenceTensors(kind);
    const images = fixtureImages();
    let detector: RLADetector;
    before(async () => {
      await initBackend({ backend: 'wasm' });
      detector = new RLADetector(`${kind}_tiny`, tinyConfig(kind));
      loadCheckpoint(detector, detectionFixtureBytes(`${kind}_tiny.pth`), { fileName: `${kind}_tiny.pth` });
    });

    it('matches the stored intermediates of image 0 within 1e-4 * max|ref|', async () => {
      await assertIntermediatesMatch(detector, images[0], reference, 'img0', COMPARED[kind]);
    });

    it('gives the reference detections on all three images (count, boxes within 1e-3 px, scores within 1e-5, labels, masks)', async () => {
      for (const [i, image] of images.entries()) {
        const output = await detector.run(image);
        assertDetectionsEqual(
          `image ${i}`,
          output,
          reference.get(`img${i}.dets`)!,
          reference.get(`img${i}.labels`)!,
        );
        const masks = reference.get(`img${i}.masks`);
        assert.equal(output.masks !== null, masks !== undefined, 'masks exactly for Mask R-CNN');
        if (masks && output.masks) {
          const ambiguous = reference.get(`img${i}.mask_ambiguous`)!;
          const iou = assertMasksMatch(`image ${i}`, output.masks, masks, ambiguous, [
            image.height,
            image.width,
          ]);
          assert.ok(iou > 0.99, `image ${i}: smallest mask IoU ${iou}`);
        }
      }
    });

    it('detect() returns Detection objects with label names and leaks no tensor', async () => {
      const detections = await assertNoLeak(() => detector.detect(images[0]), 'detect');
      const dets = reference.get('img0.dets')!;
      assert.equal(detections.length, dets.shape[0]);
      assert.ok(maxAbsDiff(detections[0].box, dets.data.subarray(0, 4)) <= 1e-3);
      assert.ok(Math.abs(detections[0].score - dets.data[4]) <= 1e-5);
      assert.equal(detections[0].labelName, detector.classNames[detections[0].label]);
      assert.equal(detections[0].mask !== undefined, kind === 'mask_rcnn');
      assert.equal(tf.getBackend(), 'wasm');
    });
  });
}
