/**
 * The lean gradient functions (BatchNorm, Mean, Sum, Relu) against float64 references, and the lean backward
 * pass against tf.variableGrads: identical gradients, no leaked tensors, a lower memory peak.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { leanVariableGrads } from '../../src/engine/kernels/lean-backward.js';
import { createModel } from '../../src/models/index.js';
import { BatchNorm2d } from '../../src/nn/batchnorm.js';
import { Rng } from '../../src/nn/init.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';
import { randomData } from './_kernels.js';

/** Training-mode BatchNorm backward in float64: dx, dgamma, dbeta for x [M, C] (M = N*H*W). */
function referenceBatchNormBackward(
  x: Float32Array,
  dy: Float32Array,
  gamma: Float32Array,
  channels: number,
  eps: number,
) {
  const m = x.length / channels;
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(channels);
  const dbeta = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let i = 0; i < m; i++) mean += x[i * channels + c];
    mean /= m;
    let variance = 0;
    for (let i = 0; i < m; i++) variance += (x[i * channels + c] - mean) ** 2;
    variance /= m;
    const invStd = 1 / Math.sqrt(variance + eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let i = 0; i < m; i++) {
      const xhat = (x[i * channels + c] - mean) * invStd;
      sumDy += dy[i * channels + c];
      sumDyXhat += dy[i * channels + c] * xhat;
    }
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
    for (let i = 0; i < m; i++) {
      const xhat = (x[i * channels + c] - mean) * invStd;
      dx[i * channels + c] =
        ((gamma[c] * invStd) / m) * (m * dy[i * channels + c] - sumDy - xhat * sumDyXhat);
    }
  }
  return { dx, dgamma, dbeta };
}

describe('lean gradients', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`BatchNorm2d in training mode (moments + batchNorm) differentiates exactly, ${backend}`, async () => {
      await initBackend({ backend });
      const rng = new Rng(7);
      const shape: [number, number, number, number] = [3, 5, 4, 6];
      const x = randomData(rng, 3 * 5 * 4 * 6).map((v) => 3 * v + 0.5);
      const dy = randomData(rng, x.length);
      const bn = new BatchNorm2d(6);
      const gamma = randomData(rng, 6).map((v) => v + 1.2);
      bn.weight.set(tf.tensor1d(gamma));
      const variables = [bn.weight.variable, bn.bias.variable];
      const input = tf.variable(tf.tensor4d(x, shape));
      const { grads } = tf.variableGrads(
        () =>
          tf.sum(tf.mul(bn.forward(input as unknown as tf.Tensor4D), tf.tensor4d(dy, shape))) as tf.Scalar,
        [input, ...variables],
      );
      const reference = referenceBatchNormBackward(x, dy, gamma, 6, 1e-5);
      assertClose(grads[input.name].dataSync(), reference.dx, 1e-4 * maxAbs(reference.dx), 'dx');
      assertClose(
        grads[bn.weight.variable.name].dataSync(),
        reference.dgamma,
        1e-4 * maxAbs(reference.dgamma),
        'dgamma',
      );
      assertClose(
        grads[bn.bias.variable.name].dataSync(),
        reference.dbeta,
        1e-4 * maxAbs(reference.dbeta),
        'dbeta',
      );
      tf.dispose([input, ...Object.values(grads)]);
      bn.dispose();
    });
  }

  it('Mean, Sum and Relu gradients', async () => {
    await initBackend({ backend: 'wasm' });
    const x = tf.tensor3d([-1, 2, 0, 4, -5, 6, 7, -8, 9, 10, 11, -12], [2, 3, 2]);
    const g = tf.grad((t: tf.Tensor) =>
      tf.add(tf.sum(tf.mul(tf.mean(t, [0, 1]), tf.tensor1d([1, 2]))), tf.sum(tf.relu(t))),
    )(x);
    const expected = Array.from(x.dataSync()).map((v, i) => (i % 2 === 0 ? 1 : 2) / 6 + (v > 0 ? 1 : 0));
    assertClose(g.dataSync(), expected, 1e-6, 'gradient');
    tf.dispose([x, g]);
  });
});

/** Runs `fn` and returns the peak bytes of live wasm buffers during it (shared buffers counted once). */
function peakLiveBytes(fn: () => void): number {
  const backend = tf.backend() as unknown as {
    write(values: unknown, shape: number[], dtype: string): tf.DataId;
    disposeData(dataId: tf.DataId, force?: boolean): boolean;
  };
  const { write, disposeData } = backend;
  const sizes = new Map<tf.DataId, number>();
  let live = 0;
  let peak = 0;
  backend.write = (values, shape, dtype) => {
    const dataId = write.call(backend, values, shape, dtype);
    const bytes = shape.reduce((p, d) => p * d, 4);
    sizes.set(dataId, bytes);
    live += bytes;
    peak = Math.max(peak, live);
    return dataId;
  };
  backend.disposeData = (dataId, force) => {
    const freed = disposeData.call(backend, dataId, force);
    if (freed && sizes.has(dataId)) {
      live -= sizes.get(dataId)!;
      sizes.delete(dataId);
    }
    return freed;
  };
  try {
    fn();
  } finally {
    backend.write = write;
    backend.disposeData = disposeData;
  }
  return peak;
}

describe('leanVariableGrads', () => {
  it('gives tf.variableGrads bit for bit, with a lower memory peak and no leaked tensor', async (t) => {
    await initBackend({ backend: 'wasm' });
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 8,
      numClasses: 10,
      seed: 3,
    });
    // Training mode normalises with batch statistics, so both passes compute the same function.
    model.train();
    const x = tf.randomNormal([4, 96, 96, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([3, 8, 0, 1], 'int32'), 10);
    const variables = model.parameters().map((p) => p.variable);
    const loss = () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar;
    const run = (lean: boolean) => {
      let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | null = null;
      const peak = peakLiveBytes(() => {
        result = lean
          ? leanVariableGrads(loss, variables)
          : (tf.variableGrads(loss, variables) as typeof result);
      });
      return { ...result!, peak };
    };
    const reference = run(false);
    const before = tf.memory().numTensors;
    const lean = run(true);
    assert.equal(
      tf.memory().numTensors - before,
      1 + Object.keys(lean.grads).length,
      'only the value and grads remain',
    );
    assert.equal(lean.value.dataSync()[0], reference.value.dataSync()[0]);
    assert.deepEqual(Object.keys(lean.grads).sort(), Object.keys(reference.grads).sort());
    for (const [name, grad] of Object.entries(reference.grads)) {
      assert.deepEqual(lean.grads[name].dataSync(), grad.dataSync(), name);
    }
    assert.ok(lean.peak < 0.8 * reference.peak, `peak ${lean.peak} vs ${reference.peak} bytes`);
    t.diagnostic(
      `peak live wasm memory: ${(lean.peak / 1e6).toFixed(1)} MB lean, ${(reference.peak / 1e6).toFixed(1)} MB tfjs`,
    );
    tf.dispose([
      x,
      labels,
      lean.value,
      reference.value,
      ...Object.values(lean.grads),
      ...Object.values(reference.grads),
    ]);
    model.dispose();
  });
});
