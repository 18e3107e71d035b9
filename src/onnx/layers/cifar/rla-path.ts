/**
 * The RLA path of the CIFAR RLA-Nets (layers/cifar/rla-path.ts) in ONNX: zero initial state, the per-block
 * update (pre: rec(tanh(BN(h + conv_out(y)))); post: tanh(BN(rec(h + conv_out(y)))), BN folded into rec), and
 * what the head sees of h.
 */
import type { CifarRLAPath } from '../../../layers/cifar/rla-path.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { add, batchNorm, conv2d, relu, tanh } from '../../nn.js';
import { initialState } from '../rla-state.js';

/** A CIFAR block's result as ONNX values (as `CifarBlockStep`). */
export interface CifarBlockValues {
  out: Value;
  branch: Value;
  shortcut: Value;
  /** h at the block's output resolution; absent without RLA. */
  h?: Value;
}

/** The all-zero hidden state [N, k, H, W] shaped like the stem output `x`. */
export function cifarInitialState(b: OnnxBuilder, path: CifarRLAPath, x: Value): Value {
  return initialState(b, x, path.config.rlaChannel, 'add-before').h;
}

/** h after block `block` of stage `stage`. */
export function cifarRLAUpdate(
  b: OnnxBuilder,
  path: CifarRLAPath,
  stage: number,
  block: number,
  step: CifarBlockValues,
): Value {
  if (step.h === undefined) throw new Error('an RLA block step must carry h');
  const h = step.h;
  const y = { 'block-output': step.out, 'residual-branch': step.branch, shortcut: step.shortcut }[
    path.config.input
  ];
  const bn = path.stage_bns.at(stage).at(block);
  return b.scoped(bn, () => {
    const merged = add(b, h, conv2d(b, y, path.conv_outs.at(stage)));
    const recurrent = path.recurrent_convs.at(stage);
    return path.config.activation === 'pre'
      ? conv2d(b, tanh(b, batchNorm(b, merged, bn)), recurrent)
      : tanh(b, conv2d(b, merged, recurrent, bn));
  });
}

/** relu(bn2(h)) after pre-activation updates, h itself after post. */
export function cifarRLAHead(b: OnnxBuilder, path: CifarRLAPath, h: Value): Value {
  return path.bn2 ? relu(b, batchNorm(b, h, path.bn2)) : h;
}
