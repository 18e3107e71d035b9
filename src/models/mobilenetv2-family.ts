/**
 * Registered factories of the MobileNetV2 family under their official names: the baselines of
 * `models/mobilenetv2.py`, dsRLA-MobileNetV2 (`models/mobilenetv2_dsrla.py`, the paper's RLA-MobileNetV2: depthwise
 * recurrent conv) and RLA-MobileNetV2 with a dense recurrent conv (`models/mobilenetv2_rla.py`), each with
 * k = 6, 12, 24, 32 and with or without ECA. Every option is honoured (the official `_kN` factories take none).
 */
import { MobileNetV2 } from './mobilenetv2.js';
import type { MobileNetV2Config } from './mobilenetv2-config.js';
import { RLAMobileNetV2 } from './mobilenetv2-rla.js';
import { type ModelOptionName, type ModelOptions, registerModel } from './registry.js';

const BASE_OPTIONS: ModelOptionName[] = ['numClasses', 'widthMult', 'seed'];

function baseConfig(eca: boolean, options: ModelOptions): MobileNetV2Config {
  return {
    numClasses: options.numClasses ?? 1000,
    widthMult: options.widthMult ?? 1.0,
    eca,
    seed: options.seed,
  };
}

for (const eca of [false, true]) {
  const ecaLabel = eca ? ' + ECA' : '';
  registerModel({
    name: eca ? 'mobilenetv2_eca' : 'mobilenet_v2',
    family: 'mobilenetv2',
    officialFile: 'models/mobilenetv2.py',
    description: `MobileNetV2${ecaLabel} baseline`,
    options: BASE_OPTIONS,
    create: (options) => new MobileNetV2(baseConfig(eca, options)),
  });
}

const RLA_KINDS = [
  {
    prefix: 'dsrla_mobilenetv2',
    recurrentConv: 'depthwise',
    officialFile: 'models/mobilenetv2_dsrla.py',
    label: 'RLA-MobileNetV2 (depthwise recurrent conv; the paper model)',
  },
  {
    prefix: 'rla_mobilenetv2',
    recurrentConv: 'dense',
    officialFile: 'models/mobilenetv2_rla.py',
    label: 'RLA-MobileNetV2 with a dense recurrent conv',
  },
] as const;

/** Name suffix -> default k; the unsuffixed name is k = 32, like `_k32`. */
const K_SUFFIXES: Array<[string, number]> = [
  ['', 32],
  ['_k6', 6],
  ['_k12', 12],
  ['_k24', 24],
  ['_k32', 32],
];

for (const kind of RLA_KINDS) {
  for (const [kSuffix, defaultK] of K_SUFFIXES) {
    for (const eca of [false, true]) {
      registerModel({
        name: `${kind.prefix}${kSuffix}${eca ? '_eca' : ''}`,
        family: kind.prefix,
        officialFile: kind.officialFile,
        description: `${kind.label}${eca ? ' + ECA' : ''} (k = ${defaultK})`,
        options: [...BASE_OPTIONS, 'rlaChannel'],
        create: (options) =>
          new RLAMobileNetV2({
            ...baseConfig(eca, options),
            rlaChannel: options.rlaChannel ?? defaultK,
            recurrentConv: kind.recurrentConv,
          }),
      });
    }
  }
}
