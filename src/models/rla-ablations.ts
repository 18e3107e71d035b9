/**
 * Registered factories of the paper's ablation study (Table 6) under their official names: the RLA-ResNet
 * variants of `models/resnet_rla_*.py`, built as points of one design space (see rla-variant.ts), and the
 * widened plain ResNet of `models/resnet_k.py`. Row letters follow the paper's Table 6 as mapped in
 * docs/ablations.md; counts equal the official ones (test/fixtures/spec/official-counts.json).
 */

import { checkPositiveInteger } from '../util/checks.js';
import { type ModelOptionName, registerModel } from './registry.js';
import { ResNet } from './resnet.js';
import { STAGE_PLANES } from './resnet-config.js';
import { baseConfig, COMMON_OPTIONS } from './resnet-family.js';
import { RLAResNet } from './rla-resnet.js';
import { RLA_ABLATIONS } from './rla-variant.js';

type AblationName = keyof typeof RLA_ABLATIONS;

/**
 * Variants whose official code aggregates a fixed tensor (v3/v4: `conv_out(x)` of the block output, v5/v6:
 * `conv_out(identity)`) rather than the block's `y`, so the `rlaInput` option has no meaning for them.
 */
const FIXED_INPUT: ReadonlySet<AblationName> = new Set(['rlav3', 'rlav4', 'rlav5', 'rlav6']);

interface AblationSpec {
  /** Official factory name. */
  name: string;
  variant: AblationName;
  depth: '50' | '101';
  eca: boolean;
  /** Official file under models/. */
  file: string;
  description: string;
}

function registerAblation(spec: AblationSpec): void {
  const variant = RLA_ABLATIONS[spec.variant];
  const options: ModelOptionName[] = [...COMMON_OPTIONS, 'rlaChannel'];
  if (spec.eca) options.push('ecaKernelSizes');
  if (!FIXED_INPUT.has(spec.variant)) options.push('rlaInput');
  registerModel({
    name: spec.name,
    family: 'rla_ablation',
    officialFile: `models/${spec.file}`,
    description: spec.description,
    options,
    create: (modelOptions) =>
      new RLAResNet({
        ...baseConfig(spec.depth, false, spec.eca ? 'eca' : 'none', modelOptions),
        rlaChannel: modelOptions.rlaChannel ?? 32,
        variant: { ...variant, input: modelOptions.rlaInput ?? variant.input },
      }),
  });
}

/** Table 6 "proposed" row, v1 file: RLA-ResNet-50 with tanh instead of ReLU on h before the classifier. */
registerAblation({
  name: 'rlav1_resnet50',
  variant: 'rlav1',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v1.py',
  description: 'RLA-ResNet-50 v1: tanh(bn2(h)) at the head (Table 6, proposed)',
});

/** Table 6 "proposed" row, v1 file, with ECA (kernel sizes 5, 5, 5, 7). */
registerAblation({
  name: 'rlav1_resnet50_eca',
  variant: 'rlav1',
  depth: '50',
  eca: true,
  file: 'resnet_rla_v1.py',
  description: 'RLA-ResNet-50 v1 + ECA: tanh(bn2(h)) at the head (Table 6, proposed)',
});

/** Table 6 row (f): conv_out(y) added after the recurrent conv, h = rec(tanh(bn(h))) + conv_out(y). */
registerAblation({
  name: 'rlav2_resnet50',
  variant: 'rlav2',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v2.py',
  description: 'RLA ablation (f) v2: block features added after the recurrent conv',
});

/** Table 6 row (g): conv_out(block output) added before BN; identical to rla_resnet50 (same aliasing). */
registerAblation({
  name: 'rlav3_resnet50',
  variant: 'rlav3',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v3.py',
  description: 'RLA ablation (g) v3: block output added before BN (= rla_resnet50)',
});

/** Table 6 row (h): conv_out(block output) added after the recurrent conv; identical to rlav2 (same aliasing). */
registerAblation({
  name: 'rlav4_resnet50',
  variant: 'rlav4',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v4.py',
  description: 'RLA ablation (h) v4: block output added after the recurrent conv (= rlav2_resnet50)',
});

/** Table 6 row (i): conv_out(shortcut) added before BN; the shortcut is downsample(x) or x. */
registerAblation({
  name: 'rlav5_resnet50',
  variant: 'rlav5',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v5.py',
  description: 'RLA ablation (i) v5: shortcut features added before BN',
});

