/** ONNX emitter of the ResNet / ResNeXt baselines (models/resnet.ts). */
import type { ResNet } from '../../models/resnet.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { bottleneck } from '../layers/bottleneck.js';
import { conv2d, flatten, globalAvgPool, linear, maxPool, relu } from '../nn.js';
import { blockName, type OnnxSink } from './emitter.js';

/** Stem conv/BN/ReLU/maxpool, the bottleneck stages, then GAP -> fc. */
export function emitResNet(b: OnnxBuilder, model: ResNet, input: Value, sink: OnnxSink): Value {
  let x = maxPool(b, relu(b, conv2d(b, input, model.conv1, model.bn1)), model.maxpool);
  sink('stem.x', x);
  model.stages.forEach((stage, s) => {
    stage.items.forEach((block, i) => {
      x = bottleneck(b, x, block);
      sink(`${blockName(s, i, stage.length)}.x`, x);
    });
  });
  const features = flatten(b, globalAvgPool(b, x));
  sink('head.features', features);
  return linear(b, features, model.fc);
}
