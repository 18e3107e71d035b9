/**
 * MobileNetV2 inverted residuals (layers/inverted-residual.ts) in ONNX: the baseline block and the RLA block,
 * which expands x alone and runs the depthwise conv over cat(x_expanded, h).
 */
import type { InvertedResidual, RLAInvertedResidual } from '../../layers/inverted-residual.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { add, concatChannels, conv2d } from '../nn.js';
import { convBNReLU6 } from './conv-bn-relu6.js';
import { eca } from './eca.js';
import { poolState, type RLAStateValues } from './rla-state.js';

/** The `conv` Sequential of either block (its class is private to the layer file). */
type Branch = InvertedResidual['conv'];

/** [expand] -> depthwise ConvBNReLU6 -> pointwise conv + BN [-> ECA]. */
function branch(b: OnnxBuilder, x: Value, module: Branch): Value {
  return b.scoped(module, () => {
    const expanded = module.expand ? convBNReLU6(b, x, module.expand) : x;
    const out = conv2d(b, convBNReLU6(b, expanded, module.depthwise), module.project, module.projectBn);
    return module.eca ? eca(b, out, module.eca) : out;
  });
}

/** Baseline block: x + branch(x) when it has a residual connection, else branch(x). */
export function invertedResidual(b: OnnxBuilder, x: Value, block: InvertedResidual): Value {
  return b.scoped(block, () => {
    const out = branch(b, x, block.conv);
    return block.useResidual ? add(b, x, out) : out;
  });
}

/** What an RLA inverted residual hands to the RLA update (as `RLAInvertedResidualOutput`). */
export interface RLAInvertedResidualValues {
  out: Value;
  branch: Value;
  state: RLAStateValues;
}

/** One RLA block step on x and the RLA state. */
export function rlaInvertedResidual(
  b: OnnxBuilder,
  x: Value,
  state: RLAStateValues,
  block: RLAInvertedResidual,
): RLAInvertedResidualValues {
  return b.scoped(block, () => {
    const expanded = block.conv1x1 ? convBNReLU6(b, x, block.conv1x1) : x;
    const out = branch(b, concatChannels(b, [expanded, state.h]), block.conv);
    const pooled = block.averagePooling ? poolState(b, state, block.averagePooling) : state;
    return { out: block.useResidual ? add(b, x, out) : out, branch: out, state: pooled };
  });
}
