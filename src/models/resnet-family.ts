/**
 * Registered factories of the ResNet family: the RLA-ResNets of `models/resnet_rla.py` and the baselines of
 * `models/resnet.py`, under their official names. Unlike the official factories, every option is honoured
 * (11 of 12 official RLA factories ignore `rla_channel`).
 */

import { type ModelOptionName, type ModelOptions, registerModel } from './registry.js';
import { ResNet } from './resnet.js';
import type { ResNetConfig } from './resnet-config.js';
import { RLAResNet } from './rla-resnet.js';
import { OFFICIAL_RLA } from './rla-variant.js';

const DEPTHS: Record<string, number[]> = {
  '50': [3, 4, 6, 3],
  '101': [3, 4, 23, 3],
  '152': [3, 8, 36, 3],
};

/** ECA kernel sizes per stage used by every official ResNet-family `_eca` factory. */
export const RESNET_ECA_KERNEL_SIZES = [5, 5, 5, 7];

/** Channel attention of a ResNet-family factory. */
export type Attention = 'none' | 'se' | 'eca';

/** The ResNet configuration every official factory of this family starts from. */
export function baseConfig(
  depth: string,
  resnext: boolean,
  attention: Attention,
  options: ModelOptions,
): ResNetConfig {
  return {
    layers: options.layers ?? DEPTHS[depth],
    numClasses: options.numClasses ?? 1000,
    groups: resnext ? 32 : 1,
    widthPerGroup: options.widthPerGroup ?? (resnext ? 4 : 64),
    se: attention === 'se',
    ecaKernelSizes: attention === 'eca' ? (options.ecaKernelSizes ?? RESNET_ECA_KERNEL_SIZES) : null,
    zeroInitLastBn: options.zeroInitLastBn ?? true,
    seed: options.seed,
  };
}

/** Options every ResNet-family model honours. */
export const COMMON_OPTIONS: ModelOptionName[] = [
  'numClasses',
  'layers',
  'widthPerGroup',
  'zeroInitLastBn',
  'seed',
];

const variants: Array<{ depth: string; resnext: boolean; attentions: Attention[] }> = [
  { depth: '50', resnext: false, attentions: ['none', 'se', 'eca'] },
  { depth: '101', resnext: false, attentions: ['none', 'se', 'eca'] },
  { depth: '152', resnext: false, attentions: ['none', 'se', 'eca'] },
  { depth: '50', resnext: true, attentions: ['none', 'se', 'eca'] },
  { depth: '101', resnext: true, attentions: ['none', 'se', 'eca'] },
];

for (const { depth, resnext, attentions } of variants) {
  for (const attention of attentions) {
    const base = resnext ? `resnext${depth}_32x4d` : `resnet${depth}`;
    const suffix = attention === 'none' ? '' : `_${attention}`;
    const attentionOptions: ModelOptionName[] = attention === 'eca' ? ['ecaKernelSizes'] : [];
    const label = `${resnext ? `ResNeXt-${depth} 32x4d` : `ResNet-${depth}`}${attention === 'none' ? '' : ` + ${attention.toUpperCase()}`}`;
    registerModel({
      name: `${base}${suffix}`,
      family: 'resnet',
      officialFile: 'models/resnet.py',
      description: `${label} baseline`,
      options: [...COMMON_OPTIONS, ...attentionOptions],
      create: (options) => new ResNet(baseConfig(depth, resnext, attention, options)),
    });
    // The official code has RLA versions of every ResNet variant but the SE ResNets.
    if (attention === 'se' && !resnext) continue;
    registerModel({
      name: `rla_${base}${suffix}`,
      family: 'rla_resnet',
      officialFile: 'models/resnet_rla.py',
      description: `RLA-${label} (k = 32)`,
      options: [...COMMON_OPTIONS, ...attentionOptions, 'rlaChannel', 'rlaInput'],
      create: (options) =>
        new RLAResNet({
          ...baseConfig(depth, resnext, attention, options),
          rlaChannel: options.rlaChannel ?? 32,
          variant: { ...OFFICIAL_RLA, input: options.rlaInput ?? OFFICIAL_RLA.input },
        }),
    });
  }
}
