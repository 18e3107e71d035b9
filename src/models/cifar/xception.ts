/**
 * Our CIFAR Xception and RLA-Xception (docs/cifar.md; the paper's CIFAR Xception is unpublished).
 *
 * Xception's topology (Chollet 2017) kept whole: a two-conv stem, three entry-flow modules, eight middle-flow
 * modules of three separable convs, the exit module and two separable convs, then global average pooling and fc.
 * CIFAR changes: the stem keeps 32x32 (stride 1, padded), the first entry module keeps the resolution, so the
 * maps are 32 -> 32 -> 16 -> 8 (middle flow) -> 4 (exit). Widths: Xception's 728 (and the exit module's 1024)
 * become `middleWidth` = 266, its 1536/2048 tail becomes 384/512; 266 is the one width that gives Table 2's 2.70M
 * (CIFAR-10) and 2.75M (CIFAR-100), and 512 final features is what the 0.05M difference between them implies.
 * RLA-Xception: h enters every module (12), stages are the four resolutions, the recurrent conv is depthwise as in
 * the paper's RLA-MobileNetV2, k = 16.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CifarRLAConfig } from '../../layers/cifar/rla-options.js';
import { CifarRLAPath } from '../../layers/cifar/rla-path.js';
import { SeparableConv2d } from '../../layers/cifar/separable-conv.js';
import { XceptionBlock, type XceptionBlockConfig } from '../../layers/cifar/xception-block.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import { Rng } from '../../nn/init.js';
import { Linear } from '../../nn/linear.js';
import { ModuleList } from '../../nn/module.js';
import { GlobalAvgPool2d } from '../../nn/pool.js';
import { checkPositiveInteger } from '../../util/checks.js';
import { type BackboneFeatures, blockName, ClassifierModel, type IntermediateSink } from '../classifier.js';
import { classifyPooled } from './head.js';
import { checkCifarInputSize } from './input-size.js';

/** Our fitted width of the middle flow (Xception: 728); see docs/cifar.md. */
export const CIFAR_XCEPTION_MIDDLE_WIDTH = 266;

export interface CifarXceptionConfig {
  numClasses: number;
  /** Width of the middle flow and exit module (Xception's 728/1024); default 266. */
  middleWidth?: number;
  /** The RLA design, or null for the baseline. */
  rla: CifarRLAConfig | null;
  /** Seed of the initialisation PRNG; omitted = random. */
  seed?: number;
}

type ModuleSpec = Omit<XceptionBlockConfig, 'rlaEntry' | 'rlaChannel'>;

/** The 12 modules: entry (3), middle (8), exit (1). */
function moduleSpecs(m: number): ModuleSpec[] {
  const middle = Array.from({ length: 8 }, () => ({
    inChannels: m,
    widths: [m, m, m],
    stride: 1,
    startWithRelu: true,
  }));
  return [
    { inChannels: 64, widths: [128, 128], stride: 1, startWithRelu: false },
    { inChannels: 128, widths: [256, 256], stride: 2, startWithRelu: true },
    { inChannels: 256, widths: [m, m], stride: 2, startWithRelu: true },
    ...middle,
    { inChannels: m, widths: [m, m], stride: 2, startWithRelu: true },
  ];
}

export class CifarXception extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly blocks: ModuleList<XceptionBlock>;
  readonly conv3: SeparableConv2d;
  readonly bn3: BatchNorm2d;
  readonly conv4: SeparableConv2d;
  readonly bn4: BatchNorm2d;
  readonly rla: CifarRLAPath | null;
  readonly avgpool = new GlobalAvgPool2d();
  readonly fc: Linear;
  readonly numClasses: number;
  /** RLA stage of each module: a new stage starts at every module that downsamples. */
  private readonly stageOf: number[] = [];
  /** Index of each module within its stage. */
  private readonly indexInStage: number[] = [];
  /** Modules per stage (resolutions 32, 16, 8, 4 at a 32x32 input: 1, 1, 9, 1 modules). */
  private readonly blocksPerStage: number[] = [];

  constructor(readonly config: CifarXceptionConfig) {
    super();
    const m = config.middleWidth ?? CIFAR_XCEPTION_MIDDLE_WIDTH;
    checkPositiveInteger('middleWidth', m);
    checkPositiveInteger('numClasses', config.numClasses);
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    const k = config.rla?.rlaChannel ?? 0;
    this.conv1 = this.addModule('conv1', new Conv2d(3, 32, 3, rng, { padding: 1 }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(32));
    this.conv2 = this.addModule('conv2', new Conv2d(32, 64, 3, rng, { padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(64));
    const specs = moduleSpecs(m);
    this.blocks = this.addModule(
      'blocks',
      new ModuleList(
        specs.map(
          (spec) => new XceptionBlock({ ...spec, rlaEntry: config.rla?.entry ?? null, rlaChannel: k }, rng),
        ),
      ),
    );
    const stageChannels: number[] = [];
    const blocksPerStage = this.blocksPerStage;
    for (const block of this.blocks) {
      if (stageChannels.length === 0 || block.config.stride !== 1) {
        stageChannels.push(block.outChannels);
        blocksPerStage.push(0);
      }
      this.stageOf.push(stageChannels.length - 1);
      this.indexInStage.push(blocksPerStage[blocksPerStage.length - 1]++);
    }
    this.conv3 = this.addModule('conv3', new SeparableConv2d(m, 384, rng));
    this.bn3 = this.addModule('bn3', new BatchNorm2d(384));
    this.conv4 = this.addModule('conv4', new SeparableConv2d(384, 512, rng));
    this.bn4 = this.addModule('bn4', new BatchNorm2d(512));
    this.rla = config.rla
      ? this.addModule('rla', new CifarRLAPath(config.rla, stageChannels, blocksPerStage, rng))
      : null;
    this.fc = this.addModule('fc', new Linear(512 + k, config.numClasses, rng));
  }

  checkInputSize(height: number, width: number): void {
    // Three downsampling modules: RLA models need sides divisible by 8.
    checkCifarInputSize('CIFAR Xception', height, width, this.rla ? 8 : 1);
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = tf.relu(this.bn1.forward(this.conv1.forward(input)));
    x = tf.relu(this.bn2.forward(this.conv2.forward(x)));
    sink?.('stem.x', x);
    let state = this.rla ? this.rla.initialState(x) : null;
    this.blocks.items.forEach((block, i) => {
      const step = block.forward(x, state);
      x = step.out;
      if (this.rla) state = this.rla.update(this.stageOf[i], this.indexInStage[i], step);
      const [s, b] = [this.stageOf[i], this.indexInStage[i]];
      const name = blockName(s, b, this.blocksPerStage[s]);
      sink?.(`${name}.x`, x);
      if (state) sink?.(`${name}.h`, state.h);
    });
    x = tf.relu(this.bn3.forward(this.conv3.forward(x)));
    x = tf.relu(this.bn4.forward(this.conv4.forward(x)));
    return { x, h: state?.h ?? null };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    return classifyPooled(features, this.rla, this.avgpool, this.fc, sink);
  }
}
