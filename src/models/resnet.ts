/**
 * The official baselines of the paper: ResNet / ResNeXt with optional SE or ECA, as `models/resnet.py`
 * (torchvision-style ResNet v1.5; stages named `layer1`..`layer4`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Bottleneck, zeroInitLastBatchNorm } from '../layers/bottleneck.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { ModuleList } from '../nn/module.js';
import { GlobalAvgPool2d, MaxPool2d } from '../nn/pool.js';
import { type BackboneFeatures, blockName, ClassifierModel, type IntermediateSink } from './classifier.js';
import { resnetStemSize } from './input-size.js';
import { bottleneckStageConfigs, type ResNetConfig, validateResNetConfig } from './resnet-config.js';

export class ResNet extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool = new MaxPool2d(3, 2, 1);
  readonly stages: ModuleList<Bottleneck>[] = [];
  readonly avgpool = new GlobalAvgPool2d();
  readonly fc: Linear;
  readonly numClasses: number;

  constructor(readonly config: ResNetConfig) {
    super();
    validateResNetConfig(config);
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    this.conv1 = this.addModule('conv1', new Conv2d(3, 64, 7, rng, { stride: 2, padding: 3 }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(64));
    bottleneckStageConfigs(config, 0).forEach((blocks, s) => {
      const stage = new ModuleList(blocks.map((block) => new Bottleneck(block, rng)));
      this.stages.push(this.addModule(`layer${s + 1}`, stage));
    });
    this.fc = this.addModule(
      'fc',
      new Linear(this.stages.at(-1)!.at(-1).outChannels, config.numClasses, rng),
    );
    if (config.zeroInitLastBn) zeroInitLastBatchNorm(this.stages.flatMap((stage) => stage.items));
  }

  checkInputSize(height: number, width: number): void {
    if (resnetStemSize(height) < 1 || resnetStemSize(width) < 1) {
      throw new Error(`input ${height}x${width} is too small for a ResNet stem`);
    }
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.maxpool.forward(tf.relu(this.bn1.forward(this.conv1.forward(input))));
    sink?.('stem.x', x);
    this.stages.forEach((stage, s) => {
      stage.items.forEach((block, b) => {
        x = block.forward(x);
        sink?.(`${blockName(s, b, stage.length)}.x`, x);
      });
    });
    return { x, h: null };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    const pooled = this.avgpool.forward(features.x);
    const flat = tf.reshape(pooled, [pooled.shape[0], pooled.shape[3]]) as tf.Tensor2D;
    sink?.('head.features', flat);
    return this.fc.forward(flat);
  }
}
