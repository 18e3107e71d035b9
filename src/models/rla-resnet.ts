/**
 * RLA-ResNet and RLA-ResNeXt, exactly as the official `models/resnet_rla.py` (`RLA_ResNet`, `RLA_Bottleneck`)
 * of "Recurrence along Depth" (Zhao, Fang, Li; NeurIPS 2021), and every ablation of the paper's Table 6 that
 * changes the RLA path (`models/resnet_rla_{v1..v6,v1post,rh,us,lstm,gru}.py`), chosen by `config.variant`.
 *
 * Stem -> four stages of RLA bottlenecks; after every block an RLA update (see layers/rla-update.ts) folds the
 * block's features into the hidden state h (k channels, zeros at the stem resolution), with conv_out / recurrent
 * module shared per stage (or owned by each block), and one BN per block; the head classifies cat(x, head(h)).
 * State_dict names and order are the official ones of each variant.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BOTTLENECK_EXPANSION, RLABottleneck, zeroInitLastBatchNorm } from '../layers/bottleneck.js';
import {
  createRecurrentModule,
  initialRLAState,
  type RecurrentModule,
  type RLACell,
  type RLAState,
  rlaHeadState,
  rlaUpdateAfter,
} from '../layers/rla-update.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv2d } from '../nn/conv.js';
import { Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { ModuleList } from '../nn/module.js';
import { GlobalAvgPool2d, MaxPool2d } from '../nn/pool.js';
import { checkPositiveInteger } from '../util/checks.js';
import { type BackboneFeatures, blockName, ClassifierModel, type IntermediateSink } from './classifier.js';
import { checkEachSide, nearestAcceptedSizes, rlaResNetAcceptsSize } from './input-size.js';
import { bottleneckStageConfigs, type RLAResNetConfig, validateResNetConfig } from './resnet-config.js';

export class RLAResNet extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool = new MaxPool2d(3, 2, 1);
  /** Per-stage shared modules; null in the unshared variant, whose blocks own their cells. */
  readonly conv_outs: ModuleList<Conv2d> | null = null;
  readonly recurrent_convs: ModuleList<RecurrentModule> | null = null;
  readonly stages: ModuleList<ModuleList<RLABottleneck>>;
  readonly stage_bns: ModuleList<ModuleList<BatchNorm2d>> | null = null;
  /** BN on h at the head; null for variants whose head uses h as it is. */
  readonly bn2: BatchNorm2d | null = null;
  readonly avgpool = new GlobalAvgPool2d();
  /** The classifier; null in the detection backbone mode (`config.featuresOnly`). */
  readonly fc: Linear | null = null;
  readonly numClasses: number;

  constructor(readonly config: RLAResNetConfig) {
    super();
    validateResNetConfig(config);
    const k = config.rlaChannel;
    checkPositiveInteger('rlaChannel', k);
    const { variant } = config;
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    this.conv1 = this.addModule('conv1', new Conv2d(3, 64, 7, rng, { stride: 2, padding: 3 }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(64));

    const shared = variant.sharing === 'stage';
    const newCell = (outChannels: number): Omit<RLACell, 'bn'> => ({
      convOut: new Conv2d(outChannels, k, 1, rng),
      recurrent: createRecurrentModule(variant.update, k, rng),
    });
    const stageCells: Omit<RLACell, 'bn'>[] = [];
    const stages: ModuleList<RLABottleneck>[] = [];
    const stageBns: ModuleList<BatchNorm2d>[] = [];
    for (const blocks of bottleneckStageConfigs(config, variant.exchange ? k : 0)) {
      const outChannels = blocks[0].planes * BOTTLENECK_EXPANSION;
      if (shared) stageCells.push(newCell(outChannels));
      const stage = new ModuleList<RLABottleneck>();
      for (const block of blocks) {
        const ownCell = shared ? null : { ...newCell(outChannels), bn: new BatchNorm2d(k) };
        stage.push(new RLABottleneck(block, rng, ownCell));
      }
      stages.push(stage);
      if (shared) stageBns.push(new ModuleList(blocks.map(() => new BatchNorm2d(k))));
    }
    if (shared) {
      this.conv_outs = this.addModule('conv_outs', new ModuleList(stageCells.map((cell) => cell.convOut)));
      this.recurrent_convs = this.addModule(
        'recurrent_convs',
        new ModuleList(stageCells.map((cell) => cell.recurrent)),
      );
    }
    this.stages = this.addModule('stages', new ModuleList(stages));
    if (shared) this.stage_bns = this.addModule('stage_bns', new ModuleList(stageBns));
    // The official mmdetection backbone (mmdetection/resnet_rla.py) has no head: no bn2, no fc.
    if (!config.featuresOnly) {
      if (variant.head !== 'none') this.bn2 = this.addModule('bn2', new BatchNorm2d(k));
      const lastOutChannels = stages.at(-1)!.at(-1).outChannels;
      this.fc = this.addModule('fc', new Linear(lastOutChannels + k, config.numClasses, rng));
    }

    if (config.zeroInitLastBn) zeroInitLastBatchNorm(this.stages.items.flatMap((stage) => stage.items));
  }

  checkInputSize(height: number, width: number): void {
    const accepts = (size: number) => rlaResNetAcceptsSize(size);
    checkEachSide(
      height,
      width,
      accepts,
      (axis, size) =>
        `input ${axis} ${size} is not supported by the official RLA-ResNet: h is pooled with floor while x is ` +
        `downsampled with ceil, so ceil(${axis}/4) must be divisible by 8 (multiples of 32 work, e.g. 224); ` +
        `nearest working sizes: ${nearestAcceptedSizes(size, accepts).join(', ')}`,
    );
  }

  /** The modules of the update after block b of stage s. */
  private cellOf(s: number, b: number): RLACell {
    const block = this.stages.at(s).at(b);
    if (block.ownCell) return block.ownCell;
    if (!this.conv_outs || !this.recurrent_convs || !this.stage_bns) {
      throw new Error('RLA-ResNet: a block without its own cell needs the per-stage modules');
    }
    return {
      convOut: this.conv_outs.at(s),
      recurrent: this.recurrent_convs.at(s),
      bn: this.stage_bns.at(s).at(b),
    };
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.maxpool.forward(tf.relu(this.bn1.forward(this.conv1.forward(input))));
    sink?.('stem.x', x);
    const [n, height, width] = x.shape;
    const { input: rlaInput, update } = this.config.variant;
    let state: RLAState = initialRLAState(update, [n, height, width, this.config.rlaChannel]);
    this.stages.items.forEach((stage, s) => {
      stage.items.forEach((block, b) => {
        const step = block.forwardWithState(x, state);
        x = step.out;
        state = rlaUpdateAfter(step, rlaInput, this.cellOf(s, b), update);
        const name = blockName(s, b, stage.length);
        sink?.(`${name}.x`, x);
        sink?.(`${name}.h`, state.h);
      });
    });
    return { x, h: state.h };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    if (!features.h) throw new Error('RLA-ResNet head needs the hidden state h');
    if (!this.fc)
      throw new Error('this RLA-ResNet is a detection backbone (featuresOnly): it has no classifier');
    // relu(bn2(h)) for RLA-Net, tanh(bn2(h)) for v1, h itself for v1post/lstm/gru.
    const h = rlaHeadState(features.h, this.bn2, this.config.variant.head);
    sink?.('head.h', h);
    const pooled = this.avgpool.forward(tf.concat([features.x, h], 3));
    const flat = tf.reshape(pooled, [pooled.shape[0], pooled.shape[3]]) as tf.Tensor2D;
    sink?.('head.features', flat);
    return this.fc.forward(flat);
  }
}
