/** ONNX emitter of the MobileNetV2 baselines (models/mobilenetv2.ts). */
import type { MobileNetV2 } from '../../models/mobilenetv2.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { convBNReLU6 } from '../layers/conv-bn-relu6.js';
import { invertedResidual } from '../layers/inverted-residual.js';
import { flatten, globalAvgPool, linear } from '../nn.js';
import { dropout } from '../training-layers.js';
import { blockName, type OnnxSink } from './emitter.js';

/** Stem, inverted residuals, last 1x1 ConvBNReLU, GAP, classifier (dropout is the identity at inference). */
export function emitMobileNetV2(b: OnnxBuilder, model: MobileNetV2, input: Value, sink: OnnxSink): Value {
  let x = convBNReLU6(b, input, model.stem);
  sink('stem.x', x);
  model.stages.forEach((stage, s) => {
    stage.forEach((block, i) => {
      x = invertedResidual(b, x, block);
      sink(`${blockName(s, i, stage.length)}.x`, x);
    });
  });
  x = convBNReLU6(b, x, model.lastConv);
  const features = flatten(b, globalAvgPool(b, x));
  sink('head.features', features);
  return linear(
    b,
    dropout(b, features, model.classifier.dropout, model.classifier.linear.inFeatures),
    model.classifier.linear,
  );
}
