import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { RLADetector } from '../../src/detection/detector.js';
import { initBackend } from '../../src/engine/backend.js';
import { assertNoLeak, maxAbs, maxAbsDiff } from '../helpers/tensors.js';
import { detectionFixtureBytes, fixtureImages, referenceTensors, tinyConfig } from './fixtures.js';
import { assertDetectionsEqual, assertTensorParity } from './parity.js';

describe('Faster R-CNN (tiny RLA-ResNet, mmdet 2.10 semantics) against the torch reference', () => {
  const reference = referenceTensors('faster_rcnn');
  const images = fixtureImages();
  let detector: RLADetector;
  before(async () => {
    await initBackend({ backend: 'wasm' });
    detector = new RLADetector('faster_rcnn_tiny', tinyConfig('faster_rcnn'));
    loadCheckpoint(detector, detectionFixtureBytes('faster_rcnn_tiny.pth'), {
      fileName: 'faster_rcnn_tiny.pth',
    });
  });

  it('matches every stored intermediate of image 0: FPN levels, RPN outputs, proposals, RoI levels and features, box head', () => {
    const seen = new Set<string>();
    const output = detector.run(images[0], (name, data, shape) => {
      const ref = reference.get(`img0.${name}`);
      if (!ref) return;
      seen.add(name);
      assertTensorParity(name, data, shape, ref);
    });
    for (const name of [
      'neck.0',
      'neck.4',
      'rpn.cls.1',
      'rpn.reg.4',
      'rpn.proposals',
      'roi.levels',
      'roi.feats',
      'bbox.cls_score',
    ]) {
      assert.ok(seen.has(name), `${name} was compared`);
    }
    assert.ok(output.scores.length > 0);
  });

  it('gives the reference detections on all three images (count, boxes within 1e-3 px, scores within 1e-5, labels)', () => {
    images.forEach((image, i) => {
      const output = detector.run(image);
      assertDetectionsEqual(
        `image ${i}`,
        output,
        reference.get(`img${i}.dets`)!,
        reference.get(`img${i}.labels`)!,
      );
    });
  });

  it('detect() returns Detection objects with label names and leaks no tensor', async () => {
    const detections = await assertNoLeak(() => detector.detect(images[0]), 'detect');
    const dets = reference.get('img0.dets')!;
    assert.equal(detections.length, dets.shape[0]);
    assert.ok(maxAbsDiff(detections[0].box, dets.data.subarray(0, 4)) < 1e-3);
    assert.equal(detections[0].labelName, detector.classNames[detections[0].label]);
    assert.ok(maxAbs([detections[0].score - dets.data[4]]) < 1e-5);
    assert.equal(tf.getBackend(), 'wasm');
  });
});
