/**
 * BatchNorm2d with PyTorch semantics over NHWC tensors: eps 1e-5, momentum 0.1
 * (running = (1 - momentum) * running + momentum * batch), biased batch variance for normalising and the
 * unbiased variance for the running estimate, and an int `num_batches_tracked` buffer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { constantTensor } from './init.js';
import { Buffer, Module, Parameter } from './module.js';
import { numel, recordMacs } from './op-counter.js';

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
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, reduceAxes);
      this.updateRunningStats(mean, variance, count);
      return tf.batchNorm(x, mean, variance, offset, scale, this.eps) as T;
    });
  }

  private updateRunningStats(mean: tf.Tensor, biasedVariance: tf.Tensor, count: number): void {
    const m = this.momentum;
    const unbiased = tf.mul(biasedVariance, count / (count - 1));
    this.runningMean.variable.assign(tf.add(tf.mul(this.runningMean.value, 1 - m), tf.mul(mean, m)));
    this.runningVar.variable.assign(tf.add(tf.mul(this.runningVar.value, 1 - m), tf.mul(unbiased, m)));
    this.numBatchesTracked.variable.assign(tf.add(this.numBatchesTracked.value, tf.scalar(1, 'int32')));
  }
}
