/**
 * Squeeze-and-Excitation (Hu et al.), as `models/se_module.py`: GAP -> Linear(C, C/r, no bias) -> ReLU ->
 * Linear(C/r, C, no bias) -> sigmoid -> rescale. Official names: `avg_pool`, `fc.0`, `fc.2`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { GlobalAvgPool2d } from '../nn/pool.js';

/** The `fc` Sequential of SELayer: only its Linear layers hold state, under their indices 0 and 2. */
class SEGate extends Module {
  readonly squeeze: Linear;
  readonly excite: Linear;
  constructor(channels: number, reduction: number, rng: Rng) {
    super();
    this.squeeze = this.addModule(
      '0',
      new Linear(channels, Math.floor(channels / reduction), rng, { bias: false }),
    );
    this.excite = this.addModule(
      '2',
      new Linear(Math.floor(channels / reduction), channels, rng, { bias: false }),
    );
  }
  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.excite.forward(tf.relu(this.squeeze.forward(x)))));
  }
}

export class SE extends Module {
  readonly avgPool: GlobalAvgPool2d;
  readonly fc: SEGate;

  constructor(channels: number, rng: Rng, reduction = 16) {
    super();
    this.avgPool = this.addModule('avg_pool', new GlobalAvgPool2d());
    this.fc = this.addModule('fc', new SEGate(channels, reduction, rng));
  }

  /** x: NHWC -> same shape. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, , , c] = x.shape;
      const weights = this.fc.forward(tf.reshape(this.avgPool.forward(x), [n, c]));
      return tf.mul(x, tf.reshape(weights, [n, 1, 1, c]));
    });
  }
}
