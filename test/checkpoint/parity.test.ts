import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { toTorchLayout } from '../../src/nn/tensor-layout.js';
import { nhwcInput, officialBytes, RESNET_FIXTURES, readFixtureTensors, toNchwData } from '../helpers/fixtures.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';

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
  after(() => {});

  it('matches the loss, gradients and updated BN running statistics of PyTorch', () => {
    const { fixture, model: name, options } = RESNET_FIXTURES[0];
    const model = createModel(name, options);
    loadCheckpoint(model, officialBytes(`${fixture}.pth`));
    model.train();
    const expected = readFixtureTensors(`${fixture}.train.safetensors`);
    const x = nhwcInput(expected.get('input')!);
    const labels = tf.oneHot(tf.tensor1d(Array.from(expected.get('labels')!.data), 'int32'), 10);
    const parameters = new Map(model.namedParameters());
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(x);
      assertClose(logits.dataSync(), expected.get('logits')!.data, 1e-4 * Math.max(1, maxAbs(expected.get('logits')!.data)), 'train logits');
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
    const loss = expected.get('loss')!.data[0];
    assert.ok(Math.abs(value.dataSync()[0] - loss) <= 1e-3 * Math.abs(loss), `loss ${value.dataSync()[0]} vs ${loss}`);
    let checked = 0;
    for (const [key, ref] of expected) {
      if (key.startsWith('grad.')) {
        const parameter = parameters.get(key.slice('grad.'.length));
        assert.ok(parameter, `no parameter ${key}`);
        const grad = grads[parameter.variable.name];
        const torchGrad = toTorchLayout(grad, parameter.layout);
        assert.deepEqual(torchGrad.shape, ref.shape, `${key} shape`);
        assertClose(torchGrad.dataSync(), ref.data, 1e-3 * maxAbs(ref.data), key);
        torchGrad.dispose();
        checked++;
      } else if (key.startsWith('after.')) {
        const buffer = model.stateDict().get(key.slice('after.'.length));
        assert.ok(buffer, `no buffer ${key}`);
        assertClose(buffer.dataSync(), ref.data, 1e-3 * maxAbs(ref.data), key);
        checked++;
      }
    }
    assert.equal(checked, 9, 'seven gradients and two running statistics compared');
    tf.dispose([x, labels, value, ...Object.values(grads)]);
    model.dispose();
  });
});
