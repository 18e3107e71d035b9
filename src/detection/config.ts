/**
 * Detector configurations: the six released configs of the official `mmdetection/` folder
 * (`faster_rcnn_r50rla_fpn`, `retinanet_r50rla_fpn`, `mask_rcnn_r50rla_fpn` and their `r50rlaeca` twins, plus the
 * R-101 variants the paper reports) as plain data, in the fields of the mmdet 2.10 configs they come from.
 * The reference generator (`tools/make_detection_fixtures.py`) writes the same JSON shape for its tiny fixtures.
 */
import { COCO_CLASSES } from './coco-classes.js';

export type DetectorKind = 'faster_rcnn' | 'mask_rcnn' | 'retinanet';

/** The RLA-ResNet backbone (`backbone=dict(type='RLA_ResNet', ...)`). */
export interface DetectionBackboneConfig {
  /** Blocks per stage: [3, 4, 6, 3] for R-50, [3, 4, 23, 3] for R-101. */
  layers: number[];
  rlaChannel: number;
  /** `ECA=[5, 5, 5, 7]` for the rlaeca configs, else null. */
  ecaKernelSizes: number[] | null;
  /** `planes` of the four stages ([64, 128, 256, 512]; the fixtures shrink them). */
  stagePlanes: number[];
  /** Stem and stages 1..frozenStages take no gradient (`frozen_stages=1`); -1 freezes nothing. */
  frozenStages: number;
  /** BatchNorm stays in eval mode during training (`norm_eval=True`). */
  normEval: boolean;
}

export interface FpnConfig {
  inChannels: number[];
  outChannels: number;
  numOuts: number;
  startLevel: number;
  /** false: extra levels by max-pool (kernel 1, stride 2); 'on_input': stride-2 convs, the first on C5. */
  addExtraConvs: false | 'on_input';
}

export interface AnchorConfig {
  strides: number[];
  ratios: number[];
  /** Anchor scales in units of the stride (RetinaNet: octave_base_scale * 2^(i / scales_per_octave)). */
  scales: number[];
}

export interface RpnConfig {
  featChannels: number;
  anchors: AnchorConfig;
  stds: number[];
  test: { nmsPre: number; maxPerImg: number; iouThreshold: number; minBboxSize: number };
}

export interface RoiConfig {
  featmapStrides: number[];
  finestScale: number;
  fcOutChannels: number;
  stds: number[];
  test: { scoreThr: number; iouThreshold: number; maxPerImg: number };
  mask?: { numConvs: number; convOutChannels: number; maskThrBinary: number };
}

export interface RetinaConfig {
  featChannels: number;
  stackedConvs: number;
  anchors: AnchorConfig;
  stds: number[];
  test: { nmsPre: number; scoreThr: number; iouThreshold: number; maxPerImg: number };
}

export interface DetectorConfig {
  kind: DetectorKind;
  numClasses: number;
  /** mmdet `img_scale` of the test pipeline: the image is resized to fit (long, short) keeping its ratio. */
  testScale: [number, number];
  sizeDivisor: number;
  /** RGB normalisation (0-255 scale). */
  mean: number[];
  std: number[];
  backbone: DetectionBackboneConfig;
  neck: FpnConfig;
  rpn?: RpnConfig;
  roi?: RoiConfig;
  retina?: RetinaConfig;
}

const RPN_ANCHORS: AnchorConfig = { strides: [4, 8, 16, 32, 64], ratios: [0.5, 1, 2], scales: [8] };
const RETINA_ANCHORS: AnchorConfig = {
  strides: [8, 16, 32, 64, 128],
  ratios: [0.5, 1, 2],
  scales: [0, 1, 2].map((i) => 4 * 2 ** (i / 3)),
};

function releasedConfig(kind: DetectorKind, depth: 50 | 101, eca: boolean): DetectorConfig {
  const backbone: DetectionBackboneConfig = {
    layers: depth === 50 ? [3, 4, 6, 3] : [3, 4, 23, 3],
    rlaChannel: 32,
    ecaKernelSizes: eca ? [5, 5, 5, 7] : null,
    stagePlanes: [64, 128, 256, 512],
    frozenStages: 1,
    normEval: true,
  };
  const base = {
    kind,
    numClasses: COCO_CLASSES.length,
    testScale: [1333, 800] as [number, number],
    sizeDivisor: 32,
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    backbone,
  };
  const inChannels = [256, 512, 1024, 2048];
  if (kind === 'retinanet') {
    return {
      ...base,
      neck: { inChannels, outChannels: 256, numOuts: 5, startLevel: 1, addExtraConvs: 'on_input' },
      retina: {
        featChannels: 256,
        stackedConvs: 4,
        anchors: RETINA_ANCHORS,
        stds: [1, 1, 1, 1],
        test: { nmsPre: 1000, scoreThr: 0.05, iouThreshold: 0.5, maxPerImg: 100 },
      },
    };
  }
  return {
    ...base,
    neck: { inChannels, outChannels: 256, numOuts: 5, startLevel: 0, addExtraConvs: false },
    rpn: {
      featChannels: 256,
      anchors: RPN_ANCHORS,
      stds: [1, 1, 1, 1],
      test: { nmsPre: 1000, maxPerImg: 1000, iouThreshold: 0.7, minBboxSize: 0 },
    },
    roi: {
      featmapStrides: [4, 8, 16, 32],
      finestScale: 56,
      fcOutChannels: 1024,
      stds: [0.1, 0.1, 0.2, 0.2],
      test: { scoreThr: 0.05, iouThreshold: 0.5, maxPerImg: 100 },
      ...(kind === 'mask_rcnn' ? { mask: { numConvs: 4, convOutChannels: 256, maskThrBinary: 0.5 } } : {}),
    },
  };
}

