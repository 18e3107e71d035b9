/**
 * BatchNorm2d with PyTorch semantics over NHWC tensors: eps 1e-5, momentum 0.1
 * (running = (1 - momentum) * running + momentum * batch), biased batch variance for normalising and the
 * unbiased variance for the running estimate, and an int `num_batches_tracked` buffer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../util/shape.js';
import { constantTensor } from './init.js';
import { Buffer, Module, Parameter } from './module.js';
import { recordMacs } from './op-counter.js';
import { activeTracer } from './trace-hook.js';

export class BatchNorm2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Buffer;
  readonly runningVar: Buffer;
  readonly numBatchesTracked: Buffer;

  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.addParameter('weight', new Parameter(constantTensor([numFeatures], 1)));
    this.bias = this.addParameter('bias', new Parameter(constantTensor([numFeatures], 0)));
    this.runningMean = this.addBuffer('running_mean', new Buffer(constantTensor([numFeatures], 0)));
    this.runningVar = this.addBuffer('running_var', new Buffer(constantTensor([numFeatures], 1)));
    this.numBatchesTracked = this.addBuffer('num_batches_tracked', new Buffer(tf.scalar(0, 'int32')));
  }

  /** x: NHWC (or any tensor whose last axis is the channel axis). */
  forward<T extends tf.Tensor>(x: T): T {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as T;
    const channels = x.shape[x.rank - 1];
    if (channels !== this.numFeatures) {
      throw new Error(
        `BatchNorm2d expects ${this.numFeatures} channels, got ${channels} (shape [${x.shape}])`,
      );
    }
    // thop counts 2 ops per input element whatever the mode.
    recordMacs(2 * numel(x.shape));
    const scale = this.weight.value as tf.Tensor1D;
    const offset = this.bias.value as tf.Tensor1D;
    if (!this.training) {
      return tf.batchNorm(x, this.runningMean.value, this.runningVar.value, offset, scale, this.eps) as T;
    }
    const reduceAxes = [...Array(x.rank - 1).keys()];
    const count = numel(x.shape) / channels;
    if (count < 2) {
      throw new Error(
        `BatchNorm2d: expected more than 1 value per channel when training, got input shape [${x.shape}]`,
      );
    }
    return this.normalizeBatch(x, scale, offset, reduceAxes, count) as T;
  }

  /**
   * Training-mode BatchNorm as one differentiable op with the closed-form backward pass (`ops` counts full-size
   * passes over x):
   *   forward   mean, x - mean, square, mean (biased variance), y = x * a + b                     5 ops
   *   backward  sum(dy), sum(dy * (x - mean)) and dx = dy * k1 + x * k2 + k3 per channel, where
   *             k1 = scale * invStd, k2 = -k1 * invStd^2 * sum(dy * (x - mean)) / N,
   *             k3 = -k1 * sum(dy) / N - k2 * mean                                                  8 ops
   * Differentiating tfjs's composition (moments, then batchNorm with the batch statistics) took about 15 full-size
   * passes and kept several full-size temporaries alive until the end of the backward pass; here only x, mean
   * and invStd are kept. Same mathematics as PyTorch's native batch_norm backward.
   */
  private normalizeBatch(
    x: tf.Tensor,
    scale: tf.Tensor1D,
    offset: tf.Tensor1D,
    axes: number[],
    count: number,
  ): tf.Tensor {
    const eps = this.eps;
    const op = tf.customGrad((input, weight, bias, save) => {
      const xIn = input as tf.Tensor;
      const mean = tf.mean(xIn, axes);
      const variance = tf.mean(tf.square(tf.sub(xIn, mean)), axes);
      this.updateRunningStats(mean, variance, count);
      const invStd = tf.rsqrt(tf.add(variance, eps));
      (save as tf.GradSaveFunc)([xIn, mean, invStd, weight as tf.Tensor]);
      return {
        value: tf.batchNorm(xIn, mean, variance, bias as tf.Tensor1D, weight as tf.Tensor1D, eps),
        gradFunc: (dy, saved) => {
          const [xSaved, meanSaved, inv, w] = saved;
          const dyT = dy as tf.Tensor;
          const sumDy = tf.sum(dyT, axes);
          const sumDyCentered = tf.sum(tf.mul(dyT, tf.sub(xSaved, meanSaved)), axes);
          const k1 = tf.mul(w, inv);
          const k2 = tf.mul(tf.mul(k1, tf.square(inv)), tf.mul(sumDyCentered, -1 / count));
          const k3 = tf.sub(tf.mul(k1, tf.mul(sumDy, -1 / count)), tf.mul(k2, meanSaved));
          const dx = tf.add(tf.mul(dyT, k1), tf.add(tf.mul(xSaved, k2), k3));
          return [dx, tf.mul(sumDyCentered, inv), sumDy];
        },
      };
    });
    return op(x, scale, offset);
  }

  private updateRunningStats(mean: tf.Tensor, biasedVariance: tf.Tensor, count: number): void {
    const m = this.momentum;
    const unbiased = tf.mul(biasedVariance, count / (count - 1));
    this.runningMean.variable.assign(tf.add(tf.mul(this.runningMean.value, 1 - m), tf.mul(mean, m)));
    this.runningVar.variable.assign(tf.add(tf.mul(this.runningVar.value, 1 - m), tf.mul(unbiased, m)));
    this.numBatchesTracked.variable.assign(tf.add(this.numBatchesTracked.value, tf.scalar(1, 'int32')));
  }
}
