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

/** The filter taps of a zero-padded window op that ever read the input, along one axis. */
export interface LiveTaps {
  /** First live tap and how many (contiguous). */
  first: number;
  count: number;
  /** Padding that gives the same output positions when only the live taps are applied. */
  padBefore: number;
  padAfter: number;
}

/**
 * Which taps of a `kernel`-wide window (stride `stride`, `pad` zeros on both sides) touch real input on an axis of
 * `size`: the others only ever multiply padding. On the small maps of CIFAR-size networks this is most of a 3x3
 * kernel (a 1x1 map uses only the centre tap), so convolving with the live taps alone gives the same outputs for a
 * fraction of the work. Returns the whole window when every tap is live, the window is dilated (not analysed), or
 * the cropped geometry would change the output size.
 */
export function liveTaps(size: number, kernel: number, stride: number, pad: number, dilation = 1): LiveTaps {
  const whole = { first: 0, count: kernel, padBefore: pad, padAfter: pad };
  if (dilation !== 1) return whole;
  const out = windowOutputSize(size, kernel, stride, pad);
  if (out < 1) return whole;
  const first = Math.max(0, pad - (out - 1) * stride);
  const last = Math.min(kernel - 1, size - 1 + pad);
  const count = last - first + 1;
  if (count < 1 || count >= kernel) return whole;
  const padBefore = pad - first;
  const padAfter = Math.max(0, (out - 1) * stride - padBefore + count - size);
  const croppedOut = Math.floor((size + padBefore + padAfter - count) / stride) + 1;
  return croppedOut === out ? { first, count, padBefore, padAfter } : whole;
}