/** Table 6 row (j): conv_out(shortcut) added after the recurrent conv. */
registerAblation({
  name: 'rlav6_resnet50',
  variant: 'rlav6',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v6.py',
  description: 'RLA ablation (j) v6: shortcut features added after the recurrent conv',
});

/** Table 6 row (e) PostAct: h = tanh(bn(rec(h + conv_out(y)))); no bn2 and no activation at the head. */
registerAblation({
  name: 'rlav1p_resnet50',
  variant: 'rlav1p',
  depth: '50',
  eca: false,
  file: 'resnet_rla_v1post.py',
  description: 'RLA ablation (e) post-activation: BN and tanh after the recurrent conv',
});

/** Table 6 row (c): no exchange; blocks read x only (conv1 in = inplanes), h reaches only the head. */
registerAblation({
  name: 'rlarh_resnet50',
  variant: 'rlarh',
  depth: '50',
  eca: false,
  file: 'resnet_rla_rh.py',
  description: 'RLA ablation (c): h not fed back into the blocks',
});

/** Table 6 row (b): unshared; every block owns conv_out, recurrent_conv, bn_rla; y is the true branch. */
registerAblation({
  name: 'rlaus_resnet50',
  variant: 'rlaus',
  depth: '50',
  eca: false,
  file: 'resnet_rla_us.py',
  description: 'RLA ablation (b): unshared RLA cells',
});

/** Table 6 row (b) at depth 101 (not in the table; the official file also defines it). */
registerAblation({
  name: 'rlaus_resnet101',
  variant: 'rlaus',
  depth: '101',
  eca: false,
  file: 'resnet_rla_us.py',
  description: 'RLA ablation (b) at depth 101: unshared RLA cells',
});

/** Table 6 row (d): a ConvLSTM cell per stage (3x3, no bias) fed tanh(bn(conv_out(y))); no bn2 at the head. */
registerAblation({
  name: 'rlalstm_resnet50',
  variant: 'rlalstm',
  depth: '50',
  eca: false,
  file: 'resnet_rla_lstm.py',
  description: 'RLA ablation (d): ConvLSTM recurrent cell',
});

/** ConvGRU cell (no Table 6 row; official file only): conv biases, GroupNorm(1, k, eps 1e-6). */
registerAblation({
  name: 'rlagru_resnet50',
  variant: 'rlagru',
  depth: '50',
  eca: false,
  file: 'resnet_rla_gru.py',
  description: 'RLA ablation: ConvGRU recurrent cell',
});

/** ConvGRU cell with ECA (no Table 6 row; official file only). */
registerAblation({
  name: 'rlagru_resnet50_eca',
  variant: 'rlagru',
  depth: '50',
  eca: true,
  file: 'resnet_rla_gru.py',
  description: 'RLA ablation + ECA: ConvGRU recurrent cell',
});

/** ConvGRU cell at depth 101 (no Table 6 row; official file only). */
registerAblation({
  name: 'rlagru_resnet101',
  variant: 'rlagru',
  depth: '101',
  eca: false,
  file: 'resnet_rla_gru.py',
  description: 'RLA ablation at depth 101: ConvGRU recurrent cell',
});

/** ConvGRU cell at depth 101 with ECA (no Table 6 row; official file only). */
registerAblation({
  name: 'rlagru_resnet101_eca',
  variant: 'rlagru',
  depth: '101',
  eca: true,
  file: 'resnet_rla_gru.py',
  description: 'RLA ablation + ECA at depth 101: ConvGRU recurrent cell',
});

/**
 * Table 6 row (a) "channel +32": a plain ResNet-50 (no RLA) whose stages are widened by k/4 planes
 * (k = `rlaChannel`, default 32: planes 72/136/264/520), to match RLA's extra channels at equal cost.
 */
registerModel({
  name: 'resnet50_k',
  family: 'rla_ablation',
  officialFile: 'models/resnet_k.py',
  description: 'RLA ablation (a): ResNet-50 with k/4 more planes per stage, no RLA',
  options: [...COMMON_OPTIONS, 'rlaChannel'],
  create: (options) => {
    const k = options.rlaChannel ?? 32;
    checkPositiveInteger('rlaChannel', k);
    // Official `add_k = int(channel_k / self.expansion)`.
    const addedPlanes = Math.trunc(k / 4);
    return new ResNet({
      ...baseConfig('50', false, 'none', options),
      stagePlanes: STAGE_PLANES.map((planes) => planes + addedPlanes),
    });
  },
});
