/**
 * A full training forward + backward on the wasm backend (rla-net's gradient kernels, lean gradients and lean
 * backward pass) against the official PyTorch train-mode fixture: loss, seven gradients within 1e-3 * max|g|,
 * BatchNorm running statistics.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import { leanVariableGrads } from '../../src/engine/kernels/lean-backward.js';
import { createModel } from '../../src/models/index.js';
import { toTorchLayout } from '../../src/nn/tensor-layout.js';
import { nhwcInput, officialBytes, RESNET_FIXTURES, readFixtureTensors } from '../helpers/fixtures.js';
import { assertClose, maxAbs, maxAbsDiff } from '../helpers/tensors.js';

type Differentiate = (
  f: () => tf.Scalar,
  variables: tf.Variable[],
) => { value: tf.Scalar; grads: tf.NamedTensorMap };

const ENGINES: Array<[string, Differentiate]> = [
  [
    'tf.variableGrads',
    (f, variables) => tf.variableGrads(f, variables) as { value: tf.Scalar; grads: tf.NamedTensorMap },
  ],
  ['leanVariableGrads', leanVariableGrads],
];

describe('official train-mode parity (rla_resnet_1111_w16) on wasm', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  for (const [engineName, differentiate] of ENGINES) {
    it(`${engineName}: loss, gradients and BN running statistics match PyTorch`, (t) => {
      const { fixture, model: name, options } = RESNET_FIXTURES[0];
      const model = createModel(name, options);
      loadCheckpoint(model, officialBytes(`${fixture}.pth`));
      model.train();
      const expected = readFixtureTensors(`${fixture}.train.safetensors`);
      const x = nhwcInput(expected.get('input')!);
      const labels = tf.oneHot(tf.tensor1d(Array.from(expected.get('labels')!.data), 'int32'), 10);
      const parameters = new Map(model.namedParameters());
      const variables = model.parameters().map((p) => p.variable);
      const { value, grads } = differentiate(
        () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar,
        variables,
      );
      const loss = expected.get('loss')!.data[0];
      const lossError = Math.abs(value.dataSync()[0] - loss);
      assert.ok(lossError <= 1e-4 * Math.abs(loss), `loss ${value.dataSync()[0]} vs ${loss}`);
      const report = [`loss |diff| ${lossError.toExponential(2)}`];
      let checked = 0;
      for (const [key, ref] of expected) {
        let actual: Float32Array | null = null;
        if (key.startsWith('grad.')) {
          const parameter = parameters.get(key.slice('grad.'.length));
          assert.ok(parameter, `no parameter ${key}`);
          const torchGrad = toTorchLayout(grads[parameter.variable.name], parameter.layout);
          assert.deepEqual(torchGrad.shape, ref.shape, `${key} shape`);
          actual = torchGrad.dataSync() as Float32Array;
          torchGrad.dispose();
        } else if (key.startsWith('after.')) {
          const buffer = model.stateDict().get(key.slice('after.'.length));
          assert.ok(buffer, `no buffer ${key}`);
          actual = buffer.dataSync() as Float32Array;
        }
        if (!actual) continue;
        const scale = maxAbs(ref.data);
        assertClose(actual, ref.data, 1e-3 * scale, key);
        report.push(`${key} ${(maxAbsDiff(actual, ref.data) / scale).toExponential(1)}`);
        checked++;
      }
      assert.equal(checked, 9, 'seven gradients and two running statistics compared');
      t.diagnostic(`max|diff|/max|ref|: ${report.join(', ')}`);
      tf.dispose([x, labels, value, ...Object.values(grads)]);
      model.dispose();
    });
  }
});
