/** ONNX emitter of the CIFAR Xception and RLA-Xception (models/cifar/xception.ts). */
import type { CifarXception } from '../../../models/cifar/xception.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { cifarInitialState, cifarRLAUpdate } from '../../layers/cifar/rla-path.js';
import { separableConv, xceptionBlock } from '../../layers/cifar/xception-block.js';
import { conv2d, relu } from '../../nn.js';
import { blockName, type OnnxSink } from '../emitter.js';
import { cifarHead } from './head.js';

/** RLA stage and index within it of each module: a stage starts at the first module and at each strided one. */
function stagePositions(model: CifarXception): Array<{ stage: number; index: number; blocks: number }> {
  const positions: Array<{ stage: number; index: number }> = [];
  const counts: number[] = [];
  for (const block of model.blocks) {
    if (counts.length === 0 || block.config.stride !== 1) counts.push(0);
    positions.push({ stage: counts.length - 1, index: counts[counts.length - 1]++ });
  }
  return positions.map((p) => ({ ...p, blocks: counts[p.stage] }));
}

export function emitCifarXception(b: OnnxBuilder, model: CifarXception, input: Value, sink: OnnxSink): Value {
  let x = relu(b, conv2d(b, input, model.conv1, model.bn1));
  x = relu(b, conv2d(b, x, model.conv2, model.bn2));
  sink('stem.x', x);
  const rla = model.rla;
  let h = rla ? cifarInitialState(b, rla, x) : null;
  const positions = stagePositions(model);
  model.blocks.items.forEach((block, i) => {
    const step = xceptionBlock(b, x, h, block);
    x = step.out;
    const { stage, index, blocks } = positions[i];
    if (rla) h = cifarRLAUpdate(b, rla, stage, index, step);
    const name = blockName(stage, index, blocks);
    sink(`${name}.x`, x);
    if (h !== null) sink(`${name}.h`, h);
  });
  x = relu(b, separableConv(b, x, model.conv3, model.bn3));
  x = relu(b, separableConv(b, x, model.conv4, model.bn4));
  return cifarHead(b, x, h, rla, model.fc, sink);
}
