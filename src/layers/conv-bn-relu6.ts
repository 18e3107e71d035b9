/**
 * MobileNetV2's `ConvBNReLU` Sequential (official name; the activation is ReLU6): conv (padding (k-1)/2, no bias)
 * -> BN -> ReLU6. Official child names `0` (conv) and `1` (BN).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';

export class ConvBNReLU6 extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    rng: Rng,
    options: { stride?: number; groups?: number } = {},
  ) {
    super();
    this.conv = this.addModule(
      '0',
      new Conv2d(inChannels, outChannels, kernelSize, rng, {
        stride: options.stride ?? 1,
        groups: options.groups ?? 1,
        padding: Math.floor((kernelSize - 1) / 2),
      }),
    );
    this.bn = this.addModule('1', new BatchNorm2d(outChannels));
  }

  /** x: NHWC -> relu6(bn(conv(x))). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.relu6(this.bn.forward(this.conv.forward(x))));
  }
}
