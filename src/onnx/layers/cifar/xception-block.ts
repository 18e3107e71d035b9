/**
 * Xception's separable conv and residual module (layers/cifar/separable-conv.ts, xception-block.ts) in ONNX:
 * depthwise Conv then pointwise Conv with the following BN folded into the pointwise one.
 */
import type { SeparableConv2d } from '../../../layers/cifar/separable-conv.js';
import type { XceptionBlock } from '../../../layers/cifar/xception-block.js';
import type { BatchNorm2d } from '../../../nn/batchnorm.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { add, avgPool, concatChannels, conv2d, maxPool, relu } from '../../nn.js';
import type { CifarBlockValues } from './rla-path.js';

/** depthwise 3x3 -> pointwise 1x1 [-> BN, folded into the pointwise conv]. */
export function separableConv(
  b: OnnxBuilder,
  x: Value,
  conv: SeparableConv2d,
  bn: BatchNorm2d | null = null,
): Value {
  return b.scoped(conv, () => conv2d(b, conv2d(b, x, conv.depthwise), conv.pointwise, bn));
}

/** One module on x (and h, at x's resolution, for RLA modules). */
export function xceptionBlock(
  b: OnnxBuilder,
  x: Value,
  h: Value | null,
  block: XceptionBlock,
): CifarBlockValues {
  const entry = block.config.rlaEntry;
  if (entry && h === null) throw new Error('an RLA Xception module needs the hidden state h');
  return b.scoped(block, () => {
    let t = x;
    block.sepconvs.items.forEach((sepconv, i) => {
      const joinsHere = entry !== null && i === (entry === 'conv2' ? 1 : 0);
      if (joinsHere && entry === 'pre-activation') t = concatChannels(b, [t, h as Value]);
      if (i > 0 || block.config.startWithRelu) t = relu(b, t);
      if (joinsHere && entry !== 'pre-activation') t = concatChannels(b, [t, h as Value]);
      t = separableConv(b, t, sepconv, block.bns.at(i));
    });
    const branch = block.maxpool ? maxPool(b, t, block.maxpool) : t;
    const shortcut = block.skip ? conv2d(b, x, block.skip, block.skipbn) : x;
    const step: CifarBlockValues = { out: add(b, branch, shortcut), branch, shortcut };
    if (entry) step.h = block.averagePooling ? avgPool(b, h as Value, block.averagePooling) : (h as Value);
    return step;
  });
}
