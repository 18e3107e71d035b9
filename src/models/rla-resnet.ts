/**
 * RLA-ResNet and RLA-ResNeXt, exactly as the official `models/resnet_rla.py` (`RLA_ResNet`, `RLA_Bottleneck`)
 * of "Recurrence along Depth" (Zhao, Fang, Li; NeurIPS 2021).
 *
 * Stem -> four stages of RLA bottlenecks; after every block the stage's shared conv_out / recurrent_conv and the
 * block's own BN update the hidden state h (k channels, zeros at the stem resolution); the head classifies
 * cat(x, relu(bn2(h))). State_dict names and order are the official ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BOTTLENECK_EXPANSION, RLABottleneck } from '../layers/bottleneck.js';
import { rlaUpdate } from '../layers/rla-update.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { constantTensor, Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { ModuleList } from '../nn/module.js';
import { GlobalAvgPool2d, MaxPool2d } from '../nn/pool.js';
import { type BackboneFeatures, ClassifierModel, type IntermediateSink } from './classifier.js';
import { nearestAcceptedSizes, rlaResNetAcceptsSize } from './input-size.js';
import { type RLAResNetConfig, STAGE_PLANES, STAGE_STRIDES, validateResNetConfig } from './resnet-config.js';

export class RLAResNet extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool = new MaxPool2d(3, 2, 1);
  readonly conv_outs: ModuleList<Conv2d>;
  readonly recurrent_convs: ModuleList<Conv2d>;
  readonly stages: ModuleList<ModuleList<RLABottleneck>>;
  readonly stage_bns: ModuleList<ModuleList<BatchNorm2d>>;
  readonly bn2: BatchNorm2d;
  readonly avgpool = new GlobalAvgPool2d();
  readonly fc: Linear;
  readonly numClasses: number;

  constructor(readonly config: RLAResNetConfig) {
    super();
    validateResNetConfig(config);
    const k = config.rlaChannel;
    if (!Number.isInteger(k) || k < 1) throw new Error(`rlaChannel must be a positive integer, got ${k}`);
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    this.conv1 = this.addModule('conv1', new Conv2d(3, 64, 7, rng, { stride: 2, padding: 3 }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(64));

    const convOuts: Conv2d[] = [];
    const recurrentConvs: Conv2d[] = [];
    const stages: ModuleList<RLABottleneck>[] = [];
    const stageBns: ModuleList<BatchNorm2d>[] = [];
    let inplanes = 64;
    config.layers.forEach((blocks, s) => {
      const planes = STAGE_PLANES[s];
      const outChannels = planes * BOTTLENECK_EXPANSION;
      convOuts.push(new Conv2d(outChannels, k, 1, rng));
      recurrentConvs.push(new Conv2d(k, k, 3, rng, { padding: 1 }));
      const stage = new ModuleList<RLABottleneck>();
      for (let b = 0; b < blocks; b++) {
        const stride = b === 0 ? STAGE_STRIDES[s] : 1;
        stage.push(
          new RLABottleneck(
            {
              inplanes,
              planes,
              stride,
              downsample: b === 0 && (stride !== 1 || inplanes !== outChannels),
              groups: config.groups,
              baseWidth: config.widthPerGroup,
              se: config.se,
              ecaKernelSize: config.ecaKernelSizes?.[s] ?? null,
              rlaChannel: k,
            },
            rng,
          ),
        );
        inplanes = outChannels;
      }
      stages.push(stage);
      stageBns.push(new ModuleList(Array.from({ length: blocks }, () => new BatchNorm2d(k))));
    });
    this.conv_outs = this.addModule('conv_outs', new ModuleList(convOuts));
    this.recurrent_convs = this.addModule('recurrent_convs', new ModuleList(recurrentConvs));
    this.stages = this.addModule('stages', new ModuleList(stages));
    this.stage_bns = this.addModule('stage_bns', new ModuleList(stageBns));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(k));
    this.fc = this.addModule('fc', new Linear(512 * BOTTLENECK_EXPANSION + k, config.numClasses, rng));

    if (config.zeroInitLastBn) {
      for (const stage of this.stages) {
        for (const block of stage) block.bn3.weight.set(constantTensor(block.bn3.weight.shape, 0));
      }
    }
  }

  checkInputSize(height: number, width: number): void {
    for (const [axis, size] of [
      ['height', height],
      ['width', width],
    ] as const) {
      if (!rlaResNetAcceptsSize(size)) {
        const near = nearestAcceptedSizes(size, (s) => rlaResNetAcceptsSize(s));
        throw new Error(
          `input ${axis} ${size} is not supported by the official RLA-ResNet: h is pooled with floor while x is ` +
            `downsampled with ceil, so ceil(${axis}/4) must be divisible by 8 (multiples of 32 work, e.g. 224); ` +
            `nearest working sizes: ${near.join(', ')}`,
        );
      }
    }
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.maxpool.forward(tf.relu(this.bn1.forward(this.conv1.forward(input))));
    sink?.('stem.x', x);
    const [n, height, width] = x.shape;
    let h: tf.Tensor4D = tf.zeros([n, height, width, this.config.rlaChannel]);
    this.stages.items.forEach((stage, s) => {
      const cell = { convOut: this.conv_outs.at(s), recurrentConv: this.recurrent_convs.at(s) };
      stage.items.forEach((block, b) => {
        const step = block.forwardWithState(x, h);
        const y = this.config.rlaInput === 'block-output' ? step.out : step.branch;
        x = step.out;
        h = rlaUpdate(step.h, y, cell, this.stage_bns.at(s).at(b));
        const name = b === stage.length - 1 ? `stage${s + 1}` : `stage${s + 1}.block${b + 1}`;
        sink?.(`${name}.x`, x);
        sink?.(`${name}.h`, h);
      });
    });
    return { x, h };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    if (!features.h) throw new Error('RLA-ResNet head needs the hidden state h');
    const h = tf.relu(this.bn2.forward(features.h));
    sink?.('head.h', h);
    const pooled = this.avgpool.forward(tf.concat([features.x, h], 3));
    const flat = tf.reshape(pooled, [pooled.shape[0], pooled.shape[3]]) as tf.Tensor2D;
    sink?.('head.features', flat);
    return this.fc.forward(flat);
  }
}
