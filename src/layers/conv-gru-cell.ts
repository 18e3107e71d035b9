/**
 * The ConvGRU cell of the RLA ablation `rlagru_resnet*`, as `models/convgru_unfolded.py` (`ConvGRUCell_layer`):
 *   r, u = sigmoid(GN(split(gate_conv(cat(x, h)))))      reset and update gates
 *   y    = tanh(GN(output_conv(cat(x, r * h))))
 *   h'   = u * h + (1 - u) * y
 * Both 3x3 convs have biases; every GroupNorm is GroupNorm(1, C, eps 1e-6). Official child names, in order:
 * gate_conv, reset_gate_norm, update_gate_norm, output_conv, output_norm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../nn/conv.js';
import { GroupNorm } from '../nn/groupnorm.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';

const GRU_NORM_EPS = 1e-6;

export class ConvGRUCell extends Module {
  readonly gateConv: Conv2d;
  readonly resetGateNorm: GroupNorm;
  readonly updateGateNorm: GroupNorm;
  readonly outputConv: Conv2d;
  readonly outputNorm: GroupNorm;

  constructor(
    inputChannels: number,
    readonly hiddenChannels: number,
    rng: Rng,
    kernelSize = 3,
  ) {
    super();
    const options = { padding: Math.floor(kernelSize / 2), bias: true };
    const k = hiddenChannels;
    this.gateConv = this.addModule(
      'gate_conv',
      new Conv2d(inputChannels + k, 2 * k, kernelSize, rng, options),
    );
    this.resetGateNorm = this.addModule('reset_gate_norm', new GroupNorm(1, k, GRU_NORM_EPS));
    this.updateGateNorm = this.addModule('update_gate_norm', new GroupNorm(1, k, GRU_NORM_EPS));
    this.outputConv = this.addModule(
      'output_conv',
      new Conv2d(inputChannels + k, k, kernelSize, rng, options),
    );
    this.outputNorm = this.addModule('output_norm', new GroupNorm(1, k, GRU_NORM_EPS));
  }

  /** One step on NHWC input x and hidden state h; returns the new h. */
  forward(x: tf.Tensor4D, h: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [r, u] = tf.split(this.gateConv.forward(tf.concat([x, h], 3)), 2, 3) as tf.Tensor4D[];
      const reset = tf.sigmoid(this.resetGateNorm.forward(r));
      const update = tf.sigmoid(this.updateGateNorm.forward(u));
      const candidate = tf.tanh(
        this.outputNorm.forward(this.outputConv.forward(tf.concat([x, tf.mul<tf.Tensor4D>(reset, h)], 3))),
      );
      return tf.add<tf.Tensor4D>(tf.mul(update, h), tf.mul(tf.sub(1, update), candidate));
    });
  }
}
