/**
 * A tensor read from a weights file, whatever the format: PyTorch layout and shape, values on demand, and an
 * identity for its storage so tied keys (one storage, several names) can be recognised.
 */
import { type SafetensorsTensor, safetensorToFloat32Array } from '../weights/safetensors.js';
import type { TorchTensor } from '../weights/torch-tensor.js';

export interface SourceTensor {
  /** Shape in PyTorch layout (e.g. OIHW for conv weights). */
  shape: readonly number[];
  /** Element type name as in the file ('float32', 'int64', 'F32', ...). */
  dtype: string;
  /** Values converted to float32, row-major in PyTorch layout. */
  toFloat32(): Float32Array;
  /** Object identifying the underlying storage (same object = same memory), or null. */
  storageIdentity: unknown;
}

export function fromTorchTensor(tensor: TorchTensor): SourceTensor {
  return {
    shape: tensor.shape,
    dtype: tensor.dtype,
    toFloat32: () => tensor.toFloat32Array(),
    storageIdentity: tensor.storage,
  };
}

export function fromSafetensor(tensor: SafetensorsTensor): SourceTensor {
  return {
    shape: tensor.shape,
    dtype: tensor.dtype,
    toFloat32: () => safetensorToFloat32Array(tensor),
    storageIdentity: null,
  };
}
