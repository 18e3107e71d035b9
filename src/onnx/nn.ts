/**
 * ONNX emitters of the primitive layers of `src/nn` (one function per layer class), used by the tracer
 * (trace/primitives.ts); the ops between layers are written by trace/kernels.ts. Inputs and outputs are NCHW
 * values; weights are written in PyTorch layout under their official state_dict names.
 */
import type { BatchNorm2d } from '../nn/batchnorm.js';
import type { Conv1d, Conv2d } from '../nn/conv.js';
import type { GroupNorm } from '../nn/groupnorm.js';
import type { Linear } from '../nn/linear.js';
import type { Buffer, Module, Parameter } from '../nn/module.js';
import type { AvgPool2d, MaxPool2d } from '../nn/pool.js';
import { float, int, ints, type OnnxBuilder, type Value } from './builder.js';
import { batchNormTraining, groupNormalizeTraining } from './training-layers.js';
import { batchNormAffine, floatData, foldAffineIntoConv, torchLayoutData } from './weights.js';

/** The module's state_dict prefix, or `fallback` for a module the model did not register. */
function pathOrName(b: OnnxBuilder, module: Module, fallback: string): string {
  return b.pathOf(module) ?? fallback;
}

/** A conv's weights when they are not the module's own (DenseNet's shared 1x1 weights, assembled per layer). */
export interface ConvWeightOverride {
  /** Input channels of the assembled weight (the conv's geometry is otherwise the module's). */
  inChannels: number;
  /** Cache key and tensor name suffix that identify the assembled weight. */
  key: string;
  /** The weight in PyTorch OIHW layout. */
  weight: () => Float32Array;
  /** The weight computed in the graph from the parameters it is assembled from (training graphs). */
  build: (b: OnnxBuilder) => Value;
}

/** A conv's weight and bias as written: OIHW, BN folded when the export folds BN. */
interface ConvTensors {
  /** Cache key prefix and tensor name prefix. */
  path: string;
  weight: () => Float32Array;
  bias: (() => Float32Array) | null;
  inChannels: number;
}

/** The (lazily read, folded once) tensors of `conv` [+ `bn`], or of its weight override. */
function convTensors(
  b: OnnxBuilder,
  conv: Conv2d,
  bn: BatchNorm2d | null,
  override: ConvWeightOverride | null,
): ConvTensors {
  const readWeight = override ? override.weight : () => torchLayoutData(conv.weight);
  const base = `${pathOrName(b, conv, 'conv')}${override ? `.${override.key}` : ''}`;
  const inChannels = override ? override.inChannels : conv.inChannels;
  const readBias = conv.bias ? () => torchLayoutData(conv.bias as Parameter) : null;
  if (!bn || !b.options.foldBatchNorm || b.training)
    return { path: base, weight: readWeight, bias: readBias, inChannels };
  let folded: { weight: Float32Array; bias: Float32Array } | null = null;
  const foldOnce = () => {
    folded ??= foldAffineIntoConv(readWeight(), readBias ? readBias() : null, batchNormAffine(bn));
    return folded;
  };
  // Keyed by conv and BN: a conv shared by several blocks gets one folded copy per BN that follows it.
  return {
    path: `${base}*${pathOrName(b, bn, 'bn')}`,
    weight: () => foldOnce().weight,
    bias: () => foldOnce().bias,
    inChannels,
  };
}

/** A conv's own weight (OIHW) as a graph value: an initializer, or a training graph's input. */
export function convWeight(b: OnnxBuilder, conv: Conv2d): Value {
  const path = pathOrName(b, conv, 'conv');
  const dims = [conv.outChannels, conv.inChannels / conv.groups, conv.kernelSize, conv.kernelSize];
  return b.state(conv.weight, 'parameter', `${path}.weight`, `${path}.weight`, dims, () =>
    torchLayoutData(conv.weight),
  );
}

