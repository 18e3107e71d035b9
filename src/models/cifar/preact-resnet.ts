/**
 * CIFAR pre-activation ResNets (He et al., "Identity Mappings in Deep Residual Networks", 2016) and our RLA
 * versions of them (docs/cifar.md; the paper's CIFAR code is unpublished).
 *
 * conv3x3(3 -> 16) -> three stages of pre-activation units at 32x32, 16x16, 8x8 (widths 16/32/64; bottleneck
 * units expand 4x) -> BN -> ReLU -> global average pool -> fc. ResNet-110: 18 basic units per stage; ResNet-164:
 * 18 bottleneck units per stage. The RLA versions add one shared conv_out / recurrent conv per stage, a BN per unit,
 * feed h into every unit and classify cat(x, h).
 */
import * as tf from '@tensorflow/tfjs-core';
import { PreActBlock } from '../../layers/cifar/preact-block.js';
import type { CifarRLAConfig } from '../../layers/cifar/rla-options.js';
import { CifarRLAPath } from '../../layers/cifar/rla-path.js';
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

/** Widths of the three stages (bottleneck units: the inner width; they output 4x). */
export const CIFAR_STAGE_WIDTHS = [16, 32, 64] as const;

export interface CifarPreActResNetConfig {
  /** 6n + 2 for basic units (110: n = 18), 9n + 2 for bottleneck units (164: n = 18). */
  depth: number;
  bottleneck: boolean;
  numClasses: number;
  /** The RLA design, or null for the baseline. */
  rla: CifarRLAConfig | null;
  /**
   * Biases on every backbone conv (PyTorch's nn.Conv2d default). Off in the authors' code and by default; on, it
   * reproduces Table 2's 1.72M for ResNet-164 exactly (docs/cifar.md).
   */
  convBias?: boolean;
  /** Seed of the initialisation PRNG; omitted = random. */
  seed?: number;
}

export class CifarPreActResNet extends ClassifierModel {
  readonly conv1: Conv2d;
  readonly stages: ModuleList<ModuleList<PreActBlock>>;
  readonly bn: BatchNorm2d;
  readonly rla: CifarRLAPath | null;
  readonly avgpool = new GlobalAvgPool2d();
  readonly fc: Linear;
  readonly numClasses: number;

  constructor(readonly config: CifarPreActResNetConfig) {
    super();
    const { depth, bottleneck } = config;
    const perUnit = bottleneck ? 9 : 6;
    const units = (depth - 2) / perUnit;
    if (!Number.isInteger(units) || units < 1) {
      throw new Error(`depth of a CIFAR pre-activation ResNet must be ${perUnit}n + 2, got ${depth}`);
    }
    checkPositiveInteger('numClasses', config.numClasses);
    const rng = new Rng(config.seed);
    this.numClasses = config.numClasses;
    const k = config.rla?.rlaChannel ?? 0;
    this.conv1 = this.addModule(
      'conv1',
      new Conv2d(3, CIFAR_STAGE_WIDTHS[0], 3, rng, { padding: 1, bias: config.convBias }),
    );
    let inChannels: number = CIFAR_STAGE_WIDTHS[0];
    const stageOut: number[] = [];
    const stages = CIFAR_STAGE_WIDTHS.map((width, s) => {
      const stage = new ModuleList<PreActBlock>();
      for (let b = 0; b < units; b++) {
        const block = new PreActBlock(
          {
            inChannels,
            widths: bottleneck ? [width, width, 4 * width] : [width, width],
            kernels: bottleneck ? [1, 3, 1] : [3, 3],
            stride: b === 0 && s > 0 ? 2 : 1,
            rlaEntry: config.rla?.entry ?? null,
            rlaChannel: k,
            convBias: config.convBias,
          },
          rng,
        );
        stage.push(block);
        inChannels = block.outChannels;
      }
      stageOut.push(inChannels);
      return stage;
    });
    this.stages = this.addModule('stages', new ModuleList(stages));
    this.bn = this.addModule('bn', new BatchNorm2d(inChannels));
    this.rla = config.rla
      ? this.addModule(
          'rla',
          new CifarRLAPath(
            config.rla,
            stageOut,
            stageOut.map(() => units),
            rng,
          ),
        )
      : null;
    this.fc = this.addModule('fc', new Linear(inChannels + k, config.numClasses, rng));
  }

  checkInputSize(height: number, width: number): void {
    // Two stride-2 stages: RLA models need sides divisible by 4.
    checkCifarInputSize(`CIFAR ResNet-${this.config.depth}`, height, width, this.rla ? 4 : 1);
  }

  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    let x = this.conv1.forward(input);
    sink?.('stem.x', x);
    let state = this.rla ? this.rla.initialState(x) : null;
    this.stages.items.forEach((stage, s) => {
      stage.items.forEach((block, b) => {
        const step = block.forward(x, state);
        x = step.out;
        if (this.rla) state = this.rla.update(s, b, step);
        const name = blockName(s, b, stage.length);
        sink?.(`${name}.x`, x);
        if (state) sink?.(`${name}.h`, state.h);
      });
    });
    // Pre-activation nets end with the BN-ReLU that no unit applied to the last sum.
    return { x: tf.relu(this.bn.forward(x)), h: state?.h ?? null };
  }

  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    return classifyPooled(features, this.rla, this.avgpool, this.fc, sink);
  }
}
