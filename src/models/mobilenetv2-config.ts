/**
 * Configuration and channel arithmetic shared by the MobileNetV2 family (`models/mobilenetv2*.py`): the standard
 * inverted-residual settings, `_make_divisible` rounding, the ECA kernel rule and the RLA input-size rule.
 */

import type { InvertedResidualConfig } from '../layers/inverted-residual.js';
import { windowOutputSize } from '../nn/padding.js';
import { checkPositiveInteger } from '../util/checks.js';

/** One row (t, c, n, s) of the inverted-residual settings: expansion, base channels, blocks, first stride. */
export interface InvertedResidualSetting {
  t: number;
  c: number;
  n: number;
  s: 1 | 2;
}

/** The official (and only) settings of every MobileNetV2 in the paper. */
export const MOBILENETV2_SETTINGS: readonly InvertedResidualSetting[] = [
  { t: 1, c: 16, n: 1, s: 1 },
  { t: 6, c: 24, n: 2, s: 2 },
  { t: 6, c: 32, n: 3, s: 2 },
  { t: 6, c: 64, n: 4, s: 2 },
  { t: 6, c: 96, n: 3, s: 1 },
  { t: 6, c: 160, n: 3, s: 2 },
  { t: 6, c: 320, n: 1, s: 1 },
];

const STEM_CHANNELS = 32;
const LAST_CHANNELS = 1280;
const ROUND_NEAREST = 8;

export interface MobileNetV2Config {
  numClasses: number;
  /** Width multiplier applied to every layer (official default 1.0). */
  widthMult: number;
  /** ECA after each block's projection BN (kernel 1 if the row's c < 96, else 3). */
  eca: boolean;
  /** Seed of the initialisation (and dropout) PRNG; omitted = random. */
  seed?: number;
}

export interface RLAMobileNetV2Config extends MobileNetV2Config {
  /** k, channels of the RLA hidden state (official default 32). */
  rlaChannel: number;
  /**
   * The recurrent 3x3 conv shared by all stages: `depthwise` (groups = k, dsRLA, the paper's RLA-MobileNetV2,
   * state_dict `recurrent_dsconvs`) or `dense` (`mobilenetv2_rla.py`, state_dict `recurrent_convs`).
   */
  recurrentConv: 'depthwise' | 'dense';
}

/** `_make_divisible` of the official code (from TF slim): nearest multiple of `divisor`, never 10% below v. */
export function makeDivisible(v: number, divisor = ROUND_NEAREST, minValue = divisor): number {
  let rounded = Math.max(minValue, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** ECA kernel size of the MobileNets: 1 for rows with base channels c < 96, else 3. */
export function mobileNetEcaKernelSize(c: number): number {
  return c < 96 ? 1 : 3;
}

/** One settings row with its blocks resolved to channel counts. */
export interface MobileNetStageLayout {
  setting: InvertedResidualSetting;
  blocks: InvertedResidualConfig[];
}

export interface MobileNetV2Layout {
  stemChannels: number;
  /** Output channels of the last 1x1 ConvBNReLU (`last_channel`). */
  lastChannels: number;
  stages: MobileNetStageLayout[];
}

/** Channel counts and strides of every block for a width multiplier, exactly as the official constructors. */
export function mobileNetV2Layout(config: MobileNetV2Config): MobileNetV2Layout {
  const stemChannels = makeDivisible(STEM_CHANNELS * config.widthMult);
  const lastChannels = makeDivisible(LAST_CHANNELS * Math.max(1.0, config.widthMult));
  let inChannels = stemChannels;
  const stages = MOBILENETV2_SETTINGS.map((setting) => {
    const outChannels = makeDivisible(setting.c * config.widthMult);
    const blocks: InvertedResidualConfig[] = [];
    for (let i = 0; i < setting.n; i++) {
      blocks.push({
        inChannels,
        outChannels,
        stride: i === 0 ? setting.s : 1,
        expandRatio: setting.t,
        ecaKernelSize: config.eca ? mobileNetEcaKernelSize(setting.c) : null,
      });
      inChannels = outChannels;
    }
    return { setting, blocks };
  });
  return { stemChannels, lastChannels, stages };
}

export function validateMobileNetV2Config(config: MobileNetV2Config): void {
  checkPositiveInteger('numClasses', config.numClasses);
  if (!Number.isFinite(config.widthMult) || config.widthMult <= 0) {
    throw new Error(`widthMult must be a positive number, got ${config.widthMult}`);
  }
}

/** Spatial size after the MobileNetV2 stem (conv 3x3/2, padding 1). */
export function mobileNetStemSize(size: number): number {
  return windowOutputSize(size, 3, 2, 1);
}

/**
 * True when, in the RLA MobileNets, the main path (padded stride-2 depthwise conv: ceil) and h (AvgPool 2x2:
 * floor) agree after every stride-2 block, so that cat(x, h) works: the stem output must be divisible by 16.
 */
export function rlaMobileNetAcceptsSize(size: number): boolean {
  let s = mobileNetStemSize(size);
  if (s < 1) return false;
  for (const setting of MOBILENETV2_SETTINGS) {
    if (setting.s === 1) continue;
    const mainPath = windowOutputSize(s, 3, 2, 1);
    const hidden = Math.floor(s / 2);
    if (mainPath !== hidden || hidden < 1) return false;
    s = hidden;
  }
  return true;
}
