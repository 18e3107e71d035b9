/** The shortcut projection of a ResNet stage: `downsample.0` conv1x1(stride) + `downsample.1` BN. */
import type * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';

export class Downsample extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(inChannels: number, outChannels: number, stride: number, rng: Rng) {
    super();
    this.conv = this.addModule('0', new Conv2d(inChannels, outChannels, 1, rng, { stride }));
    this.bn = this.addModule('1', new BatchNorm2d(outChannels));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.bn.forward(this.conv.forward(x));
  }
}
