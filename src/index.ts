/**
 * rla-net: RLA-Nets ("Recurrence along Depth", NeurIPS 2021) on TensorFlow.js with the official architectures,
 * state_dict names and numbers. Tensors are NHWC float32 unless a function says otherwise.
 */

export { countMacs, countParams, paperFormat } from './count/count.js';
export { type BackendName, type BackendOptions, currentBackend, initBackend } from './engine/backend.js';
export type { RLAInput } from './layers/rla-update.js';
export type { BackboneFeatures } from './models/classifier.js';
export { ClassifierModel } from './models/classifier.js';
export {
  createModel,
  getModelEntry,
  listModels,
  type ModelEntry,
  type ModelOptions,
} from './models/index.js';
export { ResNet } from './models/resnet.js';
export { RLAResNet } from './models/rla-resnet.js';
export { Rng } from './nn/init.js';
export { Buffer, Module, ModuleList, Parameter, type StateEntry } from './nn/module.js';
export { fromTorchLayout, type TorchLayout, torchShapeOf, toTorchLayout } from './nn/tensor-layout.js';
