import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { SourceTensor } from '../../src/checkpoint/source-tensor.js';
import type { StateDictSource } from '../../src/checkpoint/state-dict-source.js';
import { detectorToSafetensors, inferDetectorConfigName } from '../../src/detection/checkpoint.js';
import { detectorConfig, listDetectorConfigs } from '../../src/detection/config.js';
import { createDetector, createDetectorWithReport } from '../../src/detection/create-detector.js';
import { RLADetector } from '../../src/detection/detector.js';
import { initBackend } from '../../src/engine/backend.js';
import { torchShapeOf } from '../../src/nn/tensor-layout.js';
import { officialBytes } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { assertNoLeak } from '../helpers/tensors.js';
import { detectionFixtureBytes, fixtureImages, referenceTensors, tinyConfig } from './fixtures.js';
import { assertDetectionsEqual } from './parity.js';

describe('detector checkpoints and createDetector', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('has the six released configs and their R-101 twins', () => {
    for (const kind of ['faster_rcnn', 'retinanet', 'mask_rcnn']) {
      for (const name of [`${kind}_r50rla_fpn`, `${kind}_r50rlaeca_fpn`, `${kind}_r101rla_fpn`]) {
        assert.ok(listDetectorConfigs().includes(name), name);
      }
    }
    assert.deepEqual(detectorConfig('mask_rcnn_r101rla_fpn').backbone.layers, [3, 4, 23, 3]);
    assert.deepEqual(detectorConfig('retinanet_r50rlaeca_fpn').backbone.ecaKernelSizes, [5, 5, 5, 7]);
  });

  it('builds full-size detectors whose keys and shapes are those of the released mmdet layout, in order', () => {
    const released = JSON.parse(
      readFileSync(fixturePath('detection', 'released_keys.json'), 'utf8'),
    ) as Record<string, Array<[string, number[]]>>;
    // One config per head type; the ECA one also covers the backbone's Conv1d keys.
    for (const name of ['mask_rcnn_r50rlaeca_fpn', 'retinanet_r50rla_fpn']) {
      const detector = new RLADetector(name, detectorConfig(name));
      try {
        const ours = detector.stateEntries().map((e) => [e.key, torchShapeOf(e.tensor.shape, e.layout)]);
        assert.deepEqual(ours, released[name], name);
      } finally {
        detector.dispose();
      }
    }
  });

  it('recognises the released config of an mmdet checkpoint from its keys (detector, ECA, depth)', () => {
    const released = JSON.parse(
      readFileSync(fixturePath('detection', 'released_keys.json'), 'utf8'),
    ) as Record<string, Array<[string, number[]]>>;
    const sourceOf = (keys: string[]): StateDictSource => ({
      format: 'pytorch-zip',
      tensors: new Map(keys.map((key) => [key, null as unknown as SourceTensor])),
      unwrappedFrom: 'state_dict',
      info: {},
    });
    for (const [name, entries] of Object.entries(released)) {
      const keys = entries.map(([key]) => key);
      assert.equal(inferDetectorConfigName(sourceOf(keys)), name);
      // stage 3 has 23 blocks.
      const deeper = [
        ...keys,
        ...Array.from({ length: 17 }, (_, i) => `backbone.stages.2.${i + 6}.conv1.weight`),
      ];
      assert.equal(inferDetectorConfigName(sourceOf(deeper)), name.replace('r50', 'r101'));
    }
    assert.equal(
      inferDetectorConfigName(sourceOf(['backbone.conv1.weight', 'neck.fpn_convs.0.conv.weight'])),
      null,
    );
  });

  it('loads the released-layout mmdet checkpoint (state_dict + meta) strictly and reports nothing missing', async () => {
    const { detector, report } = await createDetectorWithReport('faster_rcnn_tiny', {
      weights: detectionFixtureBytes('faster_rcnn_tiny.pth'),
      config: tinyConfig('faster_rcnn'),
    });
    try {
      assert.ok(report);
      assert.equal(report.source.unwrappedFrom, 'state_dict');
      assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
    } finally {
      detector.dispose();
    }
  });

  it('saves safetensors naming the config (with its JSON) and rebuilds the same detector from the file alone', async () => {
    const original = await createDetector('faster_rcnn_tiny', {
      weights: detectionFixtureBytes('faster_rcnn_tiny.pth'),
      config: tinyConfig('faster_rcnn'),
    });
    const bytes = detectorToSafetensors(original);
    original.dispose();
    const rebuilt = await createDetector(undefined, { weights: bytes });
    try {
      assert.equal(rebuilt.configName, 'faster_rcnn_tiny');
      assert.deepEqual(rebuilt.config, tinyConfig('faster_rcnn'));
      const reference = referenceTensors('faster_rcnn');
      const output = await assertNoLeak(() => rebuilt.run(fixtureImages()[1]), 'run');
      assertDetectionsEqual(
        'rebuilt, image 1',
        output,
        reference.get('img1.dets')!,
        reference.get('img1.labels')!,
      );
    } finally {
      rebuilt.dispose();
    }
  });

  it('refuses a classifier checkpoint, an unknown config, a file of another detector, and a .pth without a config name', async () => {
    await assert.rejects(
      createDetector('faster_rcnn_r50rla_fpn', { weights: officialBytes('rla_resnet_1111_w16.pth') }),
      /weights: not a detector checkpoint: no backbone\. \/ neck\. keys/,
    );
    await assert.rejects(
      createDetector('faster_rcnn_r50rla_fpx'),
      /unknown detector config 'faster_rcnn_r50rla_fpx'; known configs: faster_rcnn_r50rla_fpn/,
    );
    await assert.rejects(
      createDetector('retinanet_tiny', {
        weights: detectionFixtureBytes('faster_rcnn_tiny.pth'),
        config: tinyConfig('retinanet'),
      }),
      /weights do not fit the model[\s\S]*missing in file: bbox_head\.cls_convs\.0\.conv\.weight[\s\S]*unexpected in file: rpn_head\.rpn_conv\.weight/,
    );
    await assert.rejects(
      createDetector(undefined, { weights: detectionFixtureBytes('faster_rcnn_tiny.pth') }),
      /does not name its detector config/,
    );
  });

  it('refuses a file whose stored config asks for absurd sizes before building anything', async () => {
    const detector = new RLADetector('faster_rcnn_tiny', tinyConfig('faster_rcnn'));
    (detector.config.neck as { outChannels: number }).outChannels = 1e9;
    const bytes = detectorToSafetensors(detector);
    detector.dispose();
    await assert.rejects(
      createDetector(undefined, { weights: bytes }),
      /weights: invalid detector_config_json metadata: detector config neck\.outChannels must be an integer from 1 to 8192, got 1000000000/,
    );
  });
});
