/**
 * Sum and Mean for the wasm backend over leading or middle axes, as one XNNPACK average pooling.
 *
 * The shipped kernels move the reduced axes innermost with a Transpose first; for BatchNorm's statistics over
 * [N, H, W] of an NHWC activation that transpose is a cache-hostile scalar loop (54 ms for 128x32x32x64 against
 * 3 ms here). Reducing a contiguous block of axes that does not include the last one is an average pool of
 * x viewed as [outer, reduced, columns, channels] (columns * channels = the inner size) with a [reduced, 1] window. Other reductions use the shipped kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';
import { asTensor } from './kernel-tensors.js';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Below this many elements the shipped kernel's transpose is cheap and the extra kernel calls are not. */
const MIN_POOLED_SIZE = 4096;
/**
 * XNNPACK's average pooling in tfjs 4.22 corrupts the wasm heap beyond 8192 channels (seen at 16384); wider inner
 * blocks are split into pooling columns x channels of at most this many.
 */
const MAX_POOLED_CHANNELS = 1024;

/** `inner` as [columns, channels] with channels <= MAX_POOLED_CHANNELS, or null when no divisor fits well. */
export function poolColumns(inner: number): [number, number] | null {
  if (inner <= MAX_POOLED_CHANNELS) return [1, inner];
  for (let channels = MAX_POOLED_CHANNELS; channels >= 16; channels--) {
    if (inner % channels === 0) return [inner / channels, channels];
  }
  return null;
}

/** [outer, reduced, inner] sizes when `axes` is one contiguous block that excludes the last axis, else null. */
export function pooledReduction(
  shape: readonly number[],
  axes: readonly number[],
): [number, number, number] | null {
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (last - first + 1 !== sorted.length || last === shape.length - 1) return null;
  const product = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  return [product(0, first), product(first, last + 1), product(last + 1, shape.length)];
}

function reduceKernel(original: tf.KernelConfig, kind: 'sum' | 'mean'): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const { axis, keepDims } = args.attrs as unknown as ReduceAttrs;
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const plan = pooledReduction(x.shape, axes);
      const columns = plan && poolColumns(plan[2]);
      if (x.dtype !== 'float32' || !plan || !columns || numel(x.shape) < MIN_POOLED_SIZE) {
        return original.kernelFunc(args);
      }
      const [outer, reduced] = plan;
      const outShape = keepDims
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !axes.includes(i));
      return tf.tidy(() => {
        const view = tf.reshape(asTensor(x), [outer, reduced, ...columns]) as tf.Tensor4D;
        const mean = reduced === 1 ? view : tf.avgPool(view, [reduced, 1], 1, 'valid');
        return tf.reshape(kind === 'mean' ? mean : tf.mul(mean, reduced), outShape);
      });
    },
  };
}

/** Sum for wasm (see the file comment). */
export function wasmSumKernel(original: tf.KernelConfig): tf.KernelConfig {
  return reduceKernel(original, 'sum');
}

/** Mean for wasm (see the file comment). */
export function wasmMeanKernel(original: tf.KernelConfig): tf.KernelConfig {
  return reduceKernel(original, 'mean');
}
