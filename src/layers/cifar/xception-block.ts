/**
 * Xception's residual module (Chollet 2017): `reps` x ([ReLU] -> separable conv -> BN), then a 3x3/2 max-pool
 * where the module downsamples; the shortcut is identity, or a 1x1 conv + BN where the shape changes.
 * The first module of the entry flow starts without ReLU (the stem ends with one). With an RLA entry the module
 * also reads the hidden state h (see `CifarRLAEntry`). Names: sepconvs.{i}, bns.{i}, skip, skipbn.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import { AvgPool2d, MaxPool2d } from '../../nn/pool.js';
import { poolRLAState, type RLABlockOutput, type RLAState } from '../rla-update.js';
import type { CifarRLAEntry } from './rla-options.js';
import { SeparableConv2d } from './separable-conv.js';

export interface XceptionBlockConfig {
  inChannels: number;
  /** Output channels of each separable conv (Xception grows on the first conv, the exit module on the last). */
  widths: readonly number[];
  /** 2: max-pool 3x3/2 (pad 1) at the end and a strided shortcut; 1: keep the resolution. */
  stride: number;
  /** Whether the module starts with a ReLU (all but the first entry-flow module). */
  startWithRelu: boolean;
  /** Where h enters the module, or null for a plain module. */
  rlaEntry: CifarRLAEntry | null;
  /** k, channels of h (ignored without an RLA entry). */
  rlaChannel: number;
}

export class XceptionBlock extends Module {
  readonly sepconvs: ModuleList<SeparableConv2d>;
  readonly bns: ModuleList<BatchNorm2d>;
  readonly skip: Conv2d | null;
  readonly skipbn: BatchNorm2d | null;
  readonly maxpool: MaxPool2d | null;
  /** Pools h where the module downsamples (RLA modules only; no state). */
  readonly averagePooling: AvgPool2d | null;
  readonly outChannels: number;
  /** Index of the separable conv that reads h: the first ('conv1', 'pre-activation') or the second ('conv2'). */
  private readonly hIndex: number;

  constructor(
    readonly config: XceptionBlockConfig,
    rng: Rng,
  ) {
    super();
    const { inChannels, widths, stride, rlaEntry } = config;
    const k = rlaEntry ? config.rlaChannel : 0;
    // The max-pool comes last, so either separable conv reads h at the module's input resolution.
    this.hIndex = rlaEntry === 'conv2' ? 1 : 0;
    this.outChannels = widths[widths.length - 1];
    this.sepconvs = this.addModule(
      'sepconvs',
      new ModuleList(
        widths.map(
          (width, i) =>
            new SeparableConv2d(
              (i === 0 ? inChannels : widths[i - 1]) + (rlaEntry && i === this.hIndex ? k : 0),
              width,
              rng,
            ),
        ),
      ),
    );
    this.bns = this.addModule('bns', new ModuleList(widths.map((width) => new BatchNorm2d(width))));
    const project = stride !== 1 || inChannels !== this.outChannels;
    this.skip = project
      ? this.addModule('skip', new Conv2d(inChannels, this.outChannels, 1, rng, { stride }))
      : null;
    this.skipbn = project ? this.addModule('skipbn', new BatchNorm2d(this.outChannels)) : null;
    this.maxpool = stride !== 1 ? new MaxPool2d(3, stride, 1) : null;
    this.averagePooling = rlaEntry && stride !== 1 ? new AvgPool2d(2, 2) : null;
  }

  /** One module on NHWC x (and the RLA state, at x's resolution, for RLA modules); `out` is branch + shortcut. */
  forward(x: tf.Tensor4D, state: RLAState | null = null): RLABlockOutput {
    const entry = this.config.rlaEntry;
    if (entry && !state) throw new Error('an RLA Xception module needs the hidden state h');
    const h = state?.h;
    return tf.tidy(() => {
      let t = x;
      this.sepconvs.items.forEach((sepconv, i) => {
        const joinsHere = entry !== null && i === this.hIndex;
        // 'pre-activation': h goes through the module's leading ReLU with x; otherwise h enters raw.
        if (joinsHere && entry === 'pre-activation') t = tf.concat([t, h as tf.Tensor4D], 3);
        if (i > 0 || this.config.startWithRelu) t = tf.relu(t);
        if (joinsHere && entry !== 'pre-activation') t = tf.concat([t, h as tf.Tensor4D], 3);
        t = this.bns.at(i).forward(sepconv.forward(t));
      });
      const branch = this.maxpool ? this.maxpool.forward(t) : t;
      const shortcut = this.skip && this.skipbn ? this.skipbn.forward(this.skip.forward(x)) : x;
      const out = tf.add<tf.Tensor4D>(branch, shortcut);
      const pooled =
        entry && state ? (this.averagePooling ? poolRLAState(state, this.averagePooling) : state) : undefined;
      return { out, branch, shortcut, state: pooled };
    });
  }
}
