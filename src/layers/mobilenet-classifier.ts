/**
 * MobileNetV2's `classifier` Sequential: Dropout(0.2) -> Linear. Official child names `0` (no state) and `1`.
 * The Linear is initialised as the official MobileNets do: weight ~ N(0, 0.01), bias 0.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { constantTensor, normalTensor, type Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { Dropout } from './dropout.js';

export const MOBILENET_DROPOUT = 0.2;

export class MobileNetClassifier extends Module {
  readonly dropout: Dropout;
  readonly linear: Linear;

  constructor(inFeatures: number, numClasses: number, rng: Rng) {
    super();
    this.dropout = this.addModule('0', new Dropout(MOBILENET_DROPOUT, rng.fork()));
    this.linear = this.addModule('1', new Linear(inFeatures, numClasses, rng));
    this.linear.weight.set(normalTensor(rng, this.linear.weight.shape, 0.01));
    this.linear.bias?.set(constantTensor([numClasses], 0));
  }

  /** x: [N, inFeatures] -> logits [N, numClasses]. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    return this.linear.forward(this.dropout.forward(x));
  }
}
