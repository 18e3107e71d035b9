/**
 * The RLA hidden-state update after each block, in every form the official code has. With u = conv_out(y):
 * - `add-before` (RLA-Net itself, paper eq. 8, `models/resnet_rla.py`, all MobileNets):
 *     h <- recurrent_conv( tanh( BN_t( h + u ) ) )
 * - `add-after` (ablation v2/v4/v6):          h <- recurrent_conv( tanh( BN_t( h ) ) ) + u
 * - `post-activation` (ablation v1post):      h <- tanh( BN_t( recurrent_conv( h + u ) ) )
 * - `convlstm` (ablation lstm):               (h, c) <- ConvLSTM( tanh( BN_t( u ) ), (h, c) )
 * - `convgru` (ablation gru):                 h <- ConvGRU( tanh( BN_t( u ) ), h )
 * `conv_out` is a 1x1 conv (C -> k); `recurrent_conv` a 3x3 conv (k -> k) or the recurrent cell; BN_t a BN(k).
 * Which modules are shared across blocks is the network's business (see `RLACell`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import type { AvgPool2d } from '../nn/pool.js';
import { ConvGRUCell } from './conv-gru-cell.js';
import { ConvLSTMCell } from './conv-lstm-cell.js';

/**
 * Which tensor `y` the RLA path aggregates.
 * - `block-output`: relu(branch + shortcut). What the official ResNets compute through an in-place aliasing
 *   quirk (`y = out; out += identity`), and so what the released weights were trained with. Default.
 * - `residual-branch`: the residual branch before the addition, as the paper's Figure 3 describes (and what the
 *   unshared ablation and the MobileNets use).
 * - `shortcut`: the block's identity path, `downsample(x)` or x (ablations v5 and v6).
 */
export type RLAInput = 'block-output' | 'residual-branch' | 'shortcut';

export const RLA_INPUTS: readonly RLAInput[] = ['block-output', 'residual-branch', 'shortcut'];

/** How h absorbs u = conv_out(y); see the file comment. */
export type RLAUpdateRule = 'add-before' | 'add-after' | 'post-activation' | 'convlstm' | 'convgru';

export const RLA_UPDATE_RULES: readonly RLAUpdateRule[] = [
  'add-before',
  'add-after',
  'post-activation',
  'convlstm',
  'convgru',
];

/** The state carried along depth (NHWC): h, plus the memory c of the ConvLSTM rule. */
export type RLAState = { h: tf.Tensor4D; c?: tf.Tensor4D };

/** What sits under `recurrent_conv(s)`: a 3x3 conv, or a recurrent cell. */
export type RecurrentModule = Conv2d | ConvLSTMCell | ConvGRUCell;

/** What a block hands to the RLA update, NHWC. */
export interface RLABlockOutput {
  /** The block output (branch + shortcut, after the block's final activation if any): the next block's x. */
  out: tf.Tensor4D;
  /** The residual branch before the addition (what the paper's Figure 3 feeds to the RLA path). */
  branch: tf.Tensor4D;
  /** The identity path: the projected x, or x itself. */
  shortcut: tf.Tensor4D;
  /** The RLA state at the block's output resolution (pooled 2x2 where it downsamples); absent without RLA. */
  state?: RLAState;
}

/** The tensor y that `input` selects from a block's output. */
export function rlaInputOf(step: RLABlockOutput, input: RLAInput): tf.Tensor4D {
  switch (input) {
    case 'block-output':
      return step.out;
    case 'residual-branch':
      return step.branch;
    case 'shortcut':
      return step.shortcut;
  }
}

/** What the head does to h before `cat(x, h)`: BN then ReLU (RLA-Net), BN then tanh (ablation v1), or nothing. */
export type RLAHead = 'bn-relu' | 'bn-tanh' | 'none';

export const RLA_HEADS: readonly RLAHead[] = ['bn-relu', 'bn-tanh', 'none'];

