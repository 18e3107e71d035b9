/** mmcv's `ConvModule` as the detectors use it (no norm): a biased `conv` child, then an optional ReLU. */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, type Conv2dOptions } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';

export class ConvModule extends Module {
  readonly conv: Conv2d;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    rng: Rng,
    options: Omit<Conv2dOptions, 'bias'> & { relu?: boolean } = {},
  ) {
    super();
    const { relu: _relu, ...convOptions } = options;
    this.conv = this.addModule(
      'conv',
      new Conv2d(inChannels, outChannels, kernelSize, rng, { ...convOptions, bias: true }),
    );
    this.relu = options.relu ?? false;
  }

  private readonly relu: boolean;

  /** NHWC in, NHWC out. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = this.conv.forward(x);
      return this.relu ? tf.relu(y) : y;
    });
  }
}
