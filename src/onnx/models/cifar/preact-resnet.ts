/** ONNX emitter of the CIFAR pre-activation ResNets and their RLA versions (models/cifar/preact-resnet.ts). */
import type { CifarPreActResNet } from '../../../models/cifar/preact-resnet.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { preActBlock } from '../../layers/cifar/preact-block.js';
import { cifarInitialState, cifarRLAUpdate } from '../../layers/cifar/rla-path.js';
import { batchNorm, conv2d, relu } from '../../nn.js';
import { blockName, type OnnxSink } from '../emitter.js';
import { cifarHead } from './head.js';

export function emitCifarPreActResNet(
  b: OnnxBuilder,
  model: CifarPreActResNet,
  input: Value,
  sink: OnnxSink,
): Value {
  let x = conv2d(b, input, model.conv1);
  sink('stem.x', x);
  const rla = model.rla;
  let h = rla ? cifarInitialState(b, rla, x) : null;
  model.stages.items.forEach((stage, s) => {
    stage.items.forEach((block, i) => {
      const step = preActBlock(b, x, h, block);
      x = step.out;
      if (rla) h = cifarRLAUpdate(b, rla, s, i, step);
      const name = blockName(s, i, stage.length);
      sink(`${name}.x`, x);
      if (h !== null) sink(`${name}.h`, h);
    });
  });
  // The BN-ReLU no unit applied to the last sum.
  return cifarHead(b, relu(b, batchNorm(b, x, model.bn)), h, rla, model.fc, sink);
}
