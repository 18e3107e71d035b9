/**
 * ONNX emitter of RLA-ResNet and all its ablations (models/rla-resnet.ts): the same walk as `runBackbone` /
 * `runHead`, with the variant choosing the aggregated tensor, the update rule, the cell sharing and the head.
 */
import type { RLACell } from '../../layers/rla-update.js';
import type { RLAResNet } from '../../models/rla-resnet.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { type RLABlockValues, rlaBottleneck } from '../layers/bottleneck.js';
import { initialState, type RLAStateValues } from '../layers/rla-state.js';
import { rlaUpdate } from '../layers/rla-update.js';
import {
  batchNorm,
  concatChannels,
  conv2d,
  flatten,
  globalAvgPool,
  linear,
  maxPool,
  relu,
  tanh,
} from '../nn.js';
import { blockName, type OnnxSink } from './emitter.js';

/** The modules of the update after block i of stage s: the block's own cell, or the stage's shared one. */
function cellOf(model: RLAResNet, s: number, i: number): RLACell {
  const block = model.stages.at(s).at(i);
  if (block.ownCell) return block.ownCell;
  if (!model.conv_outs || !model.recurrent_convs || !model.stage_bns) {
    throw new Error('RLA-ResNet: a block without its own cell needs the per-stage modules');
  }
  return {
    convOut: model.conv_outs.at(s),
    recurrent: model.recurrent_convs.at(s),
    bn: model.stage_bns.at(s).at(i),
  };
}

/** The value the variant aggregates into h. */
function aggregated(model: RLAResNet, step: RLABlockValues): Value {
  switch (model.config.variant.input) {
    case 'block-output':
      return step.out;
    case 'residual-branch':
      return step.branch;
    case 'shortcut':
      return step.shortcut;
  }
}

/** h as the head uses it: relu(bn2(h)), tanh(bn2(h)), or h itself. */
function headState(b: OnnxBuilder, model: RLAResNet, h: Value): Value {
  if (!model.bn2) return h;
  const normalised = batchNorm(b, h, model.bn2);
  return model.config.variant.head === 'bn-tanh' ? tanh(b, normalised) : relu(b, normalised);
}

export function emitRLAResNet(b: OnnxBuilder, model: RLAResNet, input: Value, sink: OnnxSink): Value {
  const { update } = model.config.variant;
  let x = maxPool(b, relu(b, conv2d(b, input, model.conv1, model.bn1)), model.maxpool);
  sink('stem.x', x);
  let state: RLAStateValues = initialState(b, x, model.config.rlaChannel, update);
  model.stages.items.forEach((stage, s) => {
    stage.items.forEach((block, i) => {
      const step = rlaBottleneck(b, x, state, block);
      x = step.out;
      state = rlaUpdate(b, step.state, aggregated(model, step), cellOf(model, s, i), update);
      const name = blockName(s, i, stage.length);
      sink(`${name}.x`, x);
      sink(`${name}.h`, state.h);
    });
  });
  const h = headState(b, model, state.h);
  sink('head.h', h);
  const features = flatten(b, globalAvgPool(b, concatChannels(b, [x, h])));
  sink('head.features', features);
  return linear(b, features, model.fc);
}
