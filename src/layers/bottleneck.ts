/**
 * ResNet v1.5 bottleneck (stride on the 3x3) with optional SE / ECA, as `models/resnet.py` `Bottleneck`, and its
 * RLA form, as `models/resnet_rla.py` `RLA_Bottleneck`, which reads `cat(x, h)` and pools `h` where it
 * downsamples. Official child names: conv1, bn1, conv2, bn2, conv3, bn3, downsample.{0,1}, se, eca; the unshared
 * ablation's block (`models/resnet_rla_us.py`) adds its own conv_out, recurrent_conv, bn_rla after downsample.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constantTensor, type Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { AvgPool2d } from '../nn/pool.js';
import { Downsample } from './downsample.js';
import { ECA } from './eca.js';
import { poolRLAState, type RLABlockOutput, type RLACell, type RLAState } from './rla-update.js';
import { SE } from './se.js';

export const BOTTLENECK_EXPANSION = 4;

export interface BottleneckConfig {
  inplanes: number;
  planes: number;
  stride: number;
  /** Whether this block has a `downsample` shortcut projection. */
  downsample: boolean;
  groups: number;
  /** `width_per_group`; the 3x3 width is floor(planes * baseWidth / 64) * groups. */
  baseWidth: number;
  se: boolean;
  /** ECA kernel size, or null for no ECA. */
  ecaKernelSize: number | null;
  /** Extra input channels of conv1 (the RLA hidden state); 0 for a plain block or one that does not read h. */
  rlaChannel: number;
}

export class Bottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Downsample | null;
  readonly se: SE | null;
  readonly eca: ECA | null;
  readonly outChannels: number;

  /**
   * `extraModules` are registered after the shortcut and before SE/ECA, where the official unshared RLA block
   * declares its own RLA cell, so that state_dict order matches.
   */
  constructor(
    readonly config: BottleneckConfig,
    rng: Rng,
    extraModules: ReadonlyArray<readonly [string, Module]> = [],
  ) {
    super();
    const { inplanes, planes, stride, groups, baseWidth, rlaChannel } = config;
    const width = Math.floor(planes * (baseWidth / 64)) * groups;
    this.outChannels = planes * BOTTLENECK_EXPANSION;
    this.conv1 = this.addModule('conv1', new Conv2d(inplanes + rlaChannel, width, 1, rng));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.addModule('conv2', new Conv2d(width, width, 3, rng, { stride, padding: 1, groups }));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.addModule('conv3', new Conv2d(width, this.outChannels, 1, rng));
    this.bn3 = this.addModule('bn3', new BatchNorm2d(this.outChannels));
    this.downsample = config.downsample
      ? this.addModule('downsample', new Downsample(inplanes, this.outChannels, stride, rng))
      : null;
    for (const [name, module] of extraModules) this.addModule(name, module);
    this.se = config.se ? this.addModule('se', new SE(this.outChannels, rng)) : null;
    this.eca =
      config.ecaKernelSize !== null
        ? this.addModule('eca', new ECA(this.outChannels, config.ecaKernelSize, rng))
        : null;
  }

  /** The residual branch: conv1..bn3 [-> SE] [-> ECA], on the block input (x, or cat(x, h)). */
  residualBranch(input: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = tf.relu(this.bn1.forward(this.conv1.forward(input)));
      out = tf.relu(this.bn2.forward(this.conv2.forward(out)));
      out = this.bn3.forward(this.conv3.forward(out));
      if (this.se) out = this.se.forward(out);
      if (this.eca) out = this.eca.forward(out);
      return out;
    });
  }

  shortcut(x: tf.Tensor4D): tf.Tensor4D {
    return this.downsample ? this.downsample.forward(x) : x;
  }

  /** Plain ResNet block: relu(branch(x) + shortcut(x)). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.relu(tf.add<tf.Tensor4D>(this.residualBranch(x), this.shortcut(x))));
  }
}

/** `zero_init_last_bn`: zero every block's bn3 weight so each residual branch starts as zero (Goyal et al.). */
export function zeroInitLastBatchNorm(blocks: Iterable<Bottleneck>): void {
  for (const block of blocks) block.bn3.weight.set(constantTensor(block.bn3.weight.shape, 0));
}

export class RLABottleneck extends Bottleneck {
  /** Pools h in blocks that downsample with stride (official `averagePooling`, no state). */
  readonly averagePooling: AvgPool2d | null;
  /** The block's own RLA cell in the unshared ablation (official conv_out, recurrent_conv, bn_rla), else null. */
  readonly ownCell: RLACell | null;

  constructor(config: BottleneckConfig, rng: Rng, ownCell: RLACell | null = null) {
    const cellModules: Array<readonly [string, Module]> = ownCell
      ? [
          ['conv_out', ownCell.convOut],
          ['recurrent_conv', ownCell.recurrent],
          ['bn_rla', ownCell.bn],
        ]
      : [];
    super(config, rng, cellModules);
    this.ownCell = ownCell;
    this.averagePooling = config.downsample && config.stride !== 1 ? new AvgPool2d(2, 2) : null;
  }

  /**
   * One RLA block step on NHWC x and RLA state; reads cat(x, h) unless the block was built without h inputs.
   * `out` is relu(branch + shortcut).
   */
  forwardWithState(x: tf.Tensor4D, state: RLAState): RLABlockOutput {
    const branch = tf.tidy(() =>
      this.residualBranch(this.config.rlaChannel > 0 ? tf.concat([x, state.h], 3) : x),
    );
    const shortcut = tf.tidy(() => this.shortcut(x));
    const pooled = this.averagePooling ? poolRLAState(state, this.averagePooling) : state;
    const out = tf.tidy(() => tf.relu(tf.add<tf.Tensor4D>(branch, shortcut)));
    return { out, branch, shortcut, state: pooled };
  }
}
