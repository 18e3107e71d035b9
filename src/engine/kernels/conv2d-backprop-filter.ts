/**
 * Conv2DBackpropFilter (the weight gradient of conv2d), missing on wasm and a slow scalar loop on cpu.
 *
 *   dW[ky, kx, ci, co] = sum over n, oy, ox of x[n, oy*s + ky - pad, ox*s + kx - pad, ci] * dy[n, oy, ox, co]
 *
 * Two compositions with the forward convolution's MACs:
 * - wasm (`conv2dFilterGradientByConv`): the sum is itself a convolution once the batch is the channel axis:
 *   input x as [Cin, H, W, N], filter dy as [OH, OW, N, Cout], dilation = the forward stride, output
 *   [Cin, kh, kw, Cout]; one XNNPACK convolution. 1x1 convolutions are one matrix product. Only the non-transposed
 *   matmul and the convolution are fast in tfjs-backend-wasm, hence these layouts.
 * - cpu (`conv2dFilterGradient`): per filter tap, patch^T . dy with strided slices and matrix multiplies
 *   (cpu's matmul is its fastest kernel; measured 8.9 s -> 0.4 s of a ResNet-50 backward step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ConvPad, convGeometry } from './conv-geometry.js';
import { asTensor } from './kernel-tensors.js';
import { swapLastAxes } from './transpose.js';

interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: ConvPad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

interface PadInfo {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** dW [kh, kw, Cin, Cout] by per-tap slices and matmuls (the cpu composition). */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  padInfo: PadInfo,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const [n, oh, ow] = dy.shape;
    const [sh, sw] = strides;
    const padded = tf.pad(x, [
      [0, 0],
      [padInfo.top, padInfo.bottom],
      [padInfo.left, padInfo.right],
      [0, 0],
    ]);
    const rows = n * oh * ow;
    const dyMatrix = tf.reshape(dy, [rows, cout]);
    const taps: tf.Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const fullImage =
          kh === 1 && kw === 1 && sh === 1 && sw === 1 && padded.shape[1] === oh && padded.shape[2] === ow;
        const patch = fullImage
          ? padded
          : tf.stridedSlice(
              padded,
              [0, ky, kx, 0],
              [n, ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1, cin],
              [1, sh, sw, 1],
            );
        taps.push(tf.matMul(tf.reshape(patch, [rows, cin]), dyMatrix, true, false));
      }
    }
    return tf.reshape(taps.length === 1 ? taps[0] : tf.stack(taps), filterShape);
  });
}

/** x[:, ::sh, ::sw, :] cut to [N, oh, ow, C], as a 1x1 depthwise convolution with ones (one MAC per output). */
export function subsample(x: tf.Tensor4D, strides: [number, number], oh: number, ow: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const sampled =
      strides[0] === 1 && strides[1] === 1
        ? x
        : tf.depthwiseConv2d(x, tf.fill([1, 1, c, 1], 1) as tf.Tensor4D, strides, 'valid');
    const [, sh, sw] = sampled.shape;
    if (sh === oh && sw === ow) return sampled;
    if (sh < oh || sw < ow) throw new Error(`subsample: [${h}, ${w}] gives [${sh}, ${sw}] < [${oh}, ${ow}]`);
    return tf.slice(sampled, [0, 0, 0, 0], [n, oh, ow, c]);
  });
}

/** a^T . b for [R, A] and [R, B] with only non-transposed matmuls, transposing the narrower operand. */
export function crossProduct(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() =>
    a.shape[1] <= b.shape[1]
      ? tf.matMul(swapLastAxes(a), b)
      : swapLastAxes(tf.matMul(swapLastAxes(b), a) as tf.Tensor2D),
  );
}

/** [N, H, W, C] -> [C, H, W, N]: the batch becomes the channel axis (two cache-friendly transposes). */
export function batchToChannels(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const pixelsMajor = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [h * w * n, c]) as tf.Tensor2D;
    return tf.reshape(swapLastAxes(pixelsMajor), [c, h, w, n]) as tf.Tensor4D;
  });
}

/** dW [kh, kw, Cin, Cout] as one convolution (1x1: one matmul); the wasm composition. */
export function conv2dFilterGradientByConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  padInfo: PadInfo,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const [n, oh, ow] = dy.shape;
    const unpadded = padInfo.top + padInfo.bottom + padInfo.left + padInfo.right === 0;
    if (kh === 1 && kw === 1 && unpadded) {
      const rows = n * oh * ow;
      const sampled = subsample(x, strides, oh, ow);
      const product = crossProduct(tf.reshape(sampled, [rows, cin]), tf.reshape(dy, [rows, cout]));
      return tf.reshape(product, filterShape);
    }
    const filterOfDy = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const result = tf.conv2d(
      batchToChannels(x),
      filterOfDy,
      1,
      [
        [0, 0],
        [padInfo.top, padInfo.bottom],
        [padInfo.left, padInfo.right],
        [0, 0],
      ],
      'NHWC',
      strides,
    );
    // Rows the forward's floor division left unused give extra (ignored) output positions.
    const cropped =
      result.shape[1] === kh && result.shape[2] === kw ? result : tf.slice(result, 0, [cin, kh, kw, cout]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** The Conv2DBackpropFilter kernel for `backendName` (wasm: by convolution; others: by per-tap matmuls). */
export function conv2dBackpropFilterKernel(backendName: string): tf.KernelConfig {
  const gradient = backendName === 'wasm' ? conv2dFilterGradientByConv : conv2dFilterGradient;
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const { x: xInfo, dy: dyInfo } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
        attrs as unknown as Conv2DBackpropFilterAttrs;
      if (dataFormat !== 'NHWC')
        throw new Error(`Conv2DBackpropFilter: only NHWC is supported, got ${dataFormat}`);
      const geometry = convGeometry(xInfo.shape, filterShape, strides, 1, pad, dimRoundingMode, false);
      return gradient(
        asTensor<tf.Tensor4D>(xInfo),
        asTensor<tf.Tensor4D>(dyInfo),
        filterShape,
        geometry.strides,
        geometry.pad,
      );
    },
  };
}
