/**
 * Direct access to tensor memory inside the wasm backend's heap.
 *
 * tfjs-backend-wasm's `readSync` copies a tensor's whole buffer out of the heap, and its Slice kernel calls it for
 * every slice: cutting a 32-channel sliver out of a 32 MB activation copied all 32 MB through JS first (the
 * gradient of every `concat`, `pad` and `split`). Views on the heap make such kernels cost what they move.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` that rla-net's wasm kernels use (not exported by tfjs). */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** True when `backend` is tfjs-backend-wasm (has heap views). */
export function isWasmBackend(backend: unknown): backend is WasmBackend {
  const candidate = backend as Partial<WasmBackend> | null;
  return typeof candidate?.typedArrayFromHeap === 'function' && typeof candidate.makeOutput === 'function';
}

/** A typed view of the whole heap in `view`'s element type, and where `view` starts in it (in elements). */
function wholeHeap(view: Float32Array | Int32Array | Uint8Array): {
  heap: Float32Array | Int32Array | Uint8Array;
  start: number;
} {
  const Elements = view.constructor as
    | Float32ArrayConstructor
    | Int32ArrayConstructor
    | Uint8ArrayConstructor;
  return { heap: new Elements(view.buffer as ArrayBuffer), start: view.byteOffset / view.BYTES_PER_ELEMENT };
}

/**
 * Copies runs of `runLength` elements inside the heap: the i-th run starts at the i-th of `sourceOffsets`
 * (relative to `source`) and lands in `target` at `i * runStride + targetOffset`. `copyWithin` on one whole-heap view is a memmove with no
 * per-run allocation: twice as fast as `set(subarray(...))` for the 32-256 float runs of channel slices.
 */
function copyWithinHeap(
  source: Float32Array | Int32Array | Uint8Array,
  target: Float32Array | Int32Array | Uint8Array,
  runLength: number,
  sourceOffsets: Iterable<number>,
  runStride: number,
  targetOffset: number,
): void {
  const { heap, start: from } = wholeHeap(source);
  const to = wholeHeap(target).start + targetOffset;
  let at = to;
  for (const offset of sourceOffsets) {
    heap.copyWithin(at, from + offset, from + offset + runLength);
    at += runStride;
  }
}

/**
 * A fresh output of `shape` holding elements of `x` that are contiguous runs of `runLength`, starting at the
 * flat offsets produced by `offsets` (in output order). The output is allocated before the views are taken:
 * allocation may grow the heap, which detaches older views.
 */
export function copyRuns(
  backend: WasmBackend,
  x: tf.TensorInfo,
  shape: number[],
  runLength: number,
  offsets: Iterable<number>,
): tf.TensorInfo {
  const out = backend.makeOutput(shape, x.dtype);
  copyWithinHeap(
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(out),
    runLength,
    offsets,
    runLength,
    0,
  );
  return out;
}

/** Every multiple of `step` below `count * step`. */
function* strided(count: number, step: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i * step;
}

/**
 * Concatenation along `axis` of same-dtype tensors into a fresh output: input i contributes, for each of the
 * `outer` index combinations before the axis, one run of its size from `axis` on.
 */
export function concatOnHeap(backend: WasmBackend, inputs: tf.TensorInfo[], axis: number): tf.TensorInfo {
  const outShape = [...inputs[0].shape];
  outShape[axis] = inputs.reduce((sum, t) => sum + t.shape[axis], 0);
  const out = backend.makeOutput(outShape, inputs[0].dtype);
  const outer = numel(outShape.slice(0, axis));
  const outRun = numel(outShape.slice(axis));
  const target = backend.typedArrayFromHeap(out);
  let column = 0;
  for (const input of inputs) {
    const run = numel(input.shape.slice(axis));
    if (run > 0)
      copyWithinHeap(backend.typedArrayFromHeap(input), target, run, strided(outer, run), outRun, column);
    column += run;
  }
  return out;
}
