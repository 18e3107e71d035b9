/**
 * The design space of the RLA-ResNet ablations (paper Table 6): every official variant file
 * (`models/resnet_rla*.py`) is one point of it, and `RLAResNet` builds any point. The presets below are the
 * official ones; docs/ablations.md maps them to the paper's rows.
 */
import type { RLAHead, RLAInput, RLAUpdateRule } from '../layers/rla-update.js';

/** Which modules of the RLA update are shared. */
export type RLACellSharing =
  /** One conv_out and recurrent module per stage (`conv_outs.s`, `recurrent_convs.s`), one BN per block. */
  | 'stage'
  /** Every block owns conv_out, recurrent_conv and bn_rla (the unshared ablation). */
  | 'block';

export interface RLAVariant {
  /** The tensor the RLA path aggregates after each block. */
  input: RLAInput;
  /** How h absorbs it. */
  update: RLAUpdateRule;
  sharing: RLACellSharing;
  /** Whether blocks read cat(x, h) (false: h never reaches the main path before the head). */
  exchange: boolean;
  head: RLAHead;
}

/** RLA-Net as released (`models/resnet_rla.py`), including its block-output aliasing. */
export const OFFICIAL_RLA: RLAVariant = {
  input: 'block-output',
  update: 'add-before',
  sharing: 'stage',
  exchange: true,
  head: 'bn-relu',
};

/** The official ablation files as variants of RLA-Net; keys are the official name prefixes. */
export const RLA_ABLATIONS = {
  /** `resnet_rla_v1.py`: tanh instead of ReLU on h before the classifier. */
  rlav1: { ...OFFICIAL_RLA, head: 'bn-tanh' },
  /** `resnet_rla_v2.py`: conv_out(y) added after the recurrent conv. */
  rlav2: { ...OFFICIAL_RLA, update: 'add-after' },
  /** `resnet_rla_v3.py`: conv_out(block output) added before BN: RLA-Net itself, because y aliases the output. */
  rlav3: { ...OFFICIAL_RLA, input: 'block-output' },
  /** `resnet_rla_v4.py`: conv_out(block output) added after: v2 itself, through the same aliasing. */
  rlav4: { ...OFFICIAL_RLA, input: 'block-output', update: 'add-after' },
  /** `resnet_rla_v5.py`: conv_out(shortcut) added before BN. */
  rlav5: { ...OFFICIAL_RLA, input: 'shortcut' },
  /** `resnet_rla_v6.py`: conv_out(shortcut) added after the recurrent conv. */
  rlav6: { ...OFFICIAL_RLA, input: 'shortcut', update: 'add-after' },
  /** `resnet_rla_v1post.py`: BN and tanh after the recurrent conv; no bn2 and no activation at the head. */
  rlav1p: { ...OFFICIAL_RLA, update: 'post-activation', head: 'none' },
  /** `resnet_rla_rh.py`: blocks do not read h (conv1 takes x only); h reaches only the head. */
  rlarh: { ...OFFICIAL_RLA, exchange: false },
  /** `resnet_rla_us.py`: unshared cells, updated inside each block from the true residual branch. */
  rlaus: { ...OFFICIAL_RLA, input: 'residual-branch', sharing: 'block' },
  /** `resnet_rla_lstm.py`: a ConvLSTM cell per stage fed tanh(BN(conv_out(y))); no bn2 at the head. */
  rlalstm: { ...OFFICIAL_RLA, update: 'convlstm', head: 'none' },
  /** `resnet_rla_gru.py`: a ConvGRU cell (conv biases, GroupNorm) per stage; no bn2 at the head. */
  rlagru: { ...OFFICIAL_RLA, update: 'convgru', head: 'none' },
} as const satisfies Record<string, RLAVariant>;
