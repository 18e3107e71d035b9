/**
 * Weight-file formats: safe PyTorch checkpoint reading (zip and legacy), a `.pth` writer,
 * safetensors, and the ZIP / pickle building blocks. Browser-safe: the Node file helpers live in
 * `./files-node.js` and are not re-exported here.
 */

export { crc32 } from './crc32.js';
export {
  bfloat16BitsToNumber,
  DTYPE_ITEMSIZE,
  float16BitsToNumber,
  numberToFloat16Bits,
  type TorchDtype,
} from './dtypes.js';
export {
  CheckpointError,
  PickleError,
  SafetensorsError,
  UnsafePickleError,
  WeightsFormatError,
  ZipError,
} from './errors.js';
export {
  isPickleTuple,
  NumpyDtype,
  PICKLE_SETSTATE,
  PickleGlobal,
  type PickleGlobalImpl,
  PickleNamespace,
  type PickleSettable,
  pickleBuildState,
  SAFE_GLOBALS,
  type UnpickleOptions,
  type UnpickleResult,
  unpickle,
} from './pickle.js';
export { type PthTensorInput, type WriteTorchCheckpointOptions, writeTorchCheckpoint } from './pth-writer.js';
export {
  readSafetensors,
  SAFETENSORS_TO_TORCH,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsInput,
  type SafetensorsTensor,
  safetensorToFloat32Array,
  TORCH_TO_SAFETENSORS,
  writeSafetensors,
} from './safetensors.js';
export {
  type ReadTorchCheckpointOptions,
  readTorchCheckpoint,
  TORCH_GLOBALS,
  type TorchObject,
} from './torch-checkpoint.js';
export { sameStorage, TorchStorage, TorchTensor } from './torch-tensor.js';
export {
  defaultInflateBudget,
  isZip,
  readZip,
  writeZip,
  type ZipArchive,
  type ZipEntry,
  type ZipInputFile,
  type ZipReadOptions,
  type ZipWriteOptions,
} from './zip.js';
