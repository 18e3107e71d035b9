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

// Baselines; the official names differ in style (`mobilenet_v2`, `mobilenetv2_eca`).
for (const { name, eca } of [
  { name: 'mobilenet_v2', eca: false },
  { name: 'mobilenetv2_eca', eca: true },
]) {
  registerModel({
    name,
    family: 'mobilenetv2',
    officialFile: 'models/mobilenetv2.py',
    description: `MobileNetV2${eca ? ' + ECA' : ''} baseline`,
    options: BASE_OPTIONS,
    create: (options) => new MobileNetV2(baseConfig(eca, options)),
  });
}

/** How each RLA kind is registered: its family and official file, by recurrent conv. */
const RLA_KINDS = {
  depthwise: {
    family: 'dsrla_mobilenetv2',
    officialFile: 'models/mobilenetv2_dsrla.py',
    label: 'RLA-MobileNetV2 (depthwise recurrent conv; the paper model)',
  },
  dense: {
    family: 'rla_mobilenetv2',
    officialFile: 'models/mobilenetv2_rla.py',
    label: 'RLA-MobileNetV2 with a dense recurrent conv',
  },
} as const;

/** Every official RLA factory: name -> recurrent conv, default k, ECA. The unsuffixed names are k = 32. */
const RLA_MOBILENETS: ReadonlyArray<{
  name: string;
  recurrentConv: keyof typeof RLA_KINDS;
  k: number;
  eca: boolean;
}> = [
  { name: 'dsrla_mobilenetv2', recurrentConv: 'depthwise', k: 32, eca: false },
  { name: 'dsrla_mobilenetv2_eca', recurrentConv: 'depthwise', k: 32, eca: true },
  { name: 'dsrla_mobilenetv2_k6', recurrentConv: 'depthwise', k: 6, eca: false },
  { name: 'dsrla_mobilenetv2_k6_eca', recurrentConv: 'depthwise', k: 6, eca: true },
  { name: 'dsrla_mobilenetv2_k12', recurrentConv: 'depthwise', k: 12, eca: false },
  { name: 'dsrla_mobilenetv2_k12_eca', recurrentConv: 'depthwise', k: 12, eca: true },
  { name: 'dsrla_mobilenetv2_k24', recurrentConv: 'depthwise', k: 24, eca: false },
  { name: 'dsrla_mobilenetv2_k24_eca', recurrentConv: 'depthwise', k: 24, eca: true },
  { name: 'dsrla_mobilenetv2_k32', recurrentConv: 'depthwise', k: 32, eca: false },
  { name: 'dsrla_mobilenetv2_k32_eca', recurrentConv: 'depthwise', k: 32, eca: true },
  { name: 'rla_mobilenetv2', recurrentConv: 'dense', k: 32, eca: false },
  { name: 'rla_mobilenetv2_eca', recurrentConv: 'dense', k: 32, eca: true },
  { name: 'rla_mobilenetv2_k6', recurrentConv: 'dense', k: 6, eca: false },
  { name: 'rla_mobilenetv2_k6_eca', recurrentConv: 'dense', k: 6, eca: true },
  { name: 'rla_mobilenetv2_k12', recurrentConv: 'dense', k: 12, eca: false },
  { name: 'rla_mobilenetv2_k12_eca', recurrentConv: 'dense', k: 12, eca: true },
  { name: 'rla_mobilenetv2_k24', recurrentConv: 'dense', k: 24, eca: false },
  { name: 'rla_mobilenetv2_k24_eca', recurrentConv: 'dense', k: 24, eca: true },
  { name: 'rla_mobilenetv2_k32', recurrentConv: 'dense', k: 32, eca: false },
  { name: 'rla_mobilenetv2_k32_eca', recurrentConv: 'dense', k: 32, eca: true },
];

for (const { name, recurrentConv, k, eca } of RLA_MOBILENETS) {
  const kind = RLA_KINDS[recurrentConv];
  registerModel({
    name,
    family: kind.family,
    officialFile: kind.officialFile,
    description: `${kind.label}${eca ? ' + ECA' : ''} (k = ${k})`,
    options: [...BASE_OPTIONS, 'rlaChannel'],
    create: (options) =>
      new RLAMobileNetV2({
        ...baseConfig(eca, options),
        rlaChannel: options.rlaChannel ?? k,
        recurrentConv,
      }),
  });
}
