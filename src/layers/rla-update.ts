/**
 * The RLA hidden-state update of the official RLA-Nets (paper eq. 8, as `models/resnet_rla.py` runs it):
 *   h <- recurrent_conv( tanh( BN_t( h + conv_out(y) ) ) )
 * `conv_out` (1x1, C -> k) and `recurrent_conv` (3x3, k -> k) are shared by all blocks of a stage;
 * each block t has its own BN_t.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import type { Conv2d } from '../nn/conv.js';

/**
 * Which tensor the RLA path aggregates.
 * - `block-output`: relu(branch + shortcut). What the official ResNets compute through an in-place aliasing
 *   quirk (`y = out; out += identity`), and so what the released weights were trained with. Default.
 * - `residual-branch`: the residual branch before the addition, as the paper's Figure 3 describes.
 */
export type RLAInput = 'block-output' | 'residual-branch';

export const RLA_INPUTS: readonly RLAInput[] = ['block-output', 'residual-branch'];

export interface RLAStageModules {
  convOut: Conv2d;
  recurrentConv: Conv2d;
}

/** One RLA update after a block; all tensors NHWC. */
export function rlaUpdate(
  h: tf.Tensor4D,
  y: tf.Tensor4D,
  stage: RLAStageModules,
  bn: BatchNorm2d,
): tf.Tensor4D {
  return tf.tidy(() => {
    const merged = tf.add<tf.Tensor4D>(h, stage.convOut.forward(y));
    return stage.recurrentConv.forward(tf.tanh(bn.forward(merged)));
  });
}
