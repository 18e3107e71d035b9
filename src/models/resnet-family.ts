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

/** One registered model of the family; `rla` builds `RLAResNet` (official k = 32) instead of the plain `ResNet`. */
interface ResNetFamilyEntry {
  name: string;
  depth: '50' | '101' | '152';
  /** ResNeXt 32x4d (groups 32, width per group 4) instead of ResNet. */
  resnext: boolean;
  attention: Attention;
  rla: boolean;
}

/**
 * Every official factory of `models/resnet.py` and `models/resnet_rla.py`, by name. The official code has RLA
 * versions of every ResNet variant but the SE ResNets.
 */
const RESNET_FAMILY: readonly ResNetFamilyEntry[] = [
  { name: 'resnet50', depth: '50', resnext: false, attention: 'none', rla: false },
  { name: 'rla_resnet50', depth: '50', resnext: false, attention: 'none', rla: true },
  { name: 'resnet50_se', depth: '50', resnext: false, attention: 'se', rla: false },
  { name: 'resnet50_eca', depth: '50', resnext: false, attention: 'eca', rla: false },
  { name: 'rla_resnet50_eca', depth: '50', resnext: false, attention: 'eca', rla: true },
  { name: 'resnet101', depth: '101', resnext: false, attention: 'none', rla: false },
  { name: 'rla_resnet101', depth: '101', resnext: false, attention: 'none', rla: true },
  { name: 'resnet101_se', depth: '101', resnext: false, attention: 'se', rla: false },
  { name: 'resnet101_eca', depth: '101', resnext: false, attention: 'eca', rla: false },
  { name: 'rla_resnet101_eca', depth: '101', resnext: false, attention: 'eca', rla: true },
  { name: 'resnet152', depth: '152', resnext: false, attention: 'none', rla: false },
  { name: 'rla_resnet152', depth: '152', resnext: false, attention: 'none', rla: true },
  { name: 'resnet152_se', depth: '152', resnext: false, attention: 'se', rla: false },
  { name: 'resnet152_eca', depth: '152', resnext: false, attention: 'eca', rla: false },
  { name: 'rla_resnet152_eca', depth: '152', resnext: false, attention: 'eca', rla: true },
  { name: 'resnext50_32x4d', depth: '50', resnext: true, attention: 'none', rla: false },
  { name: 'rla_resnext50_32x4d', depth: '50', resnext: true, attention: 'none', rla: true },
  { name: 'resnext50_32x4d_se', depth: '50', resnext: true, attention: 'se', rla: false },
  { name: 'rla_resnext50_32x4d_se', depth: '50', resnext: true, attention: 'se', rla: true },
  { name: 'resnext50_32x4d_eca', depth: '50', resnext: true, attention: 'eca', rla: false },
  { name: 'rla_resnext50_32x4d_eca', depth: '50', resnext: true, attention: 'eca', rla: true },
  { name: 'resnext101_32x4d', depth: '101', resnext: true, attention: 'none', rla: false },
  { name: 'rla_resnext101_32x4d', depth: '101', resnext: true, attention: 'none', rla: true },
  { name: 'resnext101_32x4d_se', depth: '101', resnext: true, attention: 'se', rla: false },
  { name: 'rla_resnext101_32x4d_se', depth: '101', resnext: true, attention: 'se', rla: true },
  { name: 'resnext101_32x4d_eca', depth: '101', resnext: true, attention: 'eca', rla: false },
  { name: 'rla_resnext101_32x4d_eca', depth: '101', resnext: true, attention: 'eca', rla: true },
];

for (const { name, depth, resnext, attention, rla } of RESNET_FAMILY) {
  const attentionOptions: ModelOptionName[] = attention === 'eca' ? ['ecaKernelSizes'] : [];
  const label = `${resnext ? `ResNeXt-${depth} 32x4d` : `ResNet-${depth}`}${attention === 'none' ? '' : ` + ${attention.toUpperCase()}`}`;
  if (!rla) {
    registerModel({
      name,
      family: 'resnet',
      officialFile: 'models/resnet.py',
      description: `${label} baseline`,
      options: [...COMMON_OPTIONS, ...attentionOptions],
      create: (options) => new ResNet(baseConfig(depth, resnext, attention, options)),
    });
    continue;
  }
  registerModel({
    name,
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
