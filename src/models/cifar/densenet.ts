/**
 * DenseNet-BC for CIFAR (Huang et al. 2017: L = 100, k = 12) and the weight-sharing variants of the RLA paper's
 * §3.2 / Table 1 (Shared-Lag, eq. 9; Shared-Ordinal, eq. 10; see `DenseBlock`).
 *
 * conv3x3(3 -> 2k) -> three dense blocks of (L - 4) / 6 = 16 bottleneck layers at 32x32, 16x16, 8x8, with
 * BN-ReLU-1x1 conv-avgpool 2x2 transitions that halve the channels (compression 0.5) -> BN -> ReLU -> global
 * average pool -> fc. No dropout (the BC models are trained with augmentation). Names: conv1, dense{1,2,3},
 * trans{1,2}, bn, fc.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DenseBlock, type DenseSharing, DenseTransition } from '../../layers/cifar/dense-block.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import { Rng } from '../../nn/init.js';
import { Linear } from '../../nn/linear.js';
import { GlobalAvgPool2d } from '../../nn/pool.js';
import { checkPositiveInteger } from '../../util/checks.js';
import { type BackboneFeatures, ClassifierModel, type IntermediateSink } from '../classifier.js';
import { classifyPooled } from './head.js';
import { checkCifarInputSize } from './input-size.js';

export interface CifarDenseNetConfig {
  /** L: 6n + 4 with n layers per block (100 -> 16). */
  depth: number;
  /** k, the growth rate (12). */
  growthRate: number;
  sharing: DenseSharing;
  numClasses: number;
  /** Seed of the initialisation PRNG; omitted = random. */
  seed?: number;
}

export class CifarDenseNet extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly blocks: DenseBlock[] = [];
  readonly transitions: DenseTransition[] = [];
  readonly bn: BatchNorm2d;
  readonly avgpool = new GlobalAvgPool2d();
  readonly fc: Linear;
  readonly numClasses: number;

  constructor(readonly config: CifarDenseNetConfig) {
    super();
    const { depth, growthRate, sharing } = config;
    const numLayers = (depth - 4) / 6;
    if (!Number.isInteger(numLayers) || numLayers < 1) {
      throw new Error(`depth of a DenseNet-BC must be 6n + 4, got ${depth}`);
    }
    checkPositiveInteger('numClasses', config.numClasses);
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    let channels = 2 * growthRate;
    this.conv1 = this.addModule('conv1', new Conv2d(3, channels, 3, rng, { padding: 1 }));
    for (let b = 0; b < 3; b++) {
      const block = new DenseBlock(
        { inChannels: channels, numLayers, growthRate, bottleneckWidth: 4 * growthRate, sharing },
        rng,
      );
      this.blocks.push(this.addModule(`dense${b + 1}`, block));
      channels = block.outChannels;
      if (b < 2) {
        const compressed = Math.floor(channels / 2);
        this.transitions.push(
          this.addModule(`trans${b + 1}`, new DenseTransition(channels, compressed, rng)),
        );
        channels = compressed;
      }
    }
    this.bn = this.addModule('bn', new BatchNorm2d(channels));
    this.fc = this.addModule('fc', new Linear(channels, config.numClasses, rng));
  }

  checkInputSize(height: number, width: number): void {
    // Two 2x2 poolings must leave at least one pixel.
    checkCifarInputSize(`DenseNet-BC-${this.config.depth}`, height, width, 1, 4);
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.conv1.forward(input);
    sink?.('stem.x', x);
    this.blocks.forEach((block, b) => {
      x = block.forward(x);
      sink?.(`stage${b + 1}.x`, x);
      if (b < this.transitions.length) x = this.transitions[b].forward(x);
    });
    return { x: tf.relu(this.bn.forward(x)), h: null };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    return classifyPooled(features, null, this.avgpool, this.fc, sink);
  }
}
