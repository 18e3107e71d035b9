/**
 * A full training forward + backward on the wasm backend (rla-net's gradient kernels, lean gradients and lean
 * backward pass) against the official PyTorch train-mode fixture: loss, seven gradients within 1e-3 * max|g|,
 * BatchNorm running statistics.
 */
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { leanVariableGrads } from '../../src/engine/kernels/lean-backward.js';
import { assertTrainFixtureParity, type Differentiate, TF_VARIABLE_GRADS } from '../helpers/train-fixture.js';

const ENGINES: Array<[string, Differentiate]> = [
  ['tf.variableGrads', TF_VARIABLE_GRADS],
  ['leanVariableGrads', leanVariableGrads],
];

describe('official train-mode parity (rla_resnet_1111_w16) on wasm', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  for (const [engineName, differentiate] of ENGINES) {
    it(`${engineName}: loss, gradients and BN running statistics match PyTorch`, (t) => {
      const report = assertTrainFixtureParity(differentiate, 1e-4);
      t.diagnostic(`max|diff|/max|ref|: ${report.join(', ')}`);
    });
  }
});
