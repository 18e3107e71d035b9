/**
 * ECA channel attention (Wang et al., CVPR 2020), as `models/eca_module.py`: global average pool ->
 * Conv1d(1, 1, k, padding (k-1)/2, no bias) across the channel axis -> sigmoid -> rescale.
 * Official names: `avg_pool` (no state), `conv`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv1d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { GlobalAvgPool2d } from '../nn/pool.js';

export class ECA extends Module {
  readonly avgPool: GlobalAvgPool2d;
  readonly conv: Conv1d;

  constructor(
    readonly channels: number,
    readonly kernelSize: number,
    rng: Rng,
  ) {
    super();
    if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
      throw new Error(`ECA kernel size must be a positive odd integer, got ${kernelSize}`);
    }
    this.avgPool = this.addModule('avg_pool', new GlobalAvgPool2d());
    this.conv = this.addModule('conv', new Conv1d(1, 1, kernelSize, rng, { padding: (kernelSize - 1) / 2 }));
  }

  /** x: NHWC -> same shape. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, , , c] = x.shape;
      const pooled = tf.reshape<tf.Rank.R3>(this.avgPool.forward(x), [n, c, 1]);
      const attention = tf.sigmoid(this.conv.forward(pooled));
      return tf.mul(x, tf.reshape(attention, [n, 1, 1, c]));
    });
  }
}
