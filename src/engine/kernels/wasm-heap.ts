/**
 * Direct access to tensor memory inside the wasm backend's heap.
 *
 * tfjs-backend-wasm's `readSync` copies a tensor's whole buffer out of the heap, and its Slice kernel calls it for
 * every slice: cutting a 32-channel sliver out of a 32 MB activation copied all 32 MB through JS first (the
 * gradient of every `concat`, `pad` and `split`). Views on the heap make such kernels cost what they move.
 */
import type * as tf from '@tensorflow/tfjs-core';

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
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  let at = 0;
  for (const offset of offsets) {
    target.set(source.subarray(offset, offset + runLength), at);
    at += runLength;
  }
  return out;
}
