/**
 * rla-net: RLA-Nets ("Recurrence along Depth", NeurIPS 2021) on TensorFlow.js with the official architectures,
 * state_dict names and numbers. Tensors are NHWC float32 unless a function says otherwise.
 */

export { countMacs, countParams, countThopParams, paperFormat } from './count/count.js';
export { type BackendName, type BackendOptions, currentBackend, initBackend } from './engine/backend.js';
export type { DenseSharing } from './layers/cifar/dense-block.js';
export type {
  CifarRecurrentConv,
  CifarRLAActivation,
  CifarRLAConfig,
  CifarRLAEntry,
  CifarRLAInput,
} from './layers/cifar/rla-options.js';
export type { RLAInput, RLAUpdateRule } from './layers/rla-update.js';
export { CIFAR_RLA_DEFAULTS } from './models/cifar/cifar-family.js';
export { CifarDenseNet, type CifarDenseNetConfig } from './models/cifar/densenet.js';
export { CifarPreActResNet, type CifarPreActResNetConfig } from './models/cifar/preact-resnet.js';
export { CifarXception, type CifarXceptionConfig } from './models/cifar/xception.js';
export type { BackboneFeatures } from './models/classifier.js';
export { ClassifierModel } from './models/classifier.js';
export {
  createModel,
  getModelEntry,
  listModels,
  type ModelEntry,
  type ModelOptions,
} from './models/index.js';
export { MobileNetV2 } from './models/mobilenetv2.js';
export { RLAMobileNetV2 } from './models/mobilenetv2-rla.js';
export { ResNet } from './models/resnet.js';
export { RLAResNet } from './models/rla-resnet.js';
export { OFFICIAL_RLA, RLA_ABLATIONS, type RLAVariant } from './models/rla-variant.js';
export { Rng } from './nn/init.js';
export { Buffer, Module, ModuleList, Parameter, type StateEntry } from './nn/module.js';
export { fromTorchLayout, type TorchLayout, torchShapeOf, toTorchLayout } from './nn/tensor-layout.js';
export {
  buildOnnxModel,
  createInferenceSession,
  type ExportOnnxOptions,
  exportOnnx,
  type InferenceSessionOptions,
  OnnxClassifier,
  registerOnnxEmitter,
} from './onnx/index.js';
export * from './checkpoint/index.js';
export { type LoadedModel, type LoadModelOptions, loadModelFile, saveModelFile } from './checkpoint/model-file.js';
export { SGD, type SGDOptions } from './train/sgd.js';
export { CheckpointError, UnsafePickleError, WeightsFormatError } from './weights/errors.js';
