/** Configuration shared by the ResNet-family models (baselines and RLA), with the official defaults. */
import { BOTTLENECK_EXPANSION, type BottleneckConfig } from '../layers/bottleneck.js';
import { checkPositiveInteger } from '../util/checks.js';
import type { RLAVariant } from './rla-variant.js';

export interface ResNetConfig {
  /** Blocks per stage, e.g. [3, 4, 6, 3] for a 50-layer net. */
  layers: number[];
  numClasses: number;
  /** ResNeXt cardinality (32 for the 32x4d models). */
  groups: number;
  /** `width_per_group` (64 for ResNet, 4 for ResNeXt 32x4d). */
  widthPerGroup: number;
  se: boolean;
  /** ECA kernel size per stage, or null for no ECA. */
  ecaKernelSizes: number[] | null;
  /** Zero-init every bottleneck's bn3.weight (official default true). */
  zeroInitLastBn: boolean;
  /** Seed of the initialisation PRNG; omitted = random. */
  seed?: number;
  /** `planes` of the four stages; default [64, 128, 256, 512] (`resnet50_k` widens them). */
  stagePlanes?: readonly number[];
}

export interface RLAResNetConfig extends ResNetConfig {
  /** k, channels of the RLA hidden state (official default 32). */
  rlaChannel: number;
  /** Which RLA design (RLA-Net itself, `OFFICIAL_RLA`, or one of the paper's ablations). */
  variant: RLAVariant;
  /**
   * Detection backbone mode (the official `mmdetection/resnet_rla.py`): no head (`bn2`, `fc`), so the state dict
   * has the mmdet backbone's keys; use `forwardStages`. `numClasses` is then unused.
   */
  featuresOnly?: boolean;
}

export const STAGE_PLANES = [64, 128, 256, 512] as const;
export const STAGE_STRIDES = [1, 2, 2, 2] as const;

export function validateResNetConfig(config: ResNetConfig): void {
  const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (config.layers.length !== 4 || !config.layers.every(positiveInt)) {
    throw new Error(`layers must be 4 positive integers (blocks per stage), got [${config.layers}]`);
  }
  checkPositiveInteger('numClasses', config.numClasses);
  checkPositiveInteger('widthPerGroup', config.widthPerGroup);
  if (
    config.stagePlanes !== undefined &&
    (config.stagePlanes.length !== 4 || !config.stagePlanes.every(positiveInt))
  ) {
    throw new Error(`stagePlanes must be 4 positive integers, got [${config.stagePlanes}]`);
  }
  if (config.ecaKernelSizes !== null && config.ecaKernelSizes.length !== 4) {
    throw new Error(`ecaKernelSizes must have 4 entries (one per stage), got [${config.ecaKernelSizes}]`);
  }
}

/**
 * The bottleneck configurations of each stage, in order, by the official `_make_layer` rules: stride on the first
 * block of stages 2-4, a `downsample` projection where the stride or the channel count changes.
 * `rlaChannel` extra input channels feed each block's conv1 (0 for plain ResNets).
 */
export function bottleneckStageConfigs(config: ResNetConfig, rlaChannel: number): BottleneckConfig[][] {
  const stagePlanes = config.stagePlanes ?? STAGE_PLANES;
  let inplanes = 64;
  return config.layers.map((blocks, s) => {
    const planes = stagePlanes[s];
    const outChannels = planes * BOTTLENECK_EXPANSION;
    return Array.from({ length: blocks }, (_, b) => {
      const stride = b === 0 ? STAGE_STRIDES[s] : 1;
      const block: BottleneckConfig = {
        inplanes,
        planes,
        stride,
        downsample: b === 0 && (stride !== 1 || inplanes !== outChannels),
        groups: config.groups,
        baseWidth: config.widthPerGroup,
        se: config.se,
        ecaKernelSize: config.ecaKernelSizes?.[s] ?? null,
        rlaChannel,
      };
      inplanes = outChannels;
      return block;
    });
  });
}
