/** Shared pieces of the ONNX tests: running an exported model in ONNX Runtime and comparing with TF.js. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../../../src/models/classifier.js';
import { BatchNorm2d } from '../../../src/nn/batchnorm.js';
import { type ExportOnnxOptions, exportOnnx } from '../../../src/onnx/export.js';
import { createInferenceSession, type FloatArrayTensor } from '../../../src/onnx/session.js';
import { maxAbs, maxAbsDiff } from '../../helpers/tensors.js';

/** The tolerance on logits: 1e-4 * max(1, max|ref|). */
export function logitsTolerance(reference: ArrayLike<number>): number {
  return 1e-4 * Math.max(1, maxAbs(reference));
}

/** The fixtures' tolerance on intermediates: 1e-3 * max|ref| (README of test/fixtures/rla-official). */
export function intermediateTolerance(reference: ArrayLike<number>): number {
  return 1e-3 * Math.max(1e-6, maxAbs(reference));
}

/** Deterministic N(0,1)-ish NCHW input (sum of uniforms; no Math.random so failures reproduce). */
export function testImages(shape: [number, number, number, number], seed = 7): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = uniform() + uniform() + uniform() - 1.5;
  return data;
}

/**
 * Sets every BatchNorm's running statistics to the exact batch statistics of `nchw` (one train-mode pass with
 * momentum 1), as the official fixtures calibrate theirs. Without it, weights that are not trained let deep
 * pre-activation nets grow their activations exponentially (1e8 after 54 CIFAR units), and comparisons of
 * tanh-saturated hidden states measure ill-conditioning, not the exporter.
 */
export function calibrateBatchNorm(model: ClassifierModel, nchw: Float32Array, shape: number[]): void {
  const norms = model.namedModules().flatMap(([, module]) => (module instanceof BatchNorm2d ? [module] : []));
  const writable = (bn: BatchNorm2d) => bn as unknown as { momentum: number };
  const momenta = norms.map((bn) => bn.momentum);
  for (const bn of norms) writable(bn).momentum = 1;
  try {
    model.train();
    tf.tidy(() => {
      model.forward(
        tf.transpose(
          tf.tensor4d(nchw, shape as [number, number, number, number]),
          [0, 2, 3, 1],
        ) as tf.Tensor4D,
      );
    });
  } finally {
    norms.forEach((bn, i) => {
      writable(bn).momentum = momenta[i];
    });
    model.eval();
  }
  // Halving every BN scale makes each layer contract perturbations: with gains near 1 a 164-layer net is
  // chaotic and float32 rounding alone (TF.js cpu vs wasm) reaches 2e-4 of the logits.
  for (const bn of norms) bn.weight.set(tf.mul(bn.weight.value, 0.5));
}

/** Every output of `model` exported with `options`, run by ONNX Runtime with all graph optimizations on. */
export async function runExported(
  model: ClassifierModel,
  nchw: Float32Array,
  shape: number[],
  options: ExportOnnxOptions = {},
): Promise<Record<string, FloatArrayTensor>> {
  const classifier = await createInferenceSession(exportOnnx(model, options), {
    threads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    return await classifier.runNchw(nchw, shape);
  } finally {
    await classifier.release();
  }
}

/** TF.js logits and intermediates (NCHW / flat) of `model` in eval mode for an NCHW batch. */
export function runTfjs(
  model: ClassifierModel,
  nchw: Float32Array,
  shape: number[],
): Record<string, Float32Array> {
  model.eval();
  const outputs = tf.tidy(() => {
    const x = tf.transpose(
      tf.tensor4d(nchw, shape as [number, number, number, number]),
      [0, 2, 3, 1],
    ) as tf.Tensor4D;
    return model.forwardIntermediates(x);
  });
  const result: Record<string, Float32Array> = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    result[name] = tf
      .tidy(() => (tensor.rank === 4 ? tf.transpose(tensor, [0, 3, 1, 2]) : tensor))
      .dataSync() as Float32Array;
  }
  tf.dispose(Object.values(outputs));
  return result;
}

/** Asserts max|actual - expected| <= tolerance and returns the difference (for reports). */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
): number {
  const diff = maxAbsDiff(actual, expected);
  assert.ok(
    diff <= tolerance,
    `${what}: max abs diff ${diff.toExponential(3)} > tolerance ${tolerance.toExponential(3)}`,
  );
  return diff;
}
