/**
 * The CIFAR pre-activation residual unit (layers/cifar/preact-block.ts) in ONNX. Its BNs precede convs with a
 * ReLU between, so they stay BatchNormalization nodes (ONNX Runtime runs them as per-channel affine ops).
 */
import type { PreActBlock } from '../../../layers/cifar/preact-block.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { add, avgPool, batchNorm, concatChannels, conv2d, relu, sliceChannels } from '../../nn.js';
import type { CifarBlockValues } from './rla-path.js';

/** One unit on x (and h, at x's resolution, for RLA units). */
export function preActBlock(b: OnnxBuilder, x: Value, h: Value | null, block: PreActBlock): CifarBlockValues {
  const entry = block.config.rlaEntry;
  if (entry && h === null) throw new Error('an RLA pre-activation unit needs the hidden state h');
  return b.scoped(block, () => {
    const hidden = h as Value;
    const pooledH = entry ? (block.averagePooling ? avgPool(b, hidden, block.averagePooling) : hidden) : null;
    let t = relu(
      b,
      batchNorm(b, entry === 'pre-activation' ? concatChannels(b, [x, hidden]) : x, block.bns[0]),
    );
    // The projection reads the pre-activated x.
    const activatedX = entry === 'pre-activation' ? sliceChannels(b, t, 0, block.config.inChannels) : t;
    const shortcut = block.downsample ? conv2d(b, activatedX, block.downsample) : x;
    block.convs.forEach((conv, i) => {
      if (i > 0) t = relu(b, batchNorm(b, t, block.bns[i]));
      if (i === 0 && entry === 'conv1') t = concatChannels(b, [t, hidden]);
      if (i === 1 && entry === 'conv2') t = concatChannels(b, [t, pooledH as Value]);
      t = conv2d(b, t, conv);
    });
    const step: CifarBlockValues = { out: add(b, t, shortcut), branch: t, shortcut };
    if (pooledH !== null) step.h = pooledH;
    return step;
  });
}
