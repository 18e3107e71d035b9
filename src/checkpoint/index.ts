/** Checkpoint loading/saving between rla-net models and PyTorch / safetensors files (browser-safe parts). */
export { type InferredArchitecture, inferArchitecture } from './infer-architecture.js';
export {
  compareStateDict,
  type LoadCheckpointOptions,
  type LoadReport,
  loadCheckpoint,
  loadStateDictSource,
  type Mismatch,
  nearestKey,
} from './load-checkpoint.js';
export {
  identityOf,
  type ModelIdentity,
  RLA_FORMAT,
  toPthBytes,
  torchStateDict,
  toSafetensorsBytes,
} from './save-checkpoint.js';
export type { SourceTensor } from './source-tensor.js';
export {
  detectFormat,
  readStateDict,
  type StateDictSource,
  type WeightsFormat,
} from './state-dict-source.js';
