/**
 * The MobileNetV2 baseline of the paper, as the official `models/mobilenetv2.py` (`MobileNetV2`, torchvision's
 * design with optional ECA): `features` = stem ConvBNReLU 3x3/2, 17 inverted residuals, ConvBNReLU 1x1 to
 * `last_channel`; global average pool; `classifier` = Dropout(0.2) + Linear.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConvBNReLU6 } from '../layers/conv-bn-relu6.js';
import { InvertedResidual } from '../layers/inverted-residual.js';
import { MobileNetClassifier } from '../layers/mobilenet-classifier.js';
import { Rng } from '../nn/init.js';
import { type Module, ModuleList } from '../nn/module.js';
import { type BackboneFeatures, blockName, ClassifierModel, type IntermediateSink } from './classifier.js';
import {
  type MobileNetV2Config,
  mobileNetStemSize,
  mobileNetV2Layout,
  validateMobileNetV2Config,
} from './mobilenetv2-config.js';

export class MobileNetV2 extends ClassifierModel {
  readonly features: ModuleList<Module>;
  readonly stem: ConvBNReLU6;
  /** Blocks per settings row (they are registered flat in `features`, as officially). */
  readonly stages: InvertedResidual[][];
  readonly lastConv: ConvBNReLU6;
  readonly classifier: MobileNetClassifier;
  readonly numClasses: number;

  constructor(readonly config: MobileNetV2Config) {
    super();
    validateMobileNetV2Config(config);
    const rng = new Rng(config.seed);
    const layout = mobileNetV2Layout(config);
    this.numClasses = config.numClasses;
    this.features = this.addModule('features', new ModuleList<Module>());
    this.stem = new ConvBNReLU6(3, layout.stemChannels, 3, rng, { stride: 2 });
    this.features.push(this.stem);
    this.stages = layout.stages.map((stage) =>
      stage.blocks.map((block) => {
        const module = new InvertedResidual(block, rng);
        this.features.push(module);
        return module;
      }),
    );
    const lastIn = layout.stages[layout.stages.length - 1].blocks[0].outChannels;
    this.lastConv = new ConvBNReLU6(lastIn, layout.lastChannels, 1, rng);
    this.features.push(this.lastConv);
    this.classifier = this.addModule(
      'classifier',
      new MobileNetClassifier(layout.lastChannels, config.numClasses, rng),
    );
  }

  checkInputSize(height: number, width: number): void {
    if (mobileNetStemSize(height) < 1 || mobileNetStemSize(width) < 1) {
      throw new Error(`input ${height}x${width} is too small for a MobileNetV2 stem`);
    }
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.stem.forward(input);
    sink?.('stem.x', x);
    this.stages.forEach((stage, s) => {
      stage.forEach((block, b) => {
        x = block.forward(x);
        sink?.(`${blockName(s, b, stage.length)}.x`, x);
      });
    });
    return { x: this.lastConv.forward(x), h: null };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    // The official head pools with F.adaptive_avg_pool2d (a function, so thop counts nothing for it).
    const pooled = tf.mean(features.x, [1, 2]) as tf.Tensor2D;
    sink?.('head.features', pooled);
    return this.classifier.forward(pooled);
  }
}
