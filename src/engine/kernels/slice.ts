/**
 * Slice, SplitV, StridedSlice (unit strides) and Concat for the wasm backend, copying inside the heap.
 *
 * The shipped slicing kernels copy the whole input out of the heap (`readSync`) before slicing; these copy only the
 * sliced elements, one contiguous run (a memmove) per row. Strided slices with steps other than 1 still go to the
 * shipped C++ kernel. The shipped Concat copies per row too, but through a new subarray per run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';
import { concatOnHeap, copyRuns, isWasmBackend, type WasmBackend } from './wasm-heap.js';

interface SliceAttrs {
  begin: number | number[];
  size: number | number[];
}

interface SplitVAttrs {
  numOrSizeSplits: number | number[];
  axis: number;
}

interface StridedSliceAttrs {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

/**
 * Flat offsets of the contiguous runs that make up `x[begin : begin + size]` (row-major), and the run length:
 * trailing axes taken whole merge into one run.
 */
export function sliceRuns(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { runLength: number; offsets: Iterable<number> } {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  let full = rank;
  while (full > 0 && begin[full - 1] === 0 && size[full - 1] === shape[full - 1]) full--;
  if (full === 0) return { runLength: stride, offsets: [0] };
  const runAxis = full - 1;
  const runLength = size[runAxis] * strides[runAxis];
  const start = begin.reduce((sum, b, axis) => sum + b * strides[axis], 0);
  function* offsets(): Generator<number> {
    if (runAxis === 0) {
      yield start;
      return;
    }
    // Odometer over the axes before the run axis.
    const index = new Array<number>(runAxis).fill(0);
    let offset = start;
    while (true) {
      yield offset;
      let axis = runAxis - 1;
      while (axis >= 0) {
        index[axis]++;
        offset += strides[axis];
        if (index[axis] < size[axis]) break;
        offset -= strides[axis] * size[axis];
        index[axis] = 0;
        axis--;
      }
      if (axis < 0) return;
    }
  }
  return { runLength, offsets: offsets() };
}

/** `x[begin : begin + size]` as a new wasm tensor of shape `outShape` (same element count as `size`). */
export function sliceOnHeap(
  backend: WasmBackend,
  x: tf.TensorInfo,
  begin: readonly number[],
  size: readonly number[],
  outShape: number[] = [...size],
): tf.TensorInfo {
  if (size.some((s) => s === 0)) return backend.makeOutput(outShape, x.dtype);
  const { runLength, offsets } = sliceRuns(x.shape, begin, size);
  return copyRuns(backend, x, outShape, runLength, offsets);
}

type HeapKernel = (
  backend: WasmBackend,
  x: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
) => tf.TensorInfo | tf.TensorInfo[] | null;

/** `original` with `onHeap` in front for non-string tensors on wasm; where `onHeap` returns null, `original` runs. */
function withHeapPath(original: tf.KernelConfig, onHeap: HeapKernel): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const { inputs, attrs, backend } = args;
      const x = inputs.x as tf.TensorInfo;
      const result = isWasmBackend(backend) && x.dtype !== 'string' ? onHeap(backend, x, attrs ?? {}) : null;
      return result ?? original.kernelFunc(args);
    },
  };
}

/** Slice for wasm: heap-view copy; strings go to the shipped kernel. */
export function wasmSliceKernel(original: tf.KernelConfig): tf.KernelConfig {
  return withHeapPath(original, (backend, x, attrs) => {
    const { begin, size } = attrs as unknown as SliceAttrs;
    const [begin_, size_] = tf.slice_util.parseSliceParams(x, begin, size);
    return sliceOnHeap(backend, x, begin_, size_);
  });
}

/** SplitV for wasm: one heap-view slice per part. */
export function wasmSplitVKernel(original: tf.KernelConfig): tf.KernelConfig {
  return withHeapPath(original, (backend, x, attrs) => {
    const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((part) => {
      const size = [...x.shape];
      size[$axis] = part;
      const out = sliceOnHeap(backend, x, begin, size);
      begin[$axis] += part;
      return out;
    });
  });
}

/** StridedSlice for wasm: unit-stride slices through heap views, others through the shipped kernel. */
export function wasmStridedSliceKernel(original: tf.KernelConfig): tf.KernelConfig {
  return withHeapPath(original, (backend, x, attrs) => {
    const a = attrs as unknown as StridedSliceAttrs;
    const info = tf.slice_util.sliceInfo(
      x.shape,
      a.begin,
      a.end,
      a.strides,
      a.beginMask,
      a.endMask,
      a.ellipsisMask,
      a.newAxisMask,
      a.shrinkAxisMask,
    );
    if (!(info.isIdentity || info.sliceDim0 || info.isSimpleSlice)) return null;
    const size = info.isIdentity
      ? [...x.shape]
      : tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    const begin = info.isIdentity ? new Array<number>(x.shape.length).fill(0) : info.begin;
    return sliceOnHeap(backend, x, begin, size, info.finalShape);
  });
}

/** Concat for wasm: heap copies; strings and the shipped kernel's special cases (empty parts) go to it. */
export function wasmConcatKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const { inputs, attrs, backend } = args;
      const parts = Object.values(inputs) as tf.TensorInfo[];
      const simple =
        isWasmBackend(backend) &&
        parts.length > 1 &&
        parts.every((t) => t.dtype === parts[0].dtype && t.dtype !== 'string' && numel(t.shape) > 0);
      if (!simple) return original.kernelFunc(args);
      const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, parts[0].shape)[0];
      tf.backend_util.assertParamsConsistent(
        parts.map((t) => t.shape),
        axis,
      );
      return concatOnHeap(backend, parts, axis);
    },
  };
}
