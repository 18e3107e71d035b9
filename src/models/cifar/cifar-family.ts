/**
 * Registered CIFAR models: the paper's Table 2 backbones (ResNet-110, ResNet-164, Xception) with our RLA versions,
 * and Table 1's DenseNet-BC-100 with its weight-sharing variants. The paper's CIFAR code is unpublished: these
 * are our designs, derived in docs/cifar.md, so they have no official file. 10 classes by default
 * (`numClasses: 100` for CIFAR-100); `rla info` counts them at 32x32; trainers use the paper's CIFAR recipe.
 */
import type { CifarRLAConfig } from '../../layers/cifar/rla-options.js';
import { type ModelEntry, type ModelOptionName, type ModelOptions, registerModel } from '../registry.js';
import { CifarDenseNet } from './densenet.js';
import { CifarPreActResNet } from './preact-resnet.js';
import { CifarXception } from './xception.js';

/** Our default RLA design per backbone: k and the recurrent conv reproduce Table 2's +Params (docs/cifar.md). */
export const CIFAR_RLA_DEFAULTS = {
  resnet110: {
    rlaChannel: 4,
    input: 'block-output',
    entry: 'conv1',
    activation: 'pre',
    recurrentConv: 'dense',
  },
  resnet164: {
    rlaChannel: 8,
    input: 'block-output',
    entry: 'conv1',
    activation: 'pre',
    recurrentConv: 'dense',
  },
  xception: {
    rlaChannel: 16,
    input: 'block-output',
    entry: 'conv1',
    activation: 'pre',
    recurrentConv: 'depthwise',
  },
} as const satisfies Record<string, CifarRLAConfig>;

const BASE_OPTIONS: ModelOptionName[] = ['numClasses', 'seed'];
const RLA_OPTIONS: ModelOptionName[] = [...BASE_OPTIONS, 'rlaChannel', 'rlaInput'];

/** The RLA design from registry options: k and y may be overridden, the rest are constructor options. */
function rlaConfig(defaults: CifarRLAConfig, options: ModelOptions): CifarRLAConfig {
  return {
    ...defaults,
    rlaChannel: options.rlaChannel ?? defaults.rlaChannel,
    input: options.rlaInput ?? defaults.input,
  };
}

function registerCifar(entry: Omit<ModelEntry, 'officialFile' | 'defaultInputSize' | 'recipe'>): void {
  registerModel({ ...entry, officialFile: '', defaultInputSize: 32, recipe: 'cifar' });
}

const numClasses = (options: ModelOptions) => options.numClasses ?? 10;

for (const [depth, bottleneck] of [
  [110, false],
  [164, true],
] as const) {
  const defaults = CIFAR_RLA_DEFAULTS[`resnet${depth}`];
  const unit = bottleneck ? 'bottleneck' : 'basic';
  registerCifar({
    name: `resnet${depth}_cifar`,
    family: 'cifar_resnet',
    description: `pre-activation ResNet-${depth} for CIFAR (He et al. 2016, ${unit} units)`,
    options: BASE_OPTIONS,
    create: (options) =>
      new CifarPreActResNet({
        depth,
        bottleneck,
        numClasses: numClasses(options),
        rla: null,
        seed: options.seed,
      }),
  });
  registerCifar({
    name: `rla_resnet${depth}_cifar`,
    family: 'rla_cifar_resnet',
    description: `RLA-ResNet-${depth} for CIFAR (ours, docs/cifar.md; k = ${defaults.rlaChannel})`,
    options: RLA_OPTIONS,
    create: (options) =>
      new CifarPreActResNet({
        depth,
        bottleneck,
        numClasses: numClasses(options),
        rla: rlaConfig(defaults, options),
        seed: options.seed,
      }),
  });
}

registerCifar({
  name: 'xception_cifar',
  family: 'cifar_xception',
  description: 'Xception for CIFAR (ours, docs/cifar.md: Xception topology, 2.70M parameters)',
  options: BASE_OPTIONS,
  create: (options) => new CifarXception({ numClasses: numClasses(options), rla: null, seed: options.seed }),
});
registerCifar({
  name: 'rla_xception_cifar',
  family: 'rla_cifar_xception',
  description: `RLA-Xception for CIFAR (ours, docs/cifar.md; k = ${CIFAR_RLA_DEFAULTS.xception.rlaChannel})`,
  options: RLA_OPTIONS,
  create: (options) =>
    new CifarXception({
      numClasses: numClasses(options),
      rla: rlaConfig(CIFAR_RLA_DEFAULTS.xception, options),
      seed: options.seed,
    }),
});

for (const [suffix, sharing, label] of [
  ['', 'none', 'DenseNet-BC-100 (k = 12) for CIFAR (Huang et al. 2017)'],
  ['_sharedlag', 'lag', 'DenseNet-BC-100 with Shared-Lag 1x1 weights (paper eq. 9, Table 1)'],
  ['_sharedordinal', 'ordinal', 'DenseNet-BC-100 with Shared-Ordinal 1x1 weights (paper eq. 10, Table 1)'],
] as const) {
  registerCifar({
    name: `densenet_bc100${suffix}_cifar`,
    family: 'cifar_densenet',
    description: label,
    options: BASE_OPTIONS,
    create: (options) =>
      new CifarDenseNet({
        depth: 100,
        growthRate: 12,
        sharing,
        numClasses: numClasses(options),
        seed: options.seed,
      }),
  });
}
