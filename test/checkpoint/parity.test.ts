import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import {
  nhwcInput,
  officialBytes,
  RESNET_FIXTURES,
  readFixtureTensors,
  toNchwData,
} from '../helpers/fixtures.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';
import { assertTrainFixtureParity, TF_VARIABLE_GRADS } from '../helpers/train-fixture.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`official parity on the ${backend} backend`, () => {
    before(async () => {
      await initBackend({ backend });
    });

    for (const { fixture, model: name, options } of RESNET_FIXTURES) {
      it(`${fixture}: logits within 1e-4*max(1,max|ref|) and every intermediate within 1e-3*max|ref|`, () => {
        const model = createModel(name, options);
        loadCheckpoint(model, officialBytes(`${fixture}.pth`), { fileName: `${fixture}.pth` });
        model.eval();
        const expected = readFixtureTensors(`${fixture}.eval.safetensors`);
        const x = nhwcInput(expected.get('input')!);
        const outputs = model.forwardIntermediates(x);
        for (const [key, ref] of expected) {
          if (key === 'input') continue;
          assert.ok(outputs[key], `model produced no ${key}`);
          const scale = maxAbs(ref.data);
          const tolerance = key === 'logits' ? 1e-4 * Math.max(1, scale) : 1e-3 * scale;
          assertClose(toNchwData(outputs[key]), ref.data, tolerance, `${fixture} ${key} on ${backend}`);
        }
        tf.dispose([x, ...Object.values(outputs)]);
        model.dispose();
      });
    }
  });
}

describe('official train-mode parity (rla_resnet_1111_w16) on cpu', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('matches the logits, loss, gradients and updated BN running statistics of PyTorch', () => {
    assertTrainFixtureParity(TF_VARIABLE_GRADS, 1e-3);
  });
});
