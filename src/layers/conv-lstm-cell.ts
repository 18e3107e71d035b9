/**
 * The ConvLSTM cell of the RLA ablation `rlalstm_resnet50`, as `models/convlstm_unfolded.py`
 * (`ConvLSTMCell_layer`, after ndrplz/ConvLSTM_pytorch): one 3x3 conv (no bias) over cat(input, h) gives the
 * input, forget, output and candidate gates in that channel order. Official child name: `conv`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';

/** ConvLSTM hidden and memory state, NHWC. */
export interface LSTMState {
  h: tf.Tensor4D;
  c: tf.Tensor4D;
}

export class ConvLSTMCell extends Module {
  readonly conv: Conv2d;

  constructor(
    inputChannels: number,
    readonly hiddenChannels: number,
    rng: Rng,
    kernelSize = 3,
  ) {
    super();
    this.conv = this.addModule(
      'conv',
      new Conv2d(inputChannels + hiddenChannels, 4 * hiddenChannels, kernelSize, rng, {
        padding: Math.floor(kernelSize / 2),
      }),
    );
  }

  /** One step: c' = f*c + i*g, h' = o*tanh(c'). */
  forward(input: tf.Tensor4D, state: LSTMState): LSTMState {
    const [h, c] = tf.tidy(() => {
      const gates = this.conv.forward(tf.concat([input, state.h], 3));
      const [i, f, o, g] = tf.split(gates, 4, 3);
      const memory = tf.add(tf.mul(tf.sigmoid(f), state.c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      return [tf.mul(tf.sigmoid(o), tf.tanh(memory)), memory] as tf.Tensor4D[];
    });
    return { h, c };
  }
}
