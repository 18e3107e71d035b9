/**
 * Pretrained configuration per registry entry (timm's `pretrained_cfg`): how the weights expect images (input
 * size, crop fraction, interpolation, mean/std), how many classes they output, the label set, and where the
 * official weights are published. ImageNet entries follow the official train.py / train_light.py evaluation
 * (`Resize(256)`, `CenterCrop(224)`, ImageNet mean/std); CIFAR entries the paper's CIFAR recipe (32x32 as is).
 */
import { LABEL_SETS, type LabelSetName } from '../data/class-names.js';
import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  cifarPreprocessing,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imagenetPreprocessing,
  type Preprocessing,
} from '../data/preprocessing.js';
import { getModelEntry } from './registry.js';

/** Weights the paper's authors published (README of fangyanwen1106/RLANet, ImageNet table). */
export interface OfficialWeights {
  /** Google Drive page of the checkpoint (a train.py `.pth.tar`: `state_dict` with `module.` prefixes). */
  url: string;
  /** The README's file name. */
  file: string;
  /** ImageNet-1k validation errors the README reports (%), single 224 center crop. */
  top1Error: number;
  top5Error: number;
}

export interface PretrainedConfig {
  /** Registry name the configuration belongs to. */
  model: string;
  /** Side of the square model input. */
  inputSize: number;
  /**
   * Fraction of the resized image the center crop keeps: images are resized (shorter side) to
   * `floor(inputSize / cropPct)` then center-cropped to `inputSize`. 1 = no resize (CIFAR: used as they are).
   */
  cropPct: number;
  /** Resampling of the resize: PIL's antialiased bilinear, as torchvision's `Resize` on PIL images. */
  interpolation: 'bilinear';
  /** Per-channel mean and std of 0..1 RGB values (`Normalize`). */
  mean: [number, number, number];
  std: [number, number, number];
  numClasses: number;
  /** Name of the label set (`LABEL_SETS`) whose names the logits index. */
  labelSet: LabelSetName;
  /** The official weights, where published. */
  officialWeights?: OfficialWeights;
}

/** Official ImageNet weights by registry name (the README's table; file names as published). */
export const OFFICIAL_WEIGHTS: Readonly<Record<string, OfficialWeights>> = {
  rla_resnet50: {
    url: 'https://drive.google.com/file/d/1cetP1SdOiwznLxlBUaHG8Q8c4RIwToWW/view',
    file: 'resnet50_rla_2283',
    top1Error: 22.83,
    top5Error: 6.58,
  },
  rla_resnet50_eca: {
    url: 'https://drive.google.com/file/d/173qoDPGe2q5l7CKVm54-_xJtg3_UFRR-/view',
    file: 'ecanet50_rla_2215',
    top1Error: 22.15,
    top5Error: 6.11,
  },
  rla_resnet101: {
    url: 'https://drive.google.com/file/d/1V9Iv0KbN1O92ll8rcf45kLkD9EOA9VCE/view',
    file: 'resnet101_rla_2148',
    top1Error: 21.48,
    top5Error: 5.8,
  },
  rla_resnet101_eca: {
    url: 'https://drive.google.com/file/d/1QMR_yf0RYugpJosCSo0uNRBmfl2e7cGa/view',
    file: 'ecanet101_rla_2100',
    top1Error: 21.0,
    top5Error: 5.51,
  },
  dsrla_mobilenetv2_k32: {
    url: 'https://drive.google.com/file/d/1yg9hsACBHZFT5R8s95igJTyaQ5iYKklV/view',
    file: 'dsrla_mobilenetv2_k32_2762',
    top1Error: 27.62,
    top5Error: 9.18,
  },
  dsrla_mobilenetv2_k32_eca: {
    url: 'https://drive.google.com/file/d/1JdEkJg9_IOnJsHWKVPQ-4YHBVabiNJXD/view',
    file: 'dsrla_mobilenetv2_k32_eca_2707',
    top1Error: 27.07,
    top5Error: 8.89,
  },
};

/** ImageNet evaluation crop of the official scripts: 224 of 256. */
const IMAGENET_CROP_PCT = 0.875;

/** The pretrained configuration of registry model `name` (for its default class count). */
export function pretrainedConfig(name: string): PretrainedConfig {
  const entry = getModelEntry(name);
  const officialWeights = OFFICIAL_WEIGHTS[name];
  if (entry.recipe === 'cifar') {
    return {
      model: name,
      inputSize: entry.defaultInputSize ?? 32,
      cropPct: 1,
      interpolation: 'bilinear',
      mean: CIFAR10_MEAN,
      std: CIFAR10_STD,
      numClasses: LABEL_SETS['cifar-10'].length,
      labelSet: 'cifar-10',
    };
  }
  return {
    model: name,
    inputSize: entry.defaultInputSize ?? 224,
    cropPct: IMAGENET_CROP_PCT,
    interpolation: 'bilinear',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    numClasses: LABEL_SETS['imagenet-1k'].length,
    labelSet: 'imagenet-1k',
    ...(officialWeights ? { officialWeights } : {}),
  };
}

/** The evaluation (and training) preprocessing a configuration describes. */
export function configPreprocessing(config: PretrainedConfig): Preprocessing {
  if (config.cropPct !== 1) {
    const resize = Math.floor(config.inputSize / config.cropPct);
    return { ...imagenetPreprocessing(config.inputSize, resize), mean: config.mean, std: config.std };
  }
  const cifar = cifarPreprocessing(config.mean, config.std);
  if (config.inputSize !== cifar.size)
    throw new Error(
      `${config.model}: cropPct 1 (no resize) is defined for ${cifar.size}x${cifar.size} inputs only`,
    );
  return cifar;
}
