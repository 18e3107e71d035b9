/**
 * MaxPoolGrad for wasm: each window's gradient goes to the input position of its maximum, scattered with one
 * scatter-add over the argmax indices.
 *
 * The shipped kernel is a scalar loop (430 ms for the ResNet stem, 16x112x112x64) and, like the shipped
 * MaxPoolWithArgmax, starts every window's maximum at 0: a window whose values are all negative loses its
 * gradient (MaxPoolGrad) or sends it to element 0 (MaxPoolWithArgmax). So the argmax kernel (160 ms) serves when
 * no window maximum is negative, as after a ReLU; otherwise the argmax is computed exactly here, tap by tap in
 * window order (the first maximum wins, as on cpu and in PyTorch). Ties among non-negative maxima go to the last
 * position in window order, as in the shipped kernel; after a ReLU those are zeros whose gradient is discarded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';
import { type ConvPad, convGeometry } from './conv-geometry.js';
import { asTensor } from './kernel-tensors.js';

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: ConvPad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Flat input index of each window's first maximum, [N, OH, OW, C] int32. */
function exactArgmax(
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  filterSize: [number, number],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const g = convGeometry(x.shape, [...filterSize, c, 1], strides, 1, pad, dimRoundingMode, true);
    const [sh, sw] = g.strides;
    const [oh, ow] = [g.outHeight, g.outWidth];
    const padded = tf.pad(
      x,
      [
        [0, 0],
        [g.pad.top, g.pad.bottom],
        [g.pad.left, g.pad.right],
        [0, 0],
      ],
      Number.NEGATIVE_INFINITY,
    );
    // Flat index in x of window (b, oy, ox)'s top-left tap, per channel (int32 throughout: a plain number
    // operand would make tfjs compute in float32).
    const int = (value: number) => tf.scalar(value, 'int32');
    const axis = (size: number, step: number, offset: number, scale: number, shape: number[]) =>
      tf.reshape(
        tf.mul(tf.sub(tf.mul(tf.range(0, size, 1, 'int32'), int(step)), int(offset)), int(scale)),
        shape,
      );
    const base = tf.add(
      tf.add(axis(n, 1, 0, h * w * c, [n, 1, 1, 1]), axis(oh, sh, g.pad.top, w * c, [1, oh, 1, 1])),
      tf.add(axis(ow, sw, g.pad.left, c, [1, 1, ow, 1]), axis(c, 1, 0, 1, [1, 1, 1, c])),
    );
    let claimed: tf.Tensor = tf.fill([n, oh, ow, c], 0, 'bool');
    let index: tf.Tensor = tf.fill([n, oh, ow, c], 0, 'int32');
    for (let ky = 0; ky < filterSize[0]; ky++) {
      for (let kx = 0; kx < filterSize[1]; kx++) {
        const seen = tf.stridedSlice(
          padded,
          [0, ky, kx, 0],
          [n, ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1, c],
          [1, sh, sw, 1],
        );
        const isMax = tf.equal(seen, y);
        const first = tf.logicalAnd(isMax, tf.logicalNot(claimed));
        claimed = tf.logicalOr(claimed, isMax);
        index = tf.where(first, tf.add(base, int((ky * w + kx) * c)), index);
      }
    }
    return index as tf.Tensor4D;
  });
}

/** The wasm MaxPoolGrad kernel wrapping the shipped one (`original`, kept for non-float inputs). */
export function wasmMaxPoolGradKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const { dy, input, output } = args.inputs as {
        dy: tf.TensorInfo;
        input: tf.TensorInfo;
        output: tf.TensorInfo;
      };
      const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolGradAttrs;
      if (input.dtype !== 'float32') return original.kernelFunc(args);
      return tf.tidy(() => {
        const x = asTensor<tf.Tensor4D>(input);
        const y = asTensor<tf.Tensor4D>(output);
        const size: [number, number] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
        const simplePad = typeof pad !== 'object' && dimRoundingMode == null;
        const noNegativeMaximum = simplePad && tf.min(y).dataSync()[0] >= 0;
        const indexes = noNegativeMaximum
          ? tf.maxPoolWithArgmax(x, size, strides, pad as 'valid' | 'same' | number, true).indexes
          : exactArgmax(x, y, size, strides, pad, dimRoundingMode);
        const flat = tf.scatterND(tf.reshape(indexes, [-1, 1]), tf.reshape(asTensor(dy), [-1]), [
          numel(x.shape),
        ]);
        return tf.reshape(flat, x.shape);
      });
    },
  };
}
