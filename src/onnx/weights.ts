/**
 * Reading a model's parameters as the flat float32 arrays ONNX stores, in PyTorch layout (conv OIHW, linear
 * [out, in]), and folding an inference BatchNorm into the conv before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNorm2d } from '../nn/batchnorm.js';
import type { Buffer, Parameter } from '../nn/module.js';
import { toTorchLayout } from '../nn/tensor-layout.js';

/** A parameter's values in PyTorch layout (a copy). */
export function torchLayoutData(parameter: Parameter): Float32Array {
  const torch = toTorchLayout(parameter.value, parameter.layout);
  try {
    return Float32Array.from(torch.dataSync() as Float32Array);
  } finally {
    torch.dispose();
  }
}

/** A buffer's or parameter's values as float32 (a copy). */
export function floatData(holder: Parameter | Buffer): Float32Array {
  const value = holder.value;
  if (value.dtype === 'float32') return Float32Array.from(value.dataSync() as Float32Array);
  return tf.tidy(() => Float32Array.from(tf.cast(value, 'float32').dataSync() as Float32Array));
}

/** Inference BatchNorm as y = scale * x + shift per channel, computed in float64. */
export interface AffineChannels {
  scale: Float64Array;
  shift: Float64Array;
}

/** scale = gamma / sqrt(var + eps), shift = beta - mean * scale: what BN does with running statistics. */
export function batchNormAffine(bn: BatchNorm2d): AffineChannels {
  return affineOfStatistics(
    floatData(bn.weight),
    floatData(bn.bias),
    floatData(bn.runningMean),
    floatData(bn.runningVar),
    bn.eps,
  );
}

/** {@link batchNormAffine} from the four per-channel arrays (an exported graph's initializers). */
export function affineOfStatistics(
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
): AffineChannels {
  const scale = new Float64Array(gamma.length);
  const shift = new Float64Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * Folds `affine` (per output channel) into a conv: W'[o] = W[o] * scale[o], b' = b * scale + shift.
 * `weight` is OIHW (any layout whose leading axis is the output channel); `bias` may be null (zero).
 */
export function foldAffineIntoConv(
  weight: Float32Array,
  bias: Float32Array | null,
  affine: AffineChannels,
): { weight: Float32Array; bias: Float32Array } {
  const outChannels = affine.scale.length;
  const perOutput = weight.length / outChannels;
  const folded = new Float32Array(weight.length);
  const foldedBias = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = affine.scale[o];
    for (let i = o * perOutput; i < (o + 1) * perOutput; i++) folded[i] = weight[i] * s;
    foldedBias[o] = (bias ? bias[o] : 0) * s + affine.shift[o];
  }
  return { weight: folded, bias: foldedBias };
}
