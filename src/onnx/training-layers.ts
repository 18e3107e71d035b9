/**
 * The training-mode forms of the layers whose function differs between training and inference, as training
 * graphs write them: BatchNorm on batch statistics (with PyTorch's running-statistic update and a closed-form
 * gradient), GroupNorm through primitive ops (differentiable node by node), and Dropout as a product with a mask
 * the caller draws per step from the module's own generator.
 */
import type { Dropout } from '../layers/dropout.js';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import { float, int, ints, type OnnxBuilder, type Value } from './builder.js';
import type { NodeProto } from './onnx-proto.js';

/** ReduceMean over `axes` keeping them (axes as attribute before opset 18, as an input from 18 on). */
export function reduceMean(b: OnnxBuilder, x: Value, axes: number[], keepdims = true): Value {
  if (b.options.opset >= 18) {
    return b.node('ReduceMean', [x, b.int64Values(axes)], { keepdims: int(keepdims ? 1 : 0) });
  }
  return b.node('ReduceMean', [x], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
}

/** ReduceSumSquare over `axes` keeping them (axes as attribute before opset 18, as an input from 18 on). */
function reduceSumSquare(b: OnnxBuilder, x: Value, axes: number[]): Value {
  if (b.options.opset >= 18) return b.node('ReduceSumSquare', [x, b.int64Values(axes)], { keepdims: int(1) });
  return b.node('ReduceSumSquare', [x], { axes: ints(axes), keepdims: int(1) });
}

/** ReduceSum over `axes` (axes as an input, opset >= 13). */
export function reduceSum(b: OnnxBuilder, x: Value, axes: number[], keepdims = true): Value {
  return b.node('ReduceSum', [x, b.int64Values(axes)], { keepdims: int(keepdims ? 1 : 0) });
}

/**
 * The axes a ReduceMean / ReduceSum / ReduceSumSquare node of a rank-`rank` value reduces, as non-negative numbers
 * (as the functions above write them: an attribute or a constant input; every axis when none are given);
 * undefined when they are a computed input.
 */
export function reductionAxes(b: OnnxBuilder, node: NodeProto, rank: number): number[] | undefined {
  const attribute = node.attributes.axes;
  const axes =
    attribute?.kind === 'ints'
      ? attribute.value
      : node.inputs[1]
        ? b.int64ValuesOf(node.inputs[1])
        : Array.from({ length: rank }, (_, i) => i);
  return axes?.map((axis) => (axis < 0 ? axis + rank : axis));
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
 * Per-channel affine map y = x * scale + shift of an NCHW value in one pass: an inference BatchNormalization with
 * mean 0, variance 1 and epsilon 0 (ONNX Runtime has no fused multiply-add; this is one).
 */
export function channelAffine(b: OnnxBuilder, x: Value, scale: Value, shift: Value, channels: number): Value {
  return b.node(
    'BatchNormalization',
    [x, scale, shift, b.floatValues(new Array(channels).fill(0)), b.floatValues(new Array(channels).fill(1))],
    { epsilon: float(0) },
  );
}

/**
 * BatchNorm2d in training mode on an NCHW value: y = (x - mean) / sqrt(var + eps) * gamma + beta with the batch's
 * mean and biased variance (the normalisation itself one BatchNormalization node fed those statistics); the
 * running statistics become (1 - momentum) * running + momentum * batch, with the unbiased variance, as PyTorch
 * does. Its gradient is the closed form (sums over N, H, W; M values per channel; xc = x - mean)
 *   dbeta = sum(dy), s = sum(dy * xc), dgamma = s / sqrt(var + eps),
 *   dx = k1 * dy + k2 * xc + k3 with k1 = gamma / sqrt(var + eps), k2 = -k1 * s / (M (var + eps)), k3 = -k1 * dbeta / M
 * in six full-size passes (differentiating the primitives takes about twice as many).
 */
export function batchNormTraining(b: OnnxBuilder, x: Value, bn: BatchNorm2d, v: BatchNormValues): Value {
  const c = bn.numFeatures;
  const axes = [0, 2, 3];
  const perChannel = b.int64Values([1, c, 1, 1]);
  const flat = b.int64Values([c]);
  let centred = '';
  let inv = '';
  let count = '';
  return b.region(
    [x, v.weight, v.bias],
    () => {
      count = valuesPerChannel(b, x, c);
      const mean = reduceMean(b, x, axes);
      centred = b.node('Sub', [x, mean]);
      // One pass over xc (no full-size xc * xc); the region's closed-form gradient needs no rule for it.
      const variance = b.node('Div', [reduceSumSquare(b, centred, axes), count]);
      inv = b.node('Reciprocal', [b.node('Sqrt', [b.node('Add', [variance, b.floatValues([bn.eps], [])])])]);
      const batchMean = b.node('Reshape', [mean, flat]);
      const batchVar = b.node('Reshape', [variance, flat]);
      const out = b.node('BatchNormalization', [x, v.weight, v.bias, batchMean, batchVar], {
        epsilon: float(bn.eps),
      });
      const m = b.floatValues([bn.momentum], []);
      const keep = b.floatValues([1 - bn.momentum], []);
      const unbiased = b.node('Mul', [
        batchVar,
        b.node('Div', [count, b.node('Sub', [count, b.floatValues([1], [])])]),
      ]);
      const update = (running: Value, batch: Value) =>
        b.node('Add', [b.node('Mul', [running, keep]), b.node('Mul', [batch, m])]);
      b.stateUpdates.set(v.runningMean, update(v.runningMean, batchMean));
      b.stateUpdates.set(v.runningVar, update(v.runningVar, unbiased));
      return out;
    },
    (g, dy) => {
      const dbeta = reduceSum(g, dy, axes, true);
      const s = reduceSum(g, g.node('Mul', [dy, centred]), axes, true);
      const k1 = g.node('Mul', [g.node('Reshape', [v.weight, perChannel]), inv]);
      const negativeK1OverM = g.node('Neg', [g.node('Div', [k1, count])]);
      const k2 = g.node('Mul', [negativeK1OverM, g.node('Mul', [s, g.node('Mul', [inv, inv])])]);
      const k3 = g.node('Mul', [negativeK1OverM, dbeta]);
      const zeros = g.floatValues(new Array(c).fill(0));
      const dx = g.node('Add', [
        channelAffine(g, dy, g.node('Reshape', [k1, flat]), zeros, c),
        channelAffine(g, centred, g.node('Reshape', [k2, flat]), g.node('Reshape', [k3, flat]), c),
      ]);
      return [dx, g.node('Reshape', [g.node('Mul', [s, inv]), flat]), g.node('Reshape', [dbeta, flat])];
    },
  );
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