/** Initializer name of a tensor: the official key (`stages.0.0.conv1.weight`), whatever the cache key. */
const tensorName = (path: string, suffix: string) => `${path.split('*')[0]}.${suffix}`;

/**
 * Conv2d, with the BatchNorm that follows it folded into its weights when the export folds BN (the default):
 * ONNX Runtime would fold it too, but a folded file is smaller and runs the same in any runtime.
 * `override` replaces the module's weight (same kernel, stride, padding, groups).
 */
export function conv2d(
  b: OnnxBuilder,
  x: Value,
  conv: Conv2d,
  bn: BatchNorm2d | null = null,
  override: ConvWeightOverride | null = null,
): Value {
  const tensors = convTensors(b, conv, bn, override);
  const k = conv.kernelSize;
  const dims = [conv.outChannels, tensors.inChannels / conv.groups, k, k];
  const weightName = tensorName(tensors.path, 'weight');
  let weight: Value;
  if (b.training && override) weight = override.build(b);
  else if (override) weight = b.floatConstant(`${tensors.path}.weight`, weightName, dims, tensors.weight);
  else weight = b.state(conv.weight, 'parameter', `${tensors.path}.weight`, weightName, dims, tensors.weight);
  const inputs = [x, weight];
  if (tensors.bias && conv.bias) {
    inputs.push(
      b.state(
        conv.bias,
        'parameter',
        `${tensors.path}.bias`,
        tensorName(tensors.path, 'bias'),
        [conv.outChannels],
        tensors.bias,
      ),
    );
  } else if (tensors.bias) {
    inputs.push(
      b.floatConstant(
        `${tensors.path}.bias`,
        tensorName(tensors.path, 'bias'),
        [conv.outChannels],
        tensors.bias,
      ),
    );
  }
  const p = conv.padding;
  const out = b.scoped(conv, () =>
    b.node('Conv', inputs, {
      kernel_shape: ints([k, k]),
      strides: ints([conv.stride, conv.stride]),
      pads: ints([p, p, p, p]),
      dilations: ints([conv.dilation, conv.dilation]),
      group: int(conv.groups),
    }),
  );
  return bn && (!b.options.foldBatchNorm || b.training) ? batchNorm(b, out, bn) : out;
}

/**
 * BatchNorm2d: in inference mode (running statistics) a BatchNormalization node; in a training graph the
 * batch-statistics function of `batchNormTraining`.
 */
export function batchNorm(b: OnnxBuilder, x: Value, bn: BatchNorm2d): Value {
  const path = pathOrName(b, bn, 'bn');
  const c = [bn.numFeatures];
  const tensor = (name: string, holder: Parameter | Buffer, kind: 'parameter' | 'buffer') =>
    b.state(holder, kind, `${path}.${name}`, `${path}.${name}`, c, () => floatData(holder));
  const weight = tensor('weight', bn.weight, 'parameter');
  const bias = tensor('bias', bn.bias, 'parameter');
  const runningMean = tensor('running_mean', bn.runningMean, 'buffer');
  const runningVar = tensor('running_var', bn.runningVar, 'buffer');
  if (b.training) {
    return b.scoped(bn, () => batchNormTraining(b, x, bn, { weight, bias, runningMean, runningVar }));
  }
  const inputs = [x, weight, bias, runningMean, runningVar];
  return b.scoped(bn, () => b.node('BatchNormalization', inputs, { epsilon: float(bn.eps) }));
}

/** Linear on [N, in] -> [N, out] as Gemm with the PyTorch [out, in] weight (transB = 1). */
export function linear(b: OnnxBuilder, x: Value, layer: Linear): Value {
  const path = pathOrName(b, layer, 'linear');
  const weight = b.state(
    layer.weight,
    'parameter',
    `${path}.weight`,
    `${path}.weight`,
    [layer.outFeatures, layer.inFeatures],
    () => torchLayoutData(layer.weight),
  );
  const inputs = [x, weight];
  if (layer.bias) {
    const bias = layer.bias;
    inputs.push(
      b.state(bias, 'parameter', `${path}.bias`, `${path}.bias`, [layer.outFeatures], () =>
        torchLayoutData(bias),
      ),
    );
  }
  return b.scoped(layer, () => b.node('Gemm', inputs, { transB: int(1) }));
}

