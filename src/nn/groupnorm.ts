/**
 * GroupNorm with PyTorch semantics over NHWC tensors: channels are split into `numGroups` contiguous groups and
 * each (sample, group) is normalised with its own mean and biased variance, then scaled and shifted per channel.
 * No running statistics: training and inference compute the same thing.
 * thop 0.0.31 has no rule for GroupNorm, so it records no MACs (and `countThopParams` skips its parameters).
 */
import * as tf from '@tensorflow/tfjs-core';
import { constantTensor } from './init.js';
import { Module, Parameter } from './module.js';
import { activeTracer } from './trace-hook.js';

export class GroupNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) {
      throw new Error(`GroupNorm: ${numGroups} groups must divide ${numChannels} channels`);
    }
    this.weight = affine
      ? this.addParameter('weight', new Parameter(constantTensor([numChannels], 1)))
      : null;
    this.bias = affine ? this.addParameter('bias', new Parameter(constantTensor([numChannels], 0))) : null;
  }

  /** x: NHWC -> same shape. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    if (c !== this.numChannels) {
      throw new Error(`GroupNorm expects ${this.numChannels} channels, got ${c} (shape [${x.shape}])`);
    }
    return tf.tidy(() => {
      const grouped = tf.reshape(x, [n, h, w, this.numGroups, c / this.numGroups]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const normalised = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, this.eps))), [
        n,
        h,
        w,
        c,
      ]) as tf.Tensor4D;
      if (!this.weight || !this.bias) return normalised;
      return tf.add(tf.mul(normalised, this.weight.value), this.bias.value) as tf.Tensor4D;
    });
  }
}
