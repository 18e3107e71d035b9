/**
 * The RLA path of our CIFAR RLA-Nets (docs/cifar.md), following the paper's guidelines: a stage is a run of
 * blocks at one resolution; each stage shares one 1x1 `conv_out` (C_s -> k) and one 3x3 recurrent conv (k -> k),
 * each block has its own BN(k); h starts at zero at the stem resolution and is average-pooled 2x2 where a block
 * downsamples; the head classifies cat(x, h). The update and head rules are the shared ones of
 * layers/rla-update.ts; this module only owns the CIFAR models' modules and their state_dict names.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import {
  initialRLAState,
  type RLABlockOutput,
  type RLAState,
  rlaHeadState,
  rlaUpdateAfter,
} from '../rla-update.js';
import { CIFAR_RLA_RULES, type CifarRLAConfig, validateCifarRLAConfig } from './rla-options.js';

export class CifarRLAPath extends Module {
  readonly conv_outs: ModuleList<Conv2d>;
  readonly recurrent_convs: ModuleList<Conv2d>;
  readonly stage_bns: ModuleList<ModuleList<BatchNorm2d>>;
  /** BN on h before the classifier (pre-activation updates only, as in the official PostAct ablation). */
  readonly bn2: BatchNorm2d | null;

  /** `stageChannels[s]`: channels of the aggregated tensor y in stage s; `blocksPerStage[s]`: its blocks. */
  constructor(
    readonly config: CifarRLAConfig,
    stageChannels: readonly number[],
    blocksPerStage: readonly number[],
    rng: Rng,
  ) {
    super();
    validateCifarRLAConfig(config);
    const k = config.rlaChannel;
    const groups = config.recurrentConv === 'depthwise' ? k : 1;
    this.conv_outs = this.addModule(
      'conv_outs',
      new ModuleList(stageChannels.map((c) => new Conv2d(c, k, 1, rng))),
    );
    this.recurrent_convs = this.addModule(
      'recurrent_convs',
      new ModuleList(stageChannels.map(() => new Conv2d(k, k, 3, rng, { padding: 1, groups }))),
    );
    this.stage_bns = this.addModule(
      'stage_bns',
      new ModuleList(
        blocksPerStage.map((n) => new ModuleList(Array.from({ length: n }, () => new BatchNorm2d(k)))),
      ),
    );
    this.bn2 =
      CIFAR_RLA_RULES[config.activation].head !== 'none' ? this.addModule('bn2', new BatchNorm2d(k)) : null;
  }

  /** The all-zero state (h: [N, H, W, k]) at the resolution of `x` (the stem output). */
  initialState(x: tf.Tensor4D): RLAState {
    const [n, height, width] = x.shape;
    return initialRLAState(CIFAR_RLA_RULES[this.config.activation].update, [
      n,
      height,
      width,
      this.config.rlaChannel,
    ]);
  }

  /** The state after block `block` of stage `stage`, from that block's output (whose state is already pooled). */
  update(stage: number, block: number, step: RLABlockOutput): RLAState {
    const cell = {
      convOut: this.conv_outs.at(stage),
      recurrent: this.recurrent_convs.at(stage),
      bn: this.stage_bns.at(stage).at(block),
    };
    return rlaUpdateAfter(step, this.config.input, cell, CIFAR_RLA_RULES[this.config.activation].update);
  }

  /** What the classifier sees of h: relu(bn2(h)) after pre-activation updates, h itself (already tanh) after post. */
  head(h: tf.Tensor4D): tf.Tensor4D {
    return rlaHeadState(h, this.bn2, CIFAR_RLA_RULES[this.config.activation].head);
  }
}
