/**
 * The training-mode forms of the layers whose function differs between training and inference, as training
 * graphs write them: BatchNorm on batch statistics (with PyTorch's running-statistic update and a closed-form
 * gradient), GroupNorm through primitive ops (differentiable node by node), and Dropout as a product with a mask
 * the caller draws per step from the module's own generator.
 */
import type { Dropout } from '../layers/dropout.js';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import { int, ints, type OnnxBuilder, type Value } from './builder.js';

/** ReduceMean over `axes` keeping them (axes as attribute before opset 18, as an input from 18 on). */
export function reduceMean(b: OnnxBuilder, x: Value, axes: number[], keepdims = true): Value {
  if (b.options.opset >= 18) {
    return b.node('ReduceMean', [x, b.int64Values(axes)], { keepdims: int(keepdims ? 1 : 0) });
  }
  return b.node('ReduceMean', [x], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
}

/** ReduceSum over `axes` (axes as an input, opset >= 13). */
export function reduceSum(b: OnnxBuilder, x: Value, axes: number[], keepdims = true): Value {
  return b.node('ReduceSum', [x, b.int64Values(axes)], { keepdims: int(keepdims ? 1 : 0) });
}

/** Number of elements per channel of an NCHW value, as a float scalar computed at run time. */
function valuesPerChannel(b: OnnxBuilder, x: Value, channels: number): Value {
  const count = b.node('Div', [b.node('Size', [x]), b.int64Values([channels])]);
  return b.node('Cast', [b.node('Reshape', [count, b.int64Values([])])], { to: int(1) });
}

/** The BatchNorm's parameters and buffers as graph values. */
export interface BatchNormValues {
  weight: Value;
  bias: Value;
  runningMean: Value;
  runningVar: Value;
}

/**
 * BatchNorm2d in training mode on an NCHW value: y = (x - mean) / sqrt(var + eps) * gamma + beta with the batch's
 * mean and biased variance; the running statistics become (1 - momentum) * running + momentum * batch, with the
 * unbiased variance, as PyTorch does. Its gradient is the closed form
 *   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma / sqrt(var + eps) * (dy - dbeta / M - xhat * dgamma / M)
 * (sums over N, H, W; M values per channel): fewer full-size passes than differentiating the primitives.
 */
export function batchNormTraining(b: OnnxBuilder, x: Value, bn: BatchNorm2d, v: BatchNormValues): Value {
  const c = bn.numFeatures;
  const axes = [0, 2, 3];
  const perChannel = b.int64Values([1, c, 1, 1]);
  let xhat = '';
  let inv = '';
  let count = '';
  const y = b.region(
    [x, v.weight, v.bias],
    () => {
      count = valuesPerChannel(b, x, c);
      const mean = reduceMean(b, x, axes);
      const centred = b.node('Sub', [x, mean]);
      const variance = reduceMean(b, b.node('Mul', [centred, centred]), axes);
      inv = b.node('Reciprocal', [b.node('Sqrt', [b.node('Add', [variance, b.floatValues([bn.eps], [])])])]);
      xhat = b.node('Mul', [centred, inv]);
      const out = b.node('Add', [
        b.node('Mul', [xhat, b.node('Reshape', [v.weight, perChannel])]),
        b.node('Reshape', [v.bias, perChannel]),
      ]);
      const m = b.floatValues([bn.momentum], []);
      const keep = b.floatValues([1 - bn.momentum], []);
      const flat = b.int64Values([c]);
      const unbiased = b.node('Mul', [
        b.node('Reshape', [variance, flat]),
        b.node('Div', [count, b.node('Sub', [count, b.floatValues([1], [])])]),
      ]);
      const update = (running: Value, batch: Value) =>
        b.node('Add', [b.node('Mul', [running, keep]), b.node('Mul', [batch, m])]);
      b.stateUpdates.set(v.runningMean, update(v.runningMean, b.node('Reshape', [mean, flat])));
      b.stateUpdates.set(v.runningVar, update(v.runningVar, unbiased));
      return out;
    },
    (g, dy) => {
      const dbeta = reduceSum(g, dy, axes, false);
      const dgamma = reduceSum(g, g.node('Mul', [dy, xhat]), axes, false);
      const scale = g.node('Mul', [g.node('Reshape', [v.weight, perChannel]), inv]);
      const meanDbeta = g.node('Div', [g.node('Reshape', [dbeta, perChannel]), count]);
      const meanDgamma = g.node('Div', [g.node('Reshape', [dgamma, perChannel]), count]);
      const dx = g.node('Mul', [
        scale,
        g.node('Sub', [g.node('Sub', [dy, meanDbeta]), g.node('Mul', [xhat, meanDgamma])]),
      ]);
      return [dx, dgamma, dbeta];
    },
  );
  return y;
}

/** GroupNorm's normalisation (no affine) over [N, G, -1] groups, in primitive ops: x -> xhat, same shape. */
export function groupNormalizeTraining(b: OnnxBuilder, x: Value, groups: number, eps: number): Value {
  const grouped = b.node('Reshape', [x, b.int64Values([0, groups, -1])]);
  const centred = b.node('Sub', [grouped, reduceMean(b, grouped, [2])]);
  const variance = reduceMean(b, b.node('Mul', [centred, centred]), [2]);
  const inv = b.node('Reciprocal', [b.node('Sqrt', [b.node('Add', [variance, b.floatValues([eps], [])])])]);
  return b.node('Reshape', [b.node('Mul', [centred, inv]), b.node('Shape', [x])]);
}

/** Dropout on [N, features]: the identity in inference graphs, a product with a per-step mask in training graphs. */
export function dropout(b: OnnxBuilder, x: Value, module: Dropout, features: number): Value {
  if (!b.training || module.rate === 0) return x;
  const batch = b.options.batchSize;
  if (batch === undefined) throw new Error('a training graph with Dropout needs a fixed batch size');
  const mask = b.randomInput('dropout_mask', [batch, features], () => module.drawMask([batch, features]));
  return b.node('Mul', [x, mask]);
}
