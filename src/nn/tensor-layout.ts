/**
 * How a parameter's native (TF.js, NHWC-friendly) layout relates to PyTorch's layout for the same tensor.
 * The one place that knows these transposes; checkpoint import/export goes through it.
 */
import * as tf from '@tensorflow/tfjs-core';

export type TorchLayout =
  /** Same layout in both worlds (BN vectors, biases, scalars). */
  | { kind: 'same' }
  /** Conv2d: torch [out, in/groups, kh, kw]  <->  native [kh, kw, in, out/groups] (HWIO when groups = 1). */
  | { kind: 'conv2d'; groups: number }
  /** Conv1d: torch [out, in, k]  <->  native [k, in, out]. */
  | { kind: 'conv1d' }
  /** Linear: torch [out, in]  <->  native [in, out]. */
  | { kind: 'linear' };

export const SAME_LAYOUT: TorchLayout = { kind: 'same' };

/** Shape of the PyTorch tensor that corresponds to a native tensor of shape `native`. */
export function torchShapeOf(native: readonly number[], layout: TorchLayout): number[] {
  switch (layout.kind) {
    case 'same':
      return [...native];
    case 'conv2d': {
      const [kh, kw, cin, outPerGroup] = native;
      return [outPerGroup * layout.groups, cin / layout.groups, kh, kw];
    }
    case 'conv1d': {
      const [k, cin, cout] = native;
      return [cout, cin, k];
    }
    case 'linear':
      return [native[1], native[0]];
  }
}

/** Converts a tensor in PyTorch layout to the native layout. */
export function fromTorchLayout(torchTensor: tf.Tensor, layout: TorchLayout): tf.Tensor {
  return tf.tidy(() => {
    switch (layout.kind) {
      case 'same':
        return torchTensor.clone();
      case 'conv2d': {
        const [out, inPerGroup, kh, kw] = torchTensor.shape;
        const g = layout.groups;
        // [g, out/g, in/g, kh, kw] -> [kh, kw, g, in/g, out/g] -> [kh, kw, in, out/g]
        const split = tf.reshape(torchTensor, [g, out / g, inPerGroup, kh, kw]);
        return tf.reshape(tf.transpose(split, [3, 4, 0, 2, 1]), [kh, kw, inPerGroup * g, out / g]);
      }
      case 'conv1d':
        return tf.transpose(torchTensor, [2, 1, 0]);
      case 'linear':
        return tf.transpose(torchTensor, [1, 0]);
    }
  });
}

/** Converts a native tensor to PyTorch layout. */
export function toTorchLayout(native: tf.Tensor, layout: TorchLayout): tf.Tensor {
  return tf.tidy(() => {
    switch (layout.kind) {
      case 'same':
        return native.clone();
      case 'conv2d': {
        const [kh, kw, cin, outPerGroup] = native.shape;
        const g = layout.groups;
        const split = tf.reshape(native, [kh, kw, g, cin / g, outPerGroup]);
        // [kh, kw, g, in/g, out/g] -> [g, out/g, in/g, kh, kw]
        return tf.reshape(tf.transpose(split, [2, 4, 3, 0, 1]), [g * outPerGroup, cin / g, kh, kw]);
      }
      case 'conv1d':
        return tf.transpose(native, [2, 1, 0]);
      case 'linear':
        return tf.transpose(native, [1, 0]);
    }
  });
}
