/**
 * The RLA path of our CIFAR RLA-Nets (docs/cifar.md), following the paper's guidelines: a stage is a run of
 * blocks at one resolution; each stage shares one 1x1 `conv_out` (C_s -> k) and one 3x3 recurrent conv (k -> k),
 * each block has its own BN(k); h starts at zero at the stem resolution and is average-pooled 2x2 where a block
 * downsamples; the head classifies cat(x, h).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import { type CifarRLAConfig, validateCifarRLAConfig } from './rla-options.js';

/** One block's result, NHWC. */
export interface CifarBlockStep {
  /** branch + shortcut: the next block's x. */
  out: tf.Tensor4D;
  /** The residual branch before the addition. */
  branch: tf.Tensor4D;
  /** The identity path (x or its projection). */
  shortcut: tf.Tensor4D;
  /** h at the block's output resolution (pooled 2x2 where the block downsamples); absent without RLA. */
  h?: tf.Tensor4D;
}

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
    this.bn2 = config.activation === 'pre' ? this.addModule('bn2', new BatchNorm2d(k)) : null;
  }

  /** The all-zero hidden state [N, H, W, k] at the resolution of `x` (the stem output). */
  initialState(x: tf.Tensor4D): tf.Tensor4D {
    const [n, height, width] = x.shape;
    return tf.zeros([n, height, width, this.config.rlaChannel]);
  }

  /** h after block `block` of stage `stage`, from that block's step (whose `h` is already pooled). */
  update(stage: number, block: number, step: CifarBlockStep): tf.Tensor4D {
    if (!step.h) throw new Error('an RLA block step must carry h');
    const h = step.h;
    const y = { 'block-output': step.out, 'residual-branch': step.branch, shortcut: step.shortcut }[
      this.config.input
    ];
    const convOut = this.conv_outs.at(stage);
    const recurrent = this.recurrent_convs.at(stage);
    const bn = this.stage_bns.at(stage).at(block);
    return tf.tidy(() => {
      const merged = tf.add<tf.Tensor4D>(h, convOut.forward(y));
      return this.config.activation === 'pre'
        ? recurrent.forward(tf.tanh(bn.forward(merged)))
        : tf.tanh(bn.forward(recurrent.forward(merged)));
    });
  }

  /** What the classifier sees of h: relu(bn2(h)) after pre-activation updates, h itself (already tanh) after post. */
  head(h: tf.Tensor4D): tf.Tensor4D {
    const bn = this.bn2;
    return bn ? tf.tidy(() => tf.relu(bn.forward(h))) : h;
  }
}