/**
 * Conv1d over a [N, C_in, L] value (ONNX Conv with one spatial axis); PyTorch weight [out, in, k].
 */
export function conv1d(b: OnnxBuilder, x: Value, conv: Conv1d): Value {
  const path = pathOrName(b, conv, 'conv1d');
  const weight = b.state(
    conv.weight,
    'parameter',
    `${path}.weight`,
    `${path}.weight`,
    [conv.outChannels, conv.inChannels, conv.kernelSize],
    () => torchLayoutData(conv.weight),
  );
  return b.scoped(conv, () =>
    b.node('Conv', [x, weight], {
      kernel_shape: ints([conv.kernelSize]),
      pads: ints([conv.padding, conv.padding]),
    }),
  );
}

/**
 * GroupNorm as PyTorch exports it: reshape to [N, G, -1], InstanceNormalization (unit scale, zero bias),
 * reshape back, then the per-channel affine. Works at any opset >= 13 (GroupNormalization needs opset 18 and
 * changed meaning in 21).
 */
export function groupNorm(b: OnnxBuilder, x: Value, norm: GroupNorm): Value {
  const path = pathOrName(b, norm, 'groupnorm');
  const g = norm.numGroups;
  const c = norm.numChannels;
  return b.scoped(norm, () => {
    let y: Value;
    if (b.training) y = groupNormalizeTraining(b, x, g, norm.eps);
    else {
      const grouped = b.node('Reshape', [x, b.int64Values([0, g, -1])]);
      const normalised = b.node(
        'InstanceNormalization',
        [grouped, b.floatValues(new Array(g).fill(1)), b.floatValues(new Array(g).fill(0))],
        { epsilon: float(norm.eps) },
      );
      y = b.node('Reshape', [normalised, b.node('Shape', [x])]);
    }
    const perChannel = (holder: Parameter, name: string) =>
      b.training
        ? b.node('Reshape', [
            b.state(holder, 'parameter', `${path}.${name}`, `${path}.${name}`, [c], () => floatData(holder)),
            b.int64Values([c, 1, 1]),
          ])
        : b.floatConstant(`${path}.${name}`, `${path}.${name}`, [c, 1, 1], () => floatData(holder));
    if (norm.weight) y = b.node('Mul', [y, perChannel(norm.weight, 'weight')]);
    if (norm.bias) y = b.node('Add', [y, perChannel(norm.bias, 'bias')]);
    return y;
  });
}

/** MaxPool2d; ONNX ignores padded positions, as PyTorch's -inf padding does. */
export function maxPool(b: OnnxBuilder, x: Value, pool: MaxPool2d): Value {
  const p = pool.padding;
  return b.node('MaxPool', [x], {
    kernel_shape: ints([pool.kernelSize, pool.kernelSize]),
    strides: ints([pool.stride, pool.stride]),
    pads: ints([p, p, p, p]),
  });
}

/** AvgPool2d without padding, floor mode. */
export function avgPool(b: OnnxBuilder, x: Value, pool: AvgPool2d): Value {
  return b.node('AveragePool', [x], {
    kernel_shape: ints([pool.kernelSize, pool.kernelSize]),
    strides: ints([pool.stride, pool.stride]),
  });
}

/** Global average pool: [N, C, H, W] -> [N, C, 1, 1]. */
export function globalAvgPool(b: OnnxBuilder, x: Value): Value {
  return b.node('GlobalAveragePool', [x]);
}

/** Concatenation along channels. */
export function concatChannels(b: OnnxBuilder, values: Value[]): Value {
  return b.node('Concat', values, { axis: int(1) });
}
