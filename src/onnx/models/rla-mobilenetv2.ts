/**
 * ONNX emitter of RLA-MobileNetV2 / dsRLA-MobileNetV2 (models/mobilenetv2-rla.ts): per block the RLA inverted
 * residual, then h <- rec(tanh(BN(h + conv_out(y)))) with y the branch before the residual addition; head
 * relu6(bn2(h)), conv2 on cat(x, h), GAP, classifier.
 */

import { MOBILENETV2_SETTINGS } from '../../models/mobilenetv2-config.js';
import type { RLAMobileNetV2 } from '../../models/mobilenetv2-rla.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { convBNReLU6 } from '../layers/conv-bn-relu6.js';
import { rlaInvertedResidual } from '../layers/inverted-residual.js';
import { initialState, type RLAStateValues } from '../layers/rla-state.js';
import { rlaUpdate } from '../layers/rla-update.js';
import { batchNorm, concatChannels, flatten, globalAvgPool, linear, relu6 } from '../nn.js';
import { dropout } from '../training-layers.js';
import { blockName, type OnnxSink } from './emitter.js';

/** Settings row -> index into `recurrentConvs`: a new "cell" starts at the first row and each stride-2 row. */
function recurrentIndex(row: number): number {
  let cell = -1;
  for (let j = 0; j <= row; j++) if (j === 0 || MOBILENETV2_SETTINGS[j].s === 2) cell++;
  return cell;
}

export function emitRLAMobileNetV2(
  b: OnnxBuilder,
  model: RLAMobileNetV2,
  input: Value,
  sink: OnnxSink,
): Value {
  let x = convBNReLU6(b, input, model.conv1);
  sink('stem.x', x);
  let state: RLAStateValues = initialState(b, x, model.config.rlaChannel, 'add-before');
  model.stages.items.forEach((stage, j) => {
    const convOut = model.conv_outs.at(j);
    const recurrent = model.recurrentConvs.at(recurrentIndex(j));
    stage.items.forEach((block, i) => {
      const step = rlaInvertedResidual(b, x, state, block);
      x = step.out;
      state = rlaUpdate(
        b,
        step.state,
        step.branch,
        { convOut, recurrent, bn: model.stage_bns.at(j).at(i) },
        'add-before',
      );
      const name = blockName(j, i, stage.length);
      sink(`${name}.x`, x);
      sink(`${name}.h`, state.h);
    });
  });
  const h = relu6(b, batchNorm(b, state.h, model.bn2));
  sink('head.h', h);
  x = convBNReLU6(b, concatChannels(b, [x, h]), model.conv2);
  sink('head.conv2', x);
  const features = flatten(b, globalAvgPool(b, x));
  sink('head.features', features);
  return linear(
    b,
    dropout(b, features, model.classifier.dropout, model.classifier.linear.inFeatures),
    model.classifier.linear,
  );
}
