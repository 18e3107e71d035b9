import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { createModel, listModels } from '../../src/models/index.js';
import { defineRegistryModelTests } from './_registry-cases.js';

defineRegistryModelTests(0, 3);

describe('model registry', () => {
  before(async () => {
    // Counting is shape-only, so the cpu backend is fast enough; forward/backward run on cpu as specified.
    await initBackend({ backend: 'cpu' });
  });

  it('lists official names and filters by substring or wildcard', () => {
    const all = listModels();
    assert.ok(all.includes('rla_resnet50') && all.includes('resnext101_32x4d_se'));
    assert.deepEqual(listModels('rla_resnet1*_eca'), ['rla_resnet101_eca', 'rla_resnet152_eca']);
    assert.ok(listModels('resnext').every((name) => name.includes('resnext')));
  });

  it('rejects unknown names with suggestions and options a model does not take', () => {
    assert.throws(() => createModel('rla_resnet5'), /unknown model "rla_resnet5"; did you mean rla_resnet50/);
    assert.throws(() => createModel('resnet50', { rlaChannel: 16 }), /does not take option\(s\) rlaChannel/);
    assert.throws(() => createModel('rla_resnet50', { ecaKernelSizes: [3, 3, 3, 3] }), /ecaKernelSizes/);
    assert.throws(
      () => createModel('rla_resnet50', { layers: [1, 1, 1] }),
      /layers must be 4 positive integers/,
    );
  });
});