/** h as the head uses it; `bn` is the head's BN(k) (`bn2`), null exactly when `head` is `none`. */
export function rlaHeadState(h: tf.Tensor4D, bn: BatchNorm2d | null, head: RLAHead): tf.Tensor4D {
  if (head === 'none') return h;
  if (!bn) throw new Error(`the RLA head ${head} needs its BN on h`);
  return tf.tidy(() => {
    const normalised = bn.forward(h);
    return head === 'bn-tanh' ? tf.tanh(normalised) : tf.relu(normalised);
  });
}

/** The modules one RLA update uses (shared per stage or owned by the block, as the network decides). */
export interface RLACell {
  convOut: Conv2d;
  recurrent: RecurrentModule;
  bn: BatchNorm2d;
}

/** The recurrent module an update rule needs, for a hidden state of k channels. */
export function createRecurrentModule(rule: RLAUpdateRule, k: number, rng: Rng): RecurrentModule {
  switch (rule) {
    case 'convlstm':
      return new ConvLSTMCell(k, k, rng);
    case 'convgru':
      return new ConvGRUCell(k, k, rng);
    default:
      return new Conv2d(k, k, 3, rng, { padding: 1 });
  }
}

/** The all-zero state the networks start from (shape [N, H, W, k] at the stem output). */
export function initialRLAState(rule: RLAUpdateRule, shape: [number, number, number, number]): RLAState {
  return rule === 'convlstm' ? { h: tf.zeros(shape), c: tf.zeros(shape) } : { h: tf.zeros(shape) };
}

/** Pools every tensor of the state 2x2/2 (floor), as the official blocks that downsample do. */
export function poolRLAState(state: RLAState, pool: AvgPool2d): RLAState {
  return state.c ? { h: pool.forward(state.h), c: pool.forward(state.c) } : { h: pool.forward(state.h) };
}

function expectRecurrent<T extends RecurrentModule>(
  cell: RLACell,
  kind: abstract new (...args: never[]) => T,
  rule: RLAUpdateRule,
): T {
  if (!(cell.recurrent instanceof kind)) {
    throw new Error(`RLA update rule ${rule} needs a ${kind.name} as its recurrent module`);
  }
  return cell.recurrent;
}

/** The RLA update after a block: aggregates the tensor `input` selects from the block's output into its state. */
export function rlaUpdateAfter(
  step: RLABlockOutput,
  input: RLAInput,
  cell: RLACell,
  rule: RLAUpdateRule,
): RLAState {
  if (!step.state) throw new Error('an RLA update needs the block to carry the RLA state');
  return rlaUpdate(step.state, rlaInputOf(step, input), cell, rule);
}

/** One RLA update after a block: `y` is the aggregated tensor (see `RLAInput`); all tensors NHWC. */
export function rlaUpdate(state: RLAState, y: tf.Tensor4D, cell: RLACell, rule: RLAUpdateRule): RLAState {
  const { h } = state;
  const update = (): tf.Tensor4D => cell.convOut.forward(y);
  const activate = (t: tf.Tensor4D): tf.Tensor4D => tf.tanh(cell.bn.forward(t));
  switch (rule) {
    case 'add-before': {
      const conv = expectRecurrent(cell, Conv2d, rule);
      return { h: tf.tidy(() => conv.forward(activate(tf.add(h, update())))) };
    }
    case 'add-after': {
      const conv = expectRecurrent(cell, Conv2d, rule);
      return { h: tf.tidy(() => tf.add(conv.forward(activate(h)), update())) };
    }
    case 'post-activation': {
      const conv = expectRecurrent(cell, Conv2d, rule);
      return { h: tf.tidy(() => activate(conv.forward(tf.add(h, update())))) };
    }
    case 'convlstm': {
      const lstm = expectRecurrent(cell, ConvLSTMCell, rule);
      if (!state.c) throw new Error('the convlstm RLA update needs the memory state c');
      const input = tf.tidy(() => activate(update()));
      const next = lstm.forward(input, { h, c: state.c });
      input.dispose();
      return next;
    }
    case 'convgru': {
      const gru = expectRecurrent(cell, ConvGRUCell, rule);
      return { h: tf.tidy(() => gru.forward(activate(update()), h)) };
    }
  }
}
