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

/** The pre-activation ResNets and our RLA versions: name -> depth, unit, RLA design (null: the baseline). */
const CIFAR_RESNETS = [
  { name: 'resnet110_cifar', depth: 110, bottleneck: false, rla: null },
  { name: 'rla_resnet110_cifar', depth: 110, bottleneck: false, rla: CIFAR_RLA_DEFAULTS.resnet110 },
  { name: 'resnet164_cifar', depth: 164, bottleneck: true, rla: null },
  { name: 'rla_resnet164_cifar', depth: 164, bottleneck: true, rla: CIFAR_RLA_DEFAULTS.resnet164 },
] as const;

for (const { name, depth, bottleneck, rla } of CIFAR_RESNETS) {
  const unit = bottleneck ? 'bottleneck' : 'basic';
  registerCifar({
    name,
    family: rla ? 'rla_cifar_resnet' : 'cifar_resnet',
    description: rla
      ? `RLA-ResNet-${depth} for CIFAR (ours, docs/cifar.md; k = ${rla.rlaChannel})`
      : `pre-activation ResNet-${depth} for CIFAR (He et al. 2016, ${unit} units)`,
    options: rla ? RLA_OPTIONS : BASE_OPTIONS,
    create: (options) =>
      new CifarPreActResNet({
        depth,
        bottleneck,
        numClasses: numClasses(options),
        rla: rla ? rlaConfig(rla, options) : null,
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

/** DenseNet-BC-100 and its weight-sharing variants: name -> sharing of the per-source 1x1 weights. */
const CIFAR_DENSENETS = [
  {
    name: 'densenet_bc100_cifar',
    sharing: 'none',
    description: 'DenseNet-BC-100 (k = 12) for CIFAR (Huang et al. 2017)',
  },
  {
    name: 'densenet_bc100_sharedlag_cifar',
    sharing: 'lag',
    description: 'DenseNet-BC-100 with Shared-Lag 1x1 weights (paper eq. 9, Table 1)',
  },
  {
    name: 'densenet_bc100_sharedordinal_cifar',
    sharing: 'ordinal',
    description: 'DenseNet-BC-100 with Shared-Ordinal 1x1 weights (paper eq. 10, Table 1)',
  },
] as const;

for (const { name, sharing, description } of CIFAR_DENSENETS) {
  registerCifar({
    name,
    family: 'cifar_densenet',
    description,
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
