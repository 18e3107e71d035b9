/**
 * Registry-driven model tests, split into shards so node:test runs them on both cores: every official model
 * gets exact params/MACs, a forward and backward pass on cpu, and a no-leak check.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { countMacs, countParams, countThopParams, paperFormat } from '../../src/count/count.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel, getModelEntry, listModels } from '../../src/models/index.js';
import { fixturePath } from '../helpers/paths.js';

interface OfficialCount {
  params: number;
  macs: number;
  thopParams?: number;
  paper?: { params: string; flops: string };
}
const official: Record<string, OfficialCount> = JSON.parse(
  readFileSync(fixturePath('spec', 'official-counts.json'), 'utf8'),
).models;

/**
 * `paperFormat` at the precision the paper printed: it prints "%.2f" ("24.67M"), but some MobileNet figures have
 * one decimal ("351.8M"), so the value is rounded to as many decimals as the printed figure has.
 */
function atPrintedPrecision(value: number, printed: string): string {
  const unit = paperFormat(value).slice(-1);
  const decimals = printed.match(/\.(\d+)/)?.[1].length ?? 0;
  return `${(value / 1024 ** ' KMGT'.indexOf(unit)).toFixed(decimals)}${unit}`;
}

/** How many gradients there are and whether all are finite. */
function gradientReport(grads: Record<string, tf.Tensor>): { count: number; finite: boolean } {
  let finite = true;
  for (const g of Object.values(grads)) {
    const sumOfSquares = tf.tidy(() => tf.sum(tf.square(g)));
    if (!Number.isFinite(sumOfSquares.dataSync()[0])) finite = false;
    sumOfSquares.dispose();
  }
  return { count: Object.keys(grads).length, finite };
}

/** Defines the per-model tests for every `shards`-th official model starting at `shard`. */
export function defineRegistryModelTests(shard: number, shards: number): void {
  describe(`registry models (shard ${shard + 1}/${shards})`, () => {
    before(async () => {
      // Counting is shape-only, so the cpu backend is fast enough; forward/backward run on cpu as specified.
      await initBackend({ backend: 'cpu' });
    });

    // Models without official code (our CIFAR designs, docs/cifar.md) are covered by their own tests.
    for (const name of listModels()
      .filter((n) => getModelEntry(n).officialFile !== '')
      .filter((_, i) => i % shards === shard)) {
      const expected = official[name];
      it(`${name}: exact official params/MACs, forward and backward on cpu, no leaks`, () => {
        assert.ok(expected, `${name} is not an official model name`);
        const before = tf.memory().numTensors;
        const model = createModel(name, { seed: 11 });
        assert.equal(countParams(model), expected.params, 'params');
        assert.equal(countThopParams(model), expected.thopParams ?? expected.params, "thop's params");
        assert.equal(countMacs(model), expected.macs, 'MACs at 1x3x224x224');
        if (expected.paper) {
          assert.equal(
            atPrintedPrecision(expected.thopParams ?? expected.params, expected.paper.params),
            expected.paper.params,
          );
          assert.equal(atPrintedPrecision(expected.macs, expected.paper.flops), expected.paper.flops);
        }
        const afterBuild = tf.memory().numTensors;
        const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
        const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([1, 7], 'int32'), 1000));
        model.train();
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.forward(x);
          assert.deepEqual(logits.shape, [2, 1000]);
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        });
        const report = gradientReport(grads);
        assert.equal(report.count, model.parameters().length, 'a gradient for every parameter');
        assert.ok(report.finite, 'finite gradients');
        assert.ok(Number.isFinite(value.dataSync()[0]));
        tf.dispose([x, labels, value, ...Object.values(grads)]);
        model.eval();
        const logits = model.forward(tf.zeros([1, 64, 64, 3]));
        assert.deepEqual(logits.shape, [1, 1000]);
        logits.dispose();
        assert.equal(
          tf.memory().numTensors,
          afterBuild + 1,
          'forward/backward leak (the +1 is the eval input)',
        );
        model.dispose();
        assert.ok(tf.memory().numTensors <= before + 1, 'dispose frees the model');
        assert.equal(getModelEntry(name).name, name);
      });
    }
  });
}
