/**
 * The official train-mode fixture check (rla_resnet_1111_w16.train.safetensors), shared by the backends' tests:
 * one training forward + backward from the official weights must reproduce PyTorch's logits, loss, seven
 * gradients (within 1e-3 * max|g|) and the BatchNorm running statistics after the step.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { createModel } from '../../src/models/index.js';
import { toTorchLayout } from '../../src/nn/tensor-layout.js';
import { nhwcInput, officialBytes, RESNET_FIXTURES, readFixtureTensors } from './fixtures.js';
import { assertClose, maxAbs, maxAbsDiff } from './tensors.js';

/** A gradient engine: `tf.variableGrads` or a drop-in replacement. */
export type Differentiate = (
  f: () => tf.Scalar,
  variables: tf.Variable[],
) => { value: tf.Scalar; grads: tf.NamedTensorMap };

export const TF_VARIABLE_GRADS: Differentiate = (f, variables) =>
  tf.variableGrads(f, variables) as { value: tf.Scalar; grads: tf.NamedTensorMap };

/**
 * Runs the check on the current backend and returns `key max|diff|/max|ref|` lines for diagnostics.
 * `lossTolerance` is relative to |loss|.
 */
export function assertTrainFixtureParity(differentiate: Differentiate, lossTolerance: number): string[] {
  const { fixture, model: name, options } = RESNET_FIXTURES[0];
  const model = createModel(name, options);
  loadCheckpoint(model, officialBytes(`${fixture}.pth`));
  model.train();
  const expected = readFixtureTensors(`${fixture}.train.safetensors`);
  const x = nhwcInput(expected.get('input')!);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(expected.get('labels')!.data), 'int32'), 10));
  const expectedLogits = expected.get('logits')!.data;
  const parameters = new Map(model.namedParameters());
  const variables = model.parameters().map((p) => p.variable);
  const { value, grads } = differentiate(() => {
    const logits = model.forward(x);
    assertClose(
      logits.dataSync(),
      expectedLogits,
      1e-4 * Math.max(1, maxAbs(expectedLogits)),
      'train logits',
    );
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  }, variables);
  const loss = expected.get('loss')!.data[0];
  const lossError = Math.abs(value.dataSync()[0] - loss);
  assert.ok(lossError <= lossTolerance * Math.abs(loss), `loss ${value.dataSync()[0]} vs ${loss}`);
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
  tf.dispose([x, labels, value, ...Object.values(grads)]);
  model.dispose();
  return report;
}
