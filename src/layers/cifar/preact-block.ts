/**
 * The full pre-activation residual unit of He et al., "Identity Mappings in Deep Residual Networks" (2016), as
 * the authors' `resnet-pre-act.lua` builds it: (BN-ReLU-conv) repeated, stride on the first conv, identity
 * shortcut, or a 1x1 projection conv (no BN) of the pre-activated input where the shape changes. Basic units
 * (ResNet-110) have 3x3, 3x3 convs; bottleneck units (ResNet-164) 1x1, 3x3, 1x1 with 4x expansion.
 * With an RLA entry the unit also reads the hidden state h (see `CifarRLAEntry`).
 * Names: bn1, conv1, bn2, conv2[, bn3, conv3][, downsample].
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module } from '../../nn/module.js';
import { AvgPool2d } from '../../nn/pool.js';
import { poolRLAState, type RLABlockOutput, type RLAState } from '../rla-update.js';
import type { CifarRLAEntry } from './rla-options.js';

export interface PreActBlockConfig {
  inChannels: number;
  /** Output channels of each conv: [w, w] (basic) or [w, w, 4w] (bottleneck). */
  widths: readonly number[];
  /** Kernel size of each conv: [3, 3] (basic) or [1, 3, 1] (bottleneck). */
  kernels: readonly number[];
  /** Stride of the first conv (and of the projection shortcut). */
  stride: number;
  /** Where h enters the unit, or null for a plain unit. */
  rlaEntry: CifarRLAEntry | null;
  /** k, channels of h (ignored without an RLA entry). */
  rlaChannel: number;
  /** Conv biases (PyTorch's nn.Conv2d default); the authors' code has none. Default false. */
  convBias?: boolean;
}

export class PreActBlock extends Module {
  readonly bns: BatchNorm2d[] = [];
  readonly convs: Conv2d[] = [];
  readonly downsample: Conv2d | null;
  /** Pools h where the unit downsamples (RLA units only; no state). */
  readonly averagePooling: AvgPool2d | null;
  readonly outChannels: number;

  constructor(
    readonly config: PreActBlockConfig,
    rng: Rng,
  ) {
    super();
    const { inChannels, widths, kernels, stride, rlaEntry } = config;
    const k = rlaEntry ? config.rlaChannel : 0;
    this.outChannels = widths[widths.length - 1];
    widths.forEach((width, i) => {
      const input = i === 0 ? inChannels : widths[i - 1];
      const bnExtra = i === 0 && rlaEntry === 'pre-activation' ? k : 0;
      const convExtra =
        (i === 0 && (rlaEntry === 'conv1' || rlaEntry === 'pre-activation')) ||
        (i === 1 && rlaEntry === 'conv2')
          ? k
          : 0;
      const kernel = kernels[i];
      this.bns.push(this.addModule(`bn${i + 1}`, new BatchNorm2d(input + bnExtra)));
      this.convs.push(
        this.addModule(
          `conv${i + 1}`,
          new Conv2d(input + convExtra, width, kernel, rng, {
            stride: i === 0 ? stride : 1,
            padding: (kernel - 1) / 2,
            bias: config.convBias,
          }),
        ),
      );
    });
    this.downsample =
      stride !== 1 || inChannels !== this.outChannels
        ? this.addModule(
            'downsample',
            new Conv2d(inChannels, this.outChannels, 1, rng, { stride, bias: config.convBias }),
          )
        : null;
    this.averagePooling = rlaEntry && stride !== 1 ? new AvgPool2d(2, 2) : null;
  }

  /** One unit on NHWC x (and the RLA state, at x's resolution, for RLA units); `out` is branch + shortcut. */
  forward(x: tf.Tensor4D, state: RLAState | null = null): RLABlockOutput {
    const entry = this.config.rlaEntry;
    if (entry && !state) throw new Error('an RLA pre-activation unit needs the hidden state h');
    return tf.tidy(() => {
      const hidden = state?.h as tf.Tensor4D;
      const pooled =
        entry && state ? (this.averagePooling ? poolRLAState(state, this.averagePooling) : state) : undefined;
      let t = tf.relu(this.bns[0].forward(entry === 'pre-activation' ? tf.concat([x, hidden], 3) : x));
      // The projection reads the pre-activated x, as the authors' dimension-increasing units do.
      const activatedX =
        entry === 'pre-activation' ? tf.slice(t, [0, 0, 0, 0], [-1, -1, -1, this.config.inChannels]) : t;
      const shortcut = this.downsample ? this.downsample.forward(activatedX) : x;
      this.convs.forEach((conv, i) => {
        if (i > 0) t = tf.relu(this.bns[i].forward(t));
        if (i === 0 && entry === 'conv1') t = tf.concat([t, hidden], 3);
        if (i === 1 && entry === 'conv2') t = tf.concat([t, (pooled as RLAState).h], 3);
        t = conv.forward(t);
      });
      const out = tf.add<tf.Tensor4D>(t, shortcut);
      return { out, branch: t, shortcut, state: pooled };
    });
  }
}
