/**
 * ResNet bottlenecks (layers/bottleneck.ts) in ONNX: the plain block relu(branch(x) + shortcut(x)) and the RLA
 * block, which reads cat(x, h) and pools h where it downsamples. Every conv carries its BN (folded by default).
 */
import type { Bottleneck, RLABottleneck } from '../../layers/bottleneck.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { add, concatChannels, conv2d, relu } from '../nn.js';
import { eca } from './eca.js';
import { poolState, type RLAStateValues } from './rla-state.js';
import { se } from './se.js';

/** conv1..bn3 [-> SE] [-> ECA] on the block input. */
export function bottleneckBranch(b: OnnxBuilder, input: Value, block: Bottleneck): Value {
  let out = relu(b, conv2d(b, input, block.conv1, block.bn1));
  out = relu(b, conv2d(b, out, block.conv2, block.bn2));
  out = conv2d(b, out, block.conv3, block.bn3);
  if (block.se) out = se(b, out, block.se);
  if (block.eca) out = eca(b, out, block.eca);
  return out;
}

/** downsample(x) (conv + BN), or x itself. */
export function bottleneckShortcut(b: OnnxBuilder, x: Value, block: Bottleneck): Value {
  return block.downsample ? conv2d(b, x, block.downsample.conv, block.downsample.bn) : x;
}

/** Plain ResNet block: relu(branch(x) + shortcut(x)). */
export function bottleneck(b: OnnxBuilder, x: Value, block: Bottleneck): Value {
  return b.scoped(block, () =>
    relu(b, add(b, bottleneckBranch(b, x, block), bottleneckShortcut(b, x, block))),
  );
}

/** What an RLA block hands to the RLA update (as `RLABlockOutput`). */
export interface RLABlockValues {
  out: Value;
  branch: Value;
  shortcut: Value;
  state: RLAStateValues;
}

/** One RLA block step: branch over cat(x, h) (or x alone when the block reads no h). */
export function rlaBottleneck(
  b: OnnxBuilder,
  x: Value,
  state: RLAStateValues,
  block: RLABottleneck,
): RLABlockValues {
  return b.scoped(block, () => {
    const input = block.config.rlaChannel > 0 ? concatChannels(b, [x, state.h]) : x;
    const branch = bottleneckBranch(b, input, block);
    const shortcut = bottleneckShortcut(b, x, block);
    const pooled = block.averagePooling ? poolState(b, state, block.averagePooling) : state;
    return { out: relu(b, add(b, branch, shortcut)), branch, shortcut, state: pooled };
  });
}
