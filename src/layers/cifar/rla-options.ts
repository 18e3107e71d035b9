/**
 * The design choices of our CIFAR RLA-Nets (docs/cifar.md). The paper's CIFAR models are unpublished, so each
 * choice the paper leaves open is an option; the defaults are the ones that reproduce Table 2's +Params.
 */

import { checkPositiveInteger } from '../../util/checks.js';
import { RLA_INPUTS, type RLAHead, type RLAInput, type RLAUpdateRule } from '../rla-update.js';

/**
 * Where h joins a block's main path.
 * - `conv1`: the first conv reads cat(act(x), h): h raw, x activated, as in every official RLA-Net.
 * - `pre-activation`: cat(x, h) goes through the block's leading activation (BN-ReLU or ReLU) first.
 * - `conv2`: the second conv reads cat(act(conv1 output), h), with h pooled where conv1 has stride 2.
 */
export type CifarRLAEntry = 'conv1' | 'pre-activation' | 'conv2';

export const CIFAR_RLA_ENTRIES: readonly CifarRLAEntry[] = ['conv1', 'pre-activation', 'conv2'];

/**
 * Order of the RLA update around the recurrent conv (u = conv_out(y)).
 * - `pre`: h <- rec(tanh(BN_t(h + u))), RLA-Net itself (paper eq. 8); the head classifies relu(bn2(h)).
 * - `post`: h <- tanh(BN_t(rec(h + u))), the paper's PostAct ablation (Table 6 e); the head takes h as is.
 */
export type CifarRLAActivation = 'pre' | 'post';

export const CIFAR_RLA_ACTIVATIONS: readonly CifarRLAActivation[] = ['pre', 'post'];

/** The RLA update rule and head (layers/rla-update.ts) each activation order stands for. */
export const CIFAR_RLA_RULES: Record<CifarRLAActivation, { update: RLAUpdateRule; head: RLAHead }> = {
  pre: { update: 'add-before', head: 'bn-relu' },
  post: { update: 'post-activation', head: 'none' },
};

/** A dense 3x3 recurrent conv (RLA-ResNets) or a depthwise one (the paper's dsRLA-MobileNetV2). */
export type CifarRecurrentConv = 'dense' | 'depthwise';

/** Every RLA choice of a CIFAR model. */
export interface CifarRLAConfig {
  /** k, channels of the hidden state h. */
  rlaChannel: number;
  /** Which tensor y the RLA path aggregates after each block (see `RLAInput`). */
  input: RLAInput;
  entry: CifarRLAEntry;
  activation: CifarRLAActivation;
  recurrentConv: CifarRecurrentConv;
}

/** Throws a clear error for a choice outside the design space (values may come from untyped CLI input). */
export function validateCifarRLAConfig(config: CifarRLAConfig): void {
  checkPositiveInteger('rlaChannel', config.rlaChannel);
  const check = <T extends string>(name: string, value: T, allowed: readonly T[]) => {
    if (!allowed.includes(value))
      throw new Error(`${name} must be one of ${allowed.join(', ')}, got ${value}`);
  };
  check('rlaInput', config.input, RLA_INPUTS);
  check('rlaEntry', config.entry, CIFAR_RLA_ENTRIES);
  check('rlaActivation', config.activation, CIFAR_RLA_ACTIVATIONS);
  check('recurrentConv', config.recurrentConv, ['dense', 'depthwise']);
}
