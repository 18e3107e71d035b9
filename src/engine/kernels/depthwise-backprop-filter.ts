/**
 * DepthwiseConv2dNativeBackpropFilter: missing on wasm, a scalar loop on cpu (2.9 s of a 5 s ResNeXt backward).
 * Per filter tap, the window of x that tap saw (a slice; a 1x1 ones depthwise conv subsamples it for strides),
 * times dy, summed over the batch and the pixels:
 *   dW[ky, kx, c, m] = sum over n, oy, ox of x[n, oy*s + ky*d - pad, ox*s + kx*d - pad, c] * dy[n, oy, ox, c*M + m]
 * Elementwise work per tap is memory-bound; no tfjs kernel contracts over pixels per channel (the depthwise
 * convolution with dy as a pixels-long filter measured 5x slower in XNNPACK).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv-geometry.js';
import { subsample } from './conv2d-backprop-filter.js';
import { asTensor } from './kernel-tensors.js';

interface DepthwiseBackpropFilterAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: ConvPad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** dW [kh, kw, C, M] of an NHWC depthwise conv from its input x and output gradient dy [N, OH, OW, C*M]. */
export function depthwiseFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  dilations: [number, number],
  padInfo: { top: number; bottom: number; left: number; right: number },
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, channels, multiplier] = filterShape;
    const [n, oh, ow] = dy.shape;
    const [sh, sw] = strides;
    const [dh, dw] = dilations;
    const padded = tf.pad(x, [
      [0, 0],
      [padInfo.top, padInfo.bottom],
      [padInfo.left, padInfo.right],
      [0, 0],
    ]);
    const gradient = multiplier === 1 ? dy : tf.reshape(dy, [n, oh, ow, channels, multiplier]);
    const taps: tf.Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const window = tf.slice(
          padded,
          [0, ky * dh, kx * dw, 0],
          [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, channels],
        );
        const seen = subsample(window, strides, oh, ow);
        const product =
          multiplier === 1
            ? tf.mul(seen, gradient)
            : tf.mul(tf.reshape(seen, [n, oh, ow, channels, 1]), gradient);
        taps.push(tf.sum(product, [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), filterShape);
  });
}

/** The DepthwiseConv2dNativeBackpropFilter kernel for `backendName`. */
export function depthwiseBackpropFilterKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const { x: xInfo, dy: dyInfo } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { strides, dilations, pad, dimRoundingMode, filterShape } =
        attrs as unknown as DepthwiseBackpropFilterAttrs;
      const geometry = convGeometry(xInfo.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
      return depthwiseFilterGradient(
        asTensor<tf.Tensor4D>(xInfo),
        asTensor<tf.Tensor4D>(dyInfo),
        filterShape,
        geometry.strides,
        geometry.dilations,
        geometry.pad,
      );
    },
  };
}
