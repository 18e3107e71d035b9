/**
 * Convolutions that are plain matrix products, computed as such.
 *
 * On the wasm backend a Conv2D whose filter changed since its last call (every training step) first transposes the
 * filter HWIO -> OHWI in a generic scalar loop and then packs it for XNNPACK: about 32 ns per weight, 34 ms for a
 * 512x2048 1x1 conv against 4 ms for its arithmetic at batch 64. A MatMul packs the same weight in ~2 ms. Two kinds
 * of convolution are matrix products of the NHWC data as it lies in memory:
 *  - 1x1 kernels: [N*H*W, Cin] x [Cin, Cout], after subsampling the map for stride > 1 (the filter-gradient
 *    kernels' `subsample`, a 1x1 ones depthwise conv: exact, and differentiable on every backend);
 *  - kernels covering the whole unpadded map (one output pixel): [N, H*W*Cin] x [H*W*Cin, Cout], since an HWIO
 *    weight flattens in the same (row, column, channel) order as an NHWC image.
 * Same sums, same gradients (through MatMul and Reshape), no copies of the weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { subsample } from '../engine/kernels/conv2d-backprop-filter.js';

/** y = conv(x, weight) as a matrix product, or null when this convolution is not one. */
export function convolveAsMatMul(
  x: tf.Tensor4D,
  weight: tf.Tensor4D,
  stride: number,
  pad: 'valid' | tf.backend_util.ExplicitPadding,
): tf.Tensor4D | null {
  const unpadded = pad === 'valid' || pad.every(([before, after]) => before === 0 && after === 0);
  if (!unpadded) return null;
  const [n, h, w, c] = x.shape;
  const [kh, kw, , out] = weight.shape;
  if (kh === 1 && kw === 1) {
    const oh = Math.ceil(h / stride);
    const ow = Math.ceil(w / stride);
    const sampled = subsample(x, [stride, stride], oh, ow);
    const y = tf.matMul(tf.reshape(sampled, [n * oh * ow, c]), tf.reshape(weight, [c, out]));
    return tf.reshape(y, [n, oh, ow, out]);
  }
  if (kh === h && kw === w) {
    const y = tf.matMul(tf.reshape(x, [n, h * w * c]), tf.reshape(weight, [h * w * c, out]));
    return tf.reshape(y, [n, 1, 1, out]);
  }
  return null;
}
