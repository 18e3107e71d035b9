/**
 * RLA-MobileNetV2, exactly as the official `models/mobilenetv2_dsrla.py` (`dsRLA_MobileNetV2`, the paper's
 * "RLA-MobileNetV2") and `models/mobilenetv2_rla.py` (`RLA_MobileNetV2`, dense recurrent conv).
 *
 * Stem ConvBNReLU 3x3/2; h = zeros (k channels) at the stem resolution; per settings row a `conv_outs` 1x1 conv
 * and per block a BN; after every block h <- rec(tanh(BN(h + conv_out(y)))) with y the block's branch before the
 * residual addition. The recurrent 3x3 conv `rec` is ONE module shared by all stages: the official
 * `[conv] * len(newcell)` lists it under several state_dict keys (`recurrent_dsconvs.0..4`), one Parameter here.
 * Head: h <- relu6(bn2(h)); conv2 = ConvBNReLU 1x1 on cat(x, h); global average pool; Dropout(0.2); Linear.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConvBNReLU6 } from '../layers/conv-bn-relu6.js';
import { RLAInvertedResidual } from '../layers/inverted-residual.js';
import { MobileNetClassifier } from '../layers/mobilenet-classifier.js';
import { initialRLAState, type RLAState, rlaUpdate } from '../layers/rla-update.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Rng } from '../nn/init.js';
import { ModuleList } from '../nn/module.js';
import { checkPositiveInteger } from '../util/checks.js';
import { type BackboneFeatures, blockName, ClassifierModel, type IntermediateSink } from './classifier.js';
import { checkEachSide, nearestAcceptedSizes } from './input-size.js';
import {
  mobileNetV2Layout,
  type RLAMobileNetV2Config,
  rlaMobileNetAcceptsSize,
  validateMobileNetV2Config,
} from './mobilenetv2-config.js';

export class RLAMobileNetV2 extends ClassifierModel {
  readonly conv1: ConvBNReLU6;
  readonly stages: ModuleList<ModuleList<RLAInvertedResidual>>;
  readonly conv_outs: ModuleList<Conv2d>;
  /** The one recurrent conv, listed once per official "new cell" (the first row and each stride-2 row). */
  readonly recurrentConvs: ModuleList<Conv2d>;
  readonly stage_bns: ModuleList<ModuleList<BatchNorm2d>>;
  readonly conv2: ConvBNReLU6;
  readonly bn2: BatchNorm2d;
  readonly classifier: MobileNetClassifier;
  readonly numClasses: number;
  /** Settings row -> index into `recurrentConvs` (official `newcell` bookkeeping). */
  private readonly recurrentIndex: number[];

  constructor(readonly config: RLAMobileNetV2Config) {
    super();
    validateMobileNetV2Config(config);
    const k = config.rlaChannel;
    checkPositiveInteger('rlaChannel', k);
    const rng = new Rng(config.seed);
    const layout = mobileNetV2Layout(config);
    this.numClasses = config.numClasses;
    this.conv1 = this.addModule('conv1', new ConvBNReLU6(3, layout.stemChannels, 3, rng, { stride: 2 }));

    let cell = -1;
    this.recurrentIndex = layout.stages.map(({ setting }, j) => (j === 0 || setting.s === 2 ? ++cell : cell));
    const recurrent = new Conv2d(k, k, 3, rng, {
      padding: 1,
      groups: config.recurrentConv === 'depthwise' ? k : 1,
    });
    this.stages = this.addModule(
      'stages',
      new ModuleList(
        layout.stages.map(
          (stage) => new ModuleList(stage.blocks.map((block) => new RLAInvertedResidual(block, k, rng))),
        ),
      ),
    );
    this.conv_outs = this.addModule(
      'conv_outs',
      new ModuleList(layout.stages.map((stage) => new Conv2d(stage.blocks[0].outChannels, k, 1, rng))),
    );
    this.recurrentConvs = this.addModule(
      config.recurrentConv === 'depthwise' ? 'recurrent_dsconvs' : 'recurrent_convs',
      new ModuleList(Array.from({ length: cell + 1 }, () => recurrent)),
    );
    this.stage_bns = this.addModule(
      'stage_bns',
      new ModuleList(
        layout.stages.map((stage) => new ModuleList(stage.blocks.map(() => new BatchNorm2d(k)))),
      ),
    );
    const lastOut = layout.stages[layout.stages.length - 1].blocks[0].outChannels;
    this.conv2 = this.addModule('conv2', new ConvBNReLU6(lastOut + k, layout.lastChannels, 1, rng));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(k));
    this.classifier = this.addModule(
      'classifier',
      new MobileNetClassifier(layout.lastChannels, config.numClasses, rng),
    );
  }

  checkInputSize(height: number, width: number): void {
    checkEachSide(
      height,
      width,
      rlaMobileNetAcceptsSize,
      (axis, size) =>
        `input ${axis} ${size} is not supported by the official RLA-MobileNetV2: h is pooled with floor while ` +
        `x is downsampled with ceil, so ceil(${axis}/2) must be divisible by 16 (multiples of 32 work, ` +
        `e.g. 224); nearest working sizes: ${nearestAcceptedSizes(size, rlaMobileNetAcceptsSize).join(', ')}`,
    );
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.conv1.forward(input);
    sink?.('stem.x', x);
    const [n, height, width] = x.shape;
    let state: RLAState = initialRLAState('add-before', [n, height, width, this.config.rlaChannel]);
    this.stages.items.forEach((stage, j) => {
      const convOut = this.conv_outs.at(j);
      const recurrent = this.recurrentConvs.at(this.recurrentIndex[j]);
      stage.items.forEach((block, i) => {
        const step = block.forwardWithState(x, state);
        x = step.out;
        state = rlaUpdate(
          step.state,
          step.branch,
          { convOut, recurrent, bn: this.stage_bns.at(j).at(i) },
          'add-before',
        );
        const name = blockName(j, i, stage.length);
        sink?.(`${name}.x`, x);
        sink?.(`${name}.h`, state.h);
      });
    });
    return { x, h: state.h };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    if (!features.h) throw new Error('RLA-MobileNetV2 head needs the hidden state h');
    const h = tf.relu6(this.bn2.forward(features.h));
    sink?.('head.h', h);
    const x = this.conv2.forward(tf.concat([features.x, h], 3));
    sink?.('head.conv2', x);
    // The official head pools with F.adaptive_avg_pool2d (a function, so thop counts nothing for it).
    const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
    sink?.('head.features', pooled);
    return this.classifier.forward(pooled);
  }
}
