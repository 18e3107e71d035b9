/**
 * Xception's separable convolution: a depthwise 3x3 conv (one filter per input channel) then a pointwise 1x1
 * conv, no biases, no BN or activation between them (Chollet 2017). Names: depthwise, pointwise.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module } from '../../nn/module.js';

export class SeparableConv2d extends Module {
  readonly depthwise: Conv2d;
  readonly pointwise: Conv2d;

  constructor(inChannels: number, outChannels: number, rng: Rng) {
    super();
    this.depthwise = this.addModule(
      'depthwise',
      new Conv2d(inChannels, inChannels, 3, rng, { padding: 1, groups: inChannels }),
    );
    this.pointwise = this.addModule('pointwise', new Conv2d(inChannels, outChannels, 1, rng));
  }

  /** NHWC [N, H, W, in] -> [N, H, W, out]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.pointwise.forward(this.depthwise.forward(x));
  }
}
