/**
 * Conv2DBackpropInput (the input gradient of conv2d) as stride-phase convolutions of dy (input-gradient.ts).
 *
 * tfjs-backend-wasm ships this kernel as a scalar C++ loop: 3 s for a 3x3 64->64 conv on 128x32x32, 10x its
 * forward; as XNNPACK convolutions it costs about what the forward does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv-geometry.js';
import { convInputGradient, gatherTaps } from './input-gradient.js';
import { asTensor } from './kernel-tensors.js';
import { swapLastAxes } from './transpose.js';

interface Conv2DBackpropInputAttrs {
  inputShape: [number, number, number, number];
  strides: number | [number, number];
  pad: ConvPad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** dx [N, H, W, Cin] of an NHWC conv (dilation 1) with filter [kh, kw, Cin, Cout], from dy [N, OH, OW, Cout]. */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const geometry = convGeometry(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false);
    // Correlating dy (Cout channels) back to Cin channels needs the filter as [kh, kw, Cout, Cin].
    const transposed = swapLastAxes(filter);
    return convInputGradient(dy, geometry, (source, tapsY, tapsX, explicitPad) =>
      tf.conv2d(source, gatherTaps(transposed, tapsY, tapsX), 1, explicitPad, 'NHWC'),
    );
  });
}

/** The Conv2DBackpropInput kernel for `backendName`. */
export function conv2dBackpropInputKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const { inputShape, strides, pad, dataFormat, dimRoundingMode } =
        attrs as unknown as Conv2DBackpropInputAttrs;
      if (dataFormat !== 'NHWC')
        throw new Error(`Conv2DBackpropInput: only NHWC is supported, got ${dataFormat}`);
      return conv2dInputGradient(
        asTensor<tf.Tensor4D>(dy),
        asTensor<tf.Tensor4D>(filter),
        inputShape,
        strides,
        pad,
        dimRoundingMode,
      );
    },
  };
}
