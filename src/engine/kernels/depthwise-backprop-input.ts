/**
 * DepthwiseConv2dNativeBackpropInput (missing on wasm) as stride-phase depthwise convolutions of dy
 * (input-gradient.ts). With channel multiplier M, output channel c*M + m came from input channel c, so dy is
 * correlated per channel with the reversed filter taps and the M partial results of each input channel summed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv-geometry.js';
import { convInputGradient, gatherTaps } from './input-gradient.js';
import { asTensor } from './kernel-tensors.js';

interface DepthwiseBackpropInputAttrs {
  inputShape: [number, number, number, number];
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: ConvPad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** dx [N, H, W, C] of an NHWC depthwise conv with filter [kh, kw, C, M], from dy [N, OH, OW, C*M]. */
export function depthwiseInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const geometry = convGeometry(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    const [kh, kw, channels, multiplier] = filter.shape;
    const perOutputChannel = tf.reshape(filter, [kh, kw, channels * multiplier, 1]) as tf.Tensor4D;
    return convInputGradient(dy, geometry, (source, tapsY, tapsX, explicitPad) => {
      const taps = gatherTaps(perOutputChannel, tapsY, tapsX);
      const partial = tf.depthwiseConv2d(source, taps, 1, explicitPad, 'NHWC', geometry.dilations);
      if (multiplier === 1) return partial;
      const [n, h, w] = partial.shape;
      return tf.sum(tf.reshape(partial, [n, h, w, channels, multiplier]), 4) as tf.Tensor4D;
    });
  });
}

/** The DepthwiseConv2dNativeBackpropInput kernel for `backendName`. */
export function depthwiseBackpropInputKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const { inputShape, strides, dilations, pad, dimRoundingMode } =
        attrs as unknown as DepthwiseBackpropInputAttrs;
      return depthwiseInputGradient(
        asTensor<tf.Tensor4D>(dy),
        asTensor<tf.Tensor4D>(filter),
        inputShape,
        strides,
        dilations,
        pad,
        dimRoundingMode,
      );
    },
  };
}
