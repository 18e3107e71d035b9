/**
 * Every registered model exports to ONNX and runs in ONNX Runtime (all graph optimizations on), with logits and
 * every intermediate equal to TF.js's. Models are built small (one block per stage, narrow, k = 8), filled with
 * the deterministic weights of the ablation fixtures, and their BN statistics calibrated on another batch (far
 * from identity, so BN folding is really exercised).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { createModel, getModelEntry, listModels } from '../../src/models/index.js';
import type { ModelOptions } from '../../src/models/registry.js';
import { loadDeterministicWeights } from '../models/_deterministic-weights.js';
import {
  calibrateBatchNorm,
  expectClose,
  intermediateTolerance,
  logitsTolerance,
  runExported,
  runTfjs,
  testImages,
} from './helpers/ort.js';

/** The smallest options each model honours (the registry lists which it takes). */
function smallOptions(name: string): ModelOptions {
  const accepted = new Set(getModelEntry(name).options);
  const small: ModelOptions = { numClasses: 10, seed: 1 };
  if (accepted.has('layers')) small.layers = [1, 1, 1, 1];
  if (accepted.has('widthPerGroup')) small.widthPerGroup = name.includes('resnext') ? 2 : 8;
  if (accepted.has('rlaChannel')) small.rlaChannel = 8;
  if (accepted.has('widthMult')) small.widthMult = 0.25;
  return small;
}

/** 64x64 for ImageNet models (RLA needs multiples of 32), the native size for CIFAR models. */
function inputSize(name: string): number {
  return Math.min(64, getModelEntry(name).defaultInputSize ?? 64);
}

describe('every registry model in ONNX Runtime', () => {
  before(async () => {
    // wasm (XNNPACK) makes the TF.js reference forward passes fast; accuracy is the same float32.
    await initBackend({ backend: 'wasm' });
  });

  for (const name of listModels()) {
    it(`${name}: ORT logits and intermediates equal TF.js`, async (t) => {
      const model = createModel(name, smallOptions(name));
      try {
        loadDeterministicWeights(model);
        const size = inputSize(name);
        const shape = [2, 3, size, size];
        calibrateBatchNorm(model, testImages(shape as [number, number, number, number], 99), shape);
        const images = testImages(shape as [number, number, number, number]);
        const expected = runTfjs(model, images, shape);
        const actual = await runExported(model, images, shape, { dynamicBatch: true, intermediates: true });
        assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), 'same named outputs');
        let worst = 0;
        for (const [key, reference] of Object.entries(expected)) {
          const tolerance = key === 'logits' ? logitsTolerance(reference) : intermediateTolerance(reference);
          const diff = expectClose(actual[key].data, reference, tolerance, `${name} ${key}`);
          if (key === 'logits')
            t.diagnostic(
              `logits max abs diff ${diff.toExponential(2)} (tolerance ${tolerance.toExponential(2)})`,
            );
          else worst = Math.max(worst, diff / tolerance);
        }
        t.diagnostic(`worst intermediate: ${(worst * 100).toFixed(1)}% of its tolerance`);
      } finally {
        model.dispose();
      }
    });
  }
});
