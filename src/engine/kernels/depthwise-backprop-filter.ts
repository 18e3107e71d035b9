/**
 * DepthwiseConv2dNativeBackpropFilter composed from strided slices, multiplies and sums.
 *
 * Missing on wasm; on cpu a scalar loop that dominated ResNeXt backward steps (2.9 s of 5 s). Per filter tap:
 *   dW[ky, kx, c, m] = sum over pixels of patch(ky, kx)[p, c] * dY[p, c * M + m]
 */
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-tensors.js';

interface DepthwiseBackpropFilterAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
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
    const rows = n * oh * ow;
    const dyByChannel = tf.reshape(dy, [rows, channels, multiplier]);
    const taps: tf.Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const top = ky * dh;
        const left = kx * dw;
        const patch = tf.stridedSlice(
          padded,
          [0, top, left, 0],
          [n, top + (oh - 1) * sh + 1, left + (ow - 1) * sw + 1, channels],
          [1, sh, sw, 1],
        );
        taps.push(tf.sum(tf.mul(tf.reshape(patch, [rows, channels, 1]), dyByChannel), 0));
      }
    }
    return tf.reshape(tf.stack(taps), filterShape);
  });
}

export function depthwiseBackpropFilterKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const { x: xInfo, dy: dyInfo } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { strides, dilations, pad, dimRoundingMode, filterShape } =
        attrs as unknown as DepthwiseBackpropFilterAttrs;
      const convInfo = tf.backend_util.computeConv2DInfo(
        xInfo.shape as [number, number, number, number],
        filterShape,
        strides,
        dilations,
        pad,
        dimRoundingMode,
        true,
      );
      return tf.tidy(() =>
        depthwiseFilterGradient(
          asTensor<tf.Tensor4D>(xInfo),
          asTensor<tf.Tensor4D>(dyInfo),
          filterShape,
          [convInfo.strideHeight, convInfo.strideWidth],
          [convInfo.dilationHeight, convInfo.dilationWidth],
          convInfo.padInfo,
        ),
      );
    },
  };
}
