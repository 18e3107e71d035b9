import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { createDetector } from '../../src/detection/create-detector.js';
import { exportDenseGraph } from '../../src/detection/dense-graph.js';
import { RLADetector } from '../../src/detection/detector.js';
import { exportBoxHeadGraph, exportMaskHeadGraph } from '../../src/detection/roi-graphs.js';
import { initBackend } from '../../src/engine/backend.js';
import { fixturePath } from '../helpers/paths.js';
import { assertNoLeak, maxAbsDiff } from '../helpers/tensors.js';
import { detectionFixtureBytes, fixtureImages, referenceTensors, tinyConfig } from './fixtures.js';
import { assertDetectionsEqual, assertIntermediatesMatch, assertMasksMatch } from './parity.js';

/** Intermediates of image 0 that the ORT engine produces and that must match the torch reference. */
const COMPARED = {
  faster_rcnn: ['neck.0', 'neck.4', 'rpn.cls.1', 'rpn.reg.4', 'rpn.proposals', 'bbox.cls_score'],
  retinanet: ['neck.0', 'neck.4', 'retina.reg.2', 'retina.cls.3', 'retina.cls.4'],
  mask_rcnn: ['neck.4', 'rpn.proposals', 'mask.pred'],
} as const;

for (const kind of ['faster_rcnn', 'retinanet', 'mask_rcnn'] as const) {
  describe(`${kind}: engine 'ort' (backbone + FPN + dense head + RoI heads on ONNX Runtime)`, () => {
    const reference = referenceTensors(kind);
    const images = fixtureImages();
    let ortDetector: RLADetector;
    let tfjsDetector: RLADetector;
    before(async () => {
      await initBackend({ backend: 'wasm' });
      ortDetector = await createDetector(`${kind}_tiny`, {
        config: tinyConfig(kind),
        weights: fixturePath('detection', `${kind}_tiny.pth`),
        engine: 'ort',
        ort: { threads: 1 },
      });
      tfjsDetector = new RLADetector(`${kind}_tiny`, tinyConfig(kind));
      loadCheckpoint(tfjsDetector, detectionFixtureBytes(`${kind}_tiny.pth`), {
        fileName: `${kind}_tiny.pth`,
      });
    });
    after(() => {
      ortDetector.dispose();
      tfjsDetector.dispose();
    });

    it('matches the torch intermediates of image 0 within 1e-4 * max|ref|', async () => {
      assert.equal(ortDetector.engine, 'ort');
      await assertIntermediatesMatch(ortDetector, images[0], reference, 'img0', COMPARED[kind]);
    });

    it('gives the reference detections and the TF.js engine detections on all three images (one graph for every size)', async () => {
      const sizes = new Set<string>();
      for (const [i, image] of images.entries()) {
        const ort = await ortDetector.run(image, (name, _data, shape) => {
          if (name === 'neck.0') sizes.add(shape.join('x'));
        });
        assertDetectionsEqual(
          `image ${i}`,
          ort,
          reference.get(`img${i}.dets`)!,
          reference.get(`img${i}.labels`)!,
        );
        const tfjs = await tfjsDetector.run(image);
        assert.equal(ort.scores.length, tfjs.scores.length, `image ${i}: count vs TF.js`);
        assert.ok(ort.scores.length > 0, `image ${i}: no detections`);
        assert.deepEqual(ort.labels, tfjs.labels, `image ${i}: labels vs TF.js`);
        assert.ok(maxAbsDiff(ort.boxes, tfjs.boxes) <= 1e-3, `image ${i}: boxes vs TF.js`);
        assert.ok(maxAbsDiff(ort.scores, tfjs.scores) <= 1e-5, `image ${i}: scores vs TF.js`);
        const packed = reference.get(`img${i}.masks`);
        if (packed) {
          const ambiguous = reference.get(`img${i}.mask_ambiguous`)!;
          const iou = assertMasksMatch(`image ${i}`, ort.masks!, packed, ambiguous, [
            image.height,
            image.width,
          ]);
          assert.ok(iou > 0.99, `image ${i}: smallest mask IoU ${iou}`);
        }
        if (tfjs.masks) {
          assert.equal(ort.masks?.length, tfjs.masks.length);
          tfjs.masks.forEach((mask, m) => {
            let differing = 0;
            mask.data.forEach((v, p) => {
              if (ort.masks![m].data[p] !== v) differing++;
            });
            assert.ok(differing <= 2, `image ${i} mask ${m}: ${differing} pixels differ from TF.js`);
          });
        }
      }
      assert.ok(sizes.size >= 2, `the fixture images should cover several padded sizes, got ${[...sizes]}`);
    });

    it('detect() leaks no tensor', async () => {
      const detections = await assertNoLeak(() => ortDetector.detect(images[1]), 'detect');
      assert.equal(detections.length, reference.get('img1.dets')!.shape[0]);
    });
  });
}

describe('the dense graph', () => {
  it('has a symbolic image size and the FPN as Resize (nearest) and MaxPool (P6) ops', () => {
    const detector = new RLADetector('faster_rcnn_tiny', tinyConfig('faster_rcnn'));
    const text = new TextDecoder('latin1').decode(exportDenseGraph(detector));
    detector.dispose();
    for (const token of ['height', 'width', 'Resize', 'MaxPool', 'asymmetric', 'neck.4', 'cls.4', 'reg.4'])
      assert.ok(text.includes(token), `graph lacks ${token}`);
  });

  it('traces the RoI heads: Shared2FC box head (Gemm) and FCN mask head (ConvTranspose) over any number of RoIs', () => {
    const detector = new RLADetector('mask_rcnn_tiny', tinyConfig('mask_rcnn'));
    const box = new TextDecoder('latin1').decode(exportBoxHeadGraph(detector));
    const mask = new TextDecoder('latin1').decode(exportMaskHeadGraph(detector));
    detector.dispose();
    for (const token of ['rois', 'Gemm', 'roi_head.bbox_head.shared_fcs.0.weight', 'fc_cls', 'fc_reg'])
      assert.ok(box.includes(token), `box head graph lacks ${token}`);
    for (const token of ['rois', 'ConvTranspose', 'roi_head.mask_head.upsample.weight', 'conv_logits'])
      assert.ok(mask.includes(token), `mask head graph lacks ${token}`);
  });

  it('refuses an unknown engine by name', async () => {
    await assert.rejects(
      createDetector('faster_rcnn_tiny', { config: tinyConfig('faster_rcnn'), engine: 'gpu' as 'ort' }),
      /unknown detector engine gpu/,
    );
  });
});
