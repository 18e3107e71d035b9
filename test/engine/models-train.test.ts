/**
 * Every registered model trains on the wasm backend (forward + cross-entropy + backward, every parameter gets a
 * finite gradient), and for one model of each kind of layer the wasm gradients match the cpu backend's within
 * 1e-3 * max|g| per parameter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Dropout } from '../../src/layers/dropout.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel, listModels } from '../../src/models/index.js';
import { distinctSmallModels, smallestInput, smallTrainingOptions } from '../helpers/small-models.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';

/** Loss gradients of `model` (training mode, dropout off so two runs compute the same function). */
function gradients(model: ClassifierModel, size: number, batch = 2): Map<string, Float32Array> {
  model.train();
  for (const [, module] of model.namedModules()) if (module instanceof Dropout) module.training = false;
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 42) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 3) % 10),
      'int32',
    ),
    model.numClasses,
  );
  const parameters = model.namedParameters();
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar,
    parameters.map(([, p]) => p.variable),
  );
  const result = new Map<string, Float32Array>();
  for (const [key, parameter] of parameters) {
    const grad = grads[parameter.variable.name];
    if (grad) result.set(key, grad.dataSync() as Float32Array);
  }
  tf.dispose([x, labels, value, ...Object.values(grads)]);
  return result;
}

/**
 * One model per kind of layer: RLA + ECA (conv1d) bottlenecks, SE, depthwise convs, the ConvLSTM
 * ablation (grouped convs are depthwise convs with a channel multiplier, covered by conv-gradients.test.ts).
 * 64x64 inputs, batch 4: with 1x1 maps and 2 images, training-mode BatchNorm normalises 2 values per
 * channel and amplifies float32 rounding far beyond any kernel difference.
 */
const COMPARED = ['rla_resnet50_eca', 'resnet50_se', 'dsrla_mobilenetv2_eca', 'rlalstm_resnet50'];

describe('training every registered model on wasm', () => {
  it('gives every parameter of every model a finite gradient', async (t) => {
    await initBackend({ backend: 'wasm' });
    let architectures = 0;
    for (const [name, model] of distinctSmallModels()) {
      architectures++;
      try {
        const grads = gradients(model, smallestInput(model));
        const missing = model.namedParameters().filter(([key]) => !grads.has(key));
        assert.deepEqual(
          missing.map(([key]) => key),
          [],
          `${name}: parameters without gradient`,
        );
        for (const [key, grad] of grads) assert.ok(grad.every(Number.isFinite), `${name}: ${key} not finite`);
      } finally {
        model.dispose();
      }
    }
    t.diagnostic(`${listModels().length} models, ${architectures} distinct architectures at this size`);
  });

  for (const name of COMPARED) {
    it(`${name}: wasm gradients match the cpu backend's`, async () => {
      const results: Array<Map<string, Float32Array>> = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend({ backend });
        const model = createModel(name, smallTrainingOptions(name));
        try {
          results.push(gradients(model, Math.max(64, smallestInput(model)), 4));
        } finally {
          model.dispose();
        }
      }
      const [cpu, wasm] = results;
      // Per parameter 1e-3 * max|g|, with a floor of 1e-5 of the model's largest gradient for parameters whose
      // gradient is nearly zero (rounding elsewhere in the network shows there at the scale of the whole).
      const floor = 1e-5 * Math.max(...[...cpu.values()].map(maxAbs));
      for (const [key, reference] of cpu) {
        assertClose(wasm.get(key)!, reference, 1e-3 * maxAbs(reference) + floor, `${name} ${key}`);
      }
    });
  }
});
