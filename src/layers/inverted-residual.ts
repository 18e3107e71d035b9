/**
 * MobileNetV2 inverted residual blocks, as `models/mobilenetv2.py` (`InvertedResidual`) and its RLA form, as
 * `models/mobilenetv2_dsrla.py` / `models/mobilenetv2_rla.py`, which expands x alone, then runs the depthwise
 * conv over cat(x_expanded, h).
 * Official names: baseline `conv.{0..}` = [expand ConvBNReLU], depthwise ConvBNReLU, pointwise conv, BN, [ECA];
 * RLA `conv1x1` (the expand ConvBNReLU, when t != 1) then `conv.{0..}` = depthwise, pointwise, BN, [ECA].
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { AvgPool2d } from '../nn/pool.js';
import { ConvBNReLU6 } from './conv-bn-relu6.js';
import { ECA } from './eca.js';
import { poolRLAState, type RLAState } from './rla-update.js';

interface BranchConfig {
  /** Input channels of an expand 1x1 ConvBNReLU inside the branch, or null for none. */
  expandFrom: number | null;
  /** Channels of the depthwise conv. */
  depthwiseChannels: number;
  outChannels: number;
  stride: number;
  ecaKernelSize: number | null;
}

/** The `conv` Sequential of an inverted residual; its layers are registered under consecutive indices. */
class InvertedResidualBranch extends Module {
  readonly expand: ConvBNReLU6 | null;
  readonly depthwise: ConvBNReLU6;
  readonly project: Conv2d;
  readonly projectBn: BatchNorm2d;
  readonly eca: ECA | null;

  constructor(config: BranchConfig, rng: Rng) {
    super();
    let index = 0;
    const next = () => String(index++);
    const dw = config.depthwiseChannels;
    this.expand =
      config.expandFrom !== null
        ? this.addModule(next(), new ConvBNReLU6(config.expandFrom, dw, 1, rng))
        : null;
    this.depthwise = this.addModule(
      next(),
      new ConvBNReLU6(dw, dw, 3, rng, { stride: config.stride, groups: dw }),
    );
    this.project = this.addModule(next(), new Conv2d(dw, config.outChannels, 1, rng));
    this.projectBn = this.addModule(next(), new BatchNorm2d(config.outChannels));
    this.eca =
      config.ecaKernelSize !== null
        ? this.addModule(next(), new ECA(config.outChannels, config.ecaKernelSize, rng))
        : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const expanded = this.expand ? this.expand.forward(x) : x;
      const out = this.projectBn.forward(this.project.forward(this.depthwise.forward(expanded)));
      return this.eca ? this.eca.forward(out) : out;
    });
  }
}

export interface InvertedResidualConfig {
  inChannels: number;
  outChannels: number;
  stride: 1 | 2;
  /** t: the hidden width is round(inChannels * t); t = 1 has no expand conv. */
  expandRatio: number;
  /** ECA kernel size, or null for no ECA. */
  ecaKernelSize: number | null;
}

function hiddenChannels(config: InvertedResidualConfig): number {
  return Math.round(config.inChannels * config.expandRatio);
}

function usesResidual(config: InvertedResidualConfig): boolean {
  return config.stride === 1 && config.inChannels === config.outChannels;
}

/** Baseline block: x + branch(x) when stride 1 and in == out, else branch(x). */
export class InvertedResidual extends Module {
  readonly conv: InvertedResidualBranch;
  readonly useResidual: boolean;

  constructor(config: InvertedResidualConfig, rng: Rng) {
    super();
    this.useResidual = usesResidual(config);
    this.conv = this.addModule(
      'conv',
      new InvertedResidualBranch(
        {
          expandFrom: config.expandRatio !== 1 ? config.inChannels : null,
          depthwiseChannels: hiddenChannels(config),
          outChannels: config.outChannels,
          stride: config.stride,
          ecaKernelSize: config.ecaKernelSize,
        },
        rng,
      ),
    );
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const branch = this.conv.forward(x);
      return this.useResidual ? tf.add<tf.Tensor4D>(x, branch) : branch;
    });
  }
}

/** What an RLA inverted residual hands to the RLA update. */
export interface RLAInvertedResidualOutput {
  /** x + branch when the block has a residual connection, else branch: the next block's x. */
  out: tf.Tensor4D;
  /** The branch before the residual addition: the official `y` the RLA update aggregates. */
  branch: tf.Tensor4D;
  /** The RLA state at the block's output resolution (pooled 2x2 in stride-2 blocks). */
  state: RLAState;
}

/** RLA block: expand x alone, then depthwise over cat(x_expanded, h) (k more channels), pointwise, BN [, ECA]. */
export class RLAInvertedResidual extends Module {
  readonly conv1x1: ConvBNReLU6 | null;
  readonly conv: InvertedResidualBranch;
  readonly useResidual: boolean;
  /** Pools h in stride-2 blocks (official `averagePooling`, no state). */
  readonly averagePooling: AvgPool2d | null;

  constructor(config: InvertedResidualConfig, rlaChannel: number, rng: Rng) {
    super();
    const hidden = hiddenChannels(config);
    this.useResidual = usesResidual(config);
    this.conv1x1 =
      config.expandRatio !== 1
        ? this.addModule('conv1x1', new ConvBNReLU6(config.inChannels, hidden, 1, rng))
        : null;
    this.conv = this.addModule(
      'conv',
      new InvertedResidualBranch(
        {
          expandFrom: null,
          depthwiseChannels: hidden + rlaChannel,
          outChannels: config.outChannels,
          stride: config.stride,
          ecaKernelSize: config.ecaKernelSize,
        },
        rng,
      ),
    );
    this.averagePooling = config.stride !== 1 ? new AvgPool2d(2, 2) : null;
  }

  /** One block step on NHWC x and RLA state. */
  forwardWithState(x: tf.Tensor4D, state: RLAState): RLAInvertedResidualOutput {
    const branch = tf.tidy(() => {
      const expanded = this.conv1x1 ? this.conv1x1.forward(x) : x;
      return this.conv.forward(tf.concat([expanded, state.h], 3));
    });
    const out = this.useResidual ? tf.add<tf.Tensor4D>(x, branch) : branch;
    const pooled = this.averagePooling ? poolRLAState(state, this.averagePooling) : state;
    return { out, branch, state: pooled };
  }
}
