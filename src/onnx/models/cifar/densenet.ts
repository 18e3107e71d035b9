/** ONNX emitter of DenseNet-BC for CIFAR and its weight-sharing variants (models/cifar/densenet.ts). */
import type { CifarDenseNet } from '../../../models/cifar/densenet.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { denseBlock, denseTransition } from '../../layers/cifar/dense-block.js';
import { batchNorm, conv2d, relu } from '../../nn.js';
import type { OnnxSink } from '../emitter.js';
import { cifarHead } from './head.js';

export function emitCifarDenseNet(b: OnnxBuilder, model: CifarDenseNet, input: Value, sink: OnnxSink): Value {
  let x = conv2d(b, input, model.conv1);
  sink('stem.x', x);
  model.blocks.forEach((block, i) => {
    x = denseBlock(b, x, block);
    sink(`stage${i + 1}.x`, x);
    if (i < model.transitions.length) x = denseTransition(b, x, model.transitions[i]);
  });
  return cifarHead(b, relu(b, batchNorm(b, x, model.bn)), null, null, model.fc, sink);
}