/** The released detector configs by name (`faster_rcnn_r50rla_fpn`, ..., `mask_rcnn_r101rlaeca_fpn`). */
export const DETECTOR_CONFIGS: Readonly<Record<string, DetectorConfig>> = Object.fromEntries(
  (['faster_rcnn', 'retinanet', 'mask_rcnn'] as const).flatMap((kind) =>
    ([50, 101] as const).flatMap((depth) =>
      [false, true].map((eca) => [
        `${kind}_r${depth}rla${eca ? 'eca' : ''}_fpn`,
        releasedConfig(kind, depth, eca),
      ]),
    ),
  ),
);

/** Names of the released detector configs. */
export function listDetectorConfigs(): string[] {
  return Object.keys(DETECTOR_CONFIGS);
}

/** The config registered as `name`; an unknown name is an error that lists the known ones. */
export function detectorConfig(name: string): DetectorConfig {
  const config = DETECTOR_CONFIGS[name];
  if (!config) {
    throw new Error(`unknown detector config '${name}'; known configs: ${listDetectorConfigs().join(', ')}`);
  }
  return config;
}

/** Upper bounds for configs read from files: generous for real detectors, small enough to refuse absurd sizes. */
const LIMITS = { channels: 8192, blocks: 64, classes: 10000, side: 8192, count: 100000 };

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new Error(
      `detector config ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
}

function checkIntList(name: string, value: unknown, length: number, min: number, max: number): void {
  if (!Array.isArray(value) || value.length !== length) {
    throw new Error(`detector config ${name} must list ${length} integers, got ${JSON.stringify(value)}`);
  }
  for (const [i, v] of value.entries()) checkInt(`${name}[${i}]`, v, min, max);
}

/**
 * Checks a config (e.g. one read from a file's metadata) before anything is allocated: the detector kind, the
 * settings it needs, and bounded sizes.
 */
export function validateDetectorConfig(config: DetectorConfig): void {
  const kinds: DetectorKind[] = ['faster_rcnn', 'mask_rcnn', 'retinanet'];
  if (!kinds.includes(config?.kind)) {
    throw new Error(`detector kind must be one of ${kinds.join(', ')}, got ${JSON.stringify(config?.kind)}`);
  }
  if (config.kind === 'retinanet' ? !config.retina : !config.rpn || !config.roi) {
    throw new Error(
      `a ${config.kind} config needs ${config.kind === 'retinanet' ? 'retina' : 'rpn and roi'} settings`,
    );
  }
  if (config.kind === 'mask_rcnn' && !config.roi?.mask)
    throw new Error('a mask_rcnn config needs roi.mask settings');
  const { backbone, neck } = config;
  checkInt('numClasses', config.numClasses, 1, LIMITS.classes);
  checkIntList('testScale', config.testScale, 2, 32, LIMITS.side);
  checkInt('sizeDivisor', config.sizeDivisor, 1, 1024);
  checkIntList('backbone.layers', backbone?.layers, 4, 1, LIMITS.blocks);
  checkIntList('backbone.stagePlanes', backbone.stagePlanes, 4, 1, LIMITS.channels);
  checkInt('backbone.rlaChannel', backbone.rlaChannel, 1, LIMITS.channels);
  checkIntList('neck.inChannels', neck?.inChannels, 4, 1, 4 * LIMITS.channels);
  checkInt('neck.outChannels', neck.outChannels, 1, LIMITS.channels);
  checkInt('neck.numOuts', neck.numOuts, 1, 8);
  checkInt('neck.startLevel', neck.startLevel, 0, 3);
  for (const [name, head] of [
    ['rpn', config.rpn],
    ['retina', config.retina],
  ] as const) {
    if (!head) continue;
    checkInt(`${name}.featChannels`, head.featChannels, 1, LIMITS.channels);
    checkInt(`${name}.test.nmsPre`, head.test.nmsPre, -1, LIMITS.count);
    checkInt(`${name}.test.maxPerImg`, head.test.maxPerImg, 1, LIMITS.count);
    if (head.anchors.strides.length !== neck.numOuts) {
      throw new Error(`${name}.anchors.strides must have one stride per FPN level (${neck.numOuts})`);
    }
  }
  if (config.retina) checkInt('retina.stackedConvs', config.retina.stackedConvs, 0, 16);
  if (config.roi) {
    checkInt('roi.fcOutChannels', config.roi.fcOutChannels, 1, LIMITS.channels);
    checkInt('roi.test.maxPerImg', config.roi.test.maxPerImg, 1, LIMITS.count);
    if (config.roi.mask) {
      checkInt('roi.mask.numConvs', config.roi.mask.numConvs, 0, 16);
      checkInt('roi.mask.convOutChannels', config.roi.mask.convOutChannels, 1, LIMITS.channels);
    }
  }
}
