/**
 * ResNet v1.5 bottleneck (stride on the 3x3) with optional SE / ECA, as `models/resnet.py` `Bottleneck`, and its
 * RLA form, as `models/resnet_rla.py` `RLA_Bottleneck`, which reads `cat(x, h)` and pools `h` where it
 * downsamples. Official child names: conv1, bn1, conv2, bn2, conv3, bn3, downsample.{0,1}, se, eca.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { AvgPool2d } from '../nn/pool.js';
import { Downsample } from './downsample.js';
import { ECA } from './eca.js';
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
  /** Extra input channels of conv1 (the RLA hidden state); 0 for a plain block. */
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

  constructor(
    readonly config: BottleneckConfig,
    rng: Rng,
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

/** What an RLA block hands to the RLA update. */
export interface RLABlockOutput {
  /** Block output relu(branch + shortcut): the next block's x. */
  out: tf.Tensor4D;
  /** The residual branch before the addition (what the paper's Figure 3 feeds to the RLA path). */
  branch: tf.Tensor4D;
  /** The hidden state at this block's output resolution (pooled 2x2 where the block downsamples). */
  h: tf.Tensor4D;
}

export class RLABottleneck extends Bottleneck {
  /** Pools h in blocks that downsample with stride (official `averagePooling`, no state). */
  readonly averagePooling: AvgPool2d | null;

  constructor(config: BottleneckConfig, rng: Rng) {
    super(config, rng);
    this.averagePooling = config.downsample && config.stride !== 1 ? new AvgPool2d(2, 2) : null;
  }

  /** One RLA block step on NHWC x and h. */
  forwardWithState(x: tf.Tensor4D, h: tf.Tensor4D): RLABlockOutput {
    return tf.tidy(() => {
      const branch = this.residualBranch(tf.concat([x, h], 3));
      const identity = this.shortcut(x);
      const pooledH = this.averagePooling ? this.averagePooling.forward(h) : h;
      const out = tf.relu(tf.add<tf.Tensor4D>(branch, identity));
      return { out, branch, h: pooledH };
    });
  }
}
