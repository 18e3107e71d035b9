/**
 * PyTorch-style explicit symmetric padding of NHWC tensors. TF's 'same' padding puts the extra pixel on the
 * bottom/right for stride 2, PyTorch pads symmetrically: we always pad explicitly and convolve with 'valid'.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Pads height and width of an NHWC tensor by `pad` on every side with `value`. */
export function padSpatial<T extends tf.Tensor4D>(x: T, pad: number, value = 0): T {
  if (pad === 0) return x;
  return tf.pad(
    x,
    [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ],
    value,
  ) as T;
}

/** Output size of a window op: floor((size + 2*pad - dilation*(kernel-1) - 1) / stride) + 1, as PyTorch computes it. */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  pad: number,
  dilation = 1,
): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}
