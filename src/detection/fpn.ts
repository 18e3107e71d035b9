/**
 * mmdetection 2.10's `FPN` neck: 1x1 lateral convs, top-down addition of nearest-upsampled coarser levels, 3x3
 * output convs; extra levels by max-pool (kernel 1, stride 2) on the last output (Faster / Mask R-CNN: P6), or
 * by stride-2 3x3 convs, the first on the backbone's last stage (`add_extra_convs='on_input'`, RetinaNet: P6, P7).
 * Keys as mmdet's: `lateral_convs.i.conv.*`, `fpn_convs.i.conv.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../nn/init.js';
import { Module, ModuleList } from '../nn/module.js';
import type { FpnConfig } from './config.js';
import { ConvModule } from './conv-module.js';

export class FPN extends Module {
  readonly lateral_convs: ModuleList<ConvModule>;
  readonly fpn_convs: ModuleList<ConvModule>;

  constructor(
    readonly config: FpnConfig,
    rng: Rng,
  ) {
    super();
    const { inChannels, outChannels, numOuts, startLevel, addExtraConvs } = config;
    const lateral = new ModuleList<ConvModule>();
    const output = new ModuleList<ConvModule>();
    for (let i = startLevel; i < inChannels.length; i++) {
      lateral.push(new ConvModule(inChannels[i], outChannels, 1, rng));
      output.push(new ConvModule(outChannels, outChannels, 3, rng, { padding: 1 }));
    }
    const extraLevels = numOuts - inChannels.length + startLevel;
    if (addExtraConvs) {
      for (let i = 0; i < extraLevels; i++) {
        const cin = i === 0 ? inChannels[inChannels.length - 1] : outChannels;
        output.push(new ConvModule(cin, outChannels, 3, rng, { stride: 2, padding: 1 }));
      }
    }
    this.lateral_convs = this.addModule('lateral_convs', lateral);
    this.fpn_convs = this.addModule('fpn_convs', output);
  }

  /** Backbone stage outputs (NHWC, C2..C5) -> `numOuts` pyramid levels (NHWC), finest first. */
  forward(inputs: tf.Tensor4D[]): tf.Tensor4D[] {
    const { startLevel, numOuts, addExtraConvs } = this.config;
    return tf.tidy(() => {
      const laterals = this.lateral_convs.items.map((conv, i) => conv.forward(inputs[i + startLevel]));
      for (let i = laterals.length - 1; i > 0; i--) {
        const [, h, w] = laterals[i - 1].shape;
        // PyTorch's 'nearest' (floor(dst * in / out)) is TF.js's resize without half-pixel centres.
        laterals[i - 1] = tf.add(laterals[i - 1], tf.image.resizeNearestNeighbor(laterals[i], [h, w]));
      }
      const outs = laterals.map((lateral, i) => this.fpn_convs.at(i).forward(lateral));
      const used = laterals.length;
      if (!addExtraConvs) {
        while (outs.length < numOuts) outs.push(tf.maxPool(outs[outs.length - 1], 1, 2, 'valid'));
      } else {
        outs.push(this.fpn_convs.at(used).forward(inputs[inputs.length - 1]));
        for (let i = used + 1; i < numOuts; i++)
          outs.push(this.fpn_convs.at(i).forward(outs[outs.length - 1]));
      }
      return outs;
    });
  }
}
