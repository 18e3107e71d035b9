/**
 * rla-net, browser-safe entry (`import ... from 'rla-net'`): models, counting, weights from bytes (.pth,
 * safetensors), preprocessing, pretrained configs, `loadClassifier` / `classify`, ONNX export to bytes and backend choice. Nothing here imports a Node module, so any
 * bundler can target browsers with it (test/bundle/browser-entry.test.ts proves it); files, workers, training,
 * the CLI and ONNX Runtime for Node are in `rla-net/node` (src/index.ts), which re-exports all of this.
 * Tensors are NHWC float32 unless a function says otherwise.
 */

export * from './checkpoint/index.js';
export { type LoadedModel, type LoadModelOptions, loadModelBytes } from './checkpoint/model-bytes.js';
export {
  Classifier,
  type ClassifierEngine,
  type ClassifierOptions,
  type FeatureInfo,
  type LoadClassifierOptions,
  loadClassifier,
  type Prediction,
  type StageFeatures,
} from './classify/classifier.js';
export type { DrawableImage, ImageDataLike, ImageDecoder, ImageInput } from './classify/image-input.js';
export { countMacs, countParams, countThopParams, paperFormat } from './count/count.js';
export {
  CIFAR10_CLASSES,
  FASHION_MNIST_CLASSES,
  LABEL_SETS,
  type LabelSetName,
  MNIST_CLASSES,
} from './data/class-names.js';
export {
  DatasetError,
  firstSamples,
  ImageArray,
  type ImageDataset,
  subset,
  trainValSplit,
} from './data/dataset.js';
export type { RawImage } from './data/image.js';
export { IMAGENET_CLASSES } from './data/imagenet-classes.js';
export {
  cifarPreprocessing,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imagenetPreprocessing,
  mnistPreprocessing,
  type Preprocessing,
} from './data/preprocessing.js';
export { applyTransforms, type TransformOp } from './data/transforms.js';
export {
  BACKEND_NAMES,
  type BackendChoice,
  type BackendName,
  type BackendOptions,
  currentBackend,
  initBackend,
  type WasmPaths,
} from './engine/backend.js';
export type { DenseSharing } from './layers/cifar/dense-block.js';
export type {
  CifarRecurrentConv,
  CifarRLAActivation,
  CifarRLAConfig,
  CifarRLAEntry,
} from './layers/cifar/rla-options.js';
export type { RLAHead, RLAInput, RLAUpdateRule } from './layers/rla-update.js';
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
export {
  configPreprocessing,
  OFFICIAL_WEIGHTS,
  type OfficialWeights,
  type PretrainedConfig,
  pretrainedConfig,
} from './models/pretrained.js';
export { ResNet } from './models/resnet.js';
export { RLAResNet } from './models/rla-resnet.js';
export { OFFICIAL_RLA, RLA_ABLATIONS, type RLAVariant } from './models/rla-variant.js';
export { Rng } from './nn/init.js';
export { Buffer, Module, ModuleList, Parameter, type StateEntry } from './nn/module.js';
export { fromTorchLayout, type TorchLayout, torchShapeOf, toTorchLayout } from './nn/tensor-layout.js';
export { activeTracer, type ModuleTracer } from './nn/trace-hook.js';
export { OnnxBuilder, type Value as OnnxValue } from './onnx/builder.js';
export {
  buildOnnxModel,
  DEFAULT_OPSET,
  type ExportOnnxOptions,
  exportOnnx,
  MAX_OPSET,
  MIN_OPSET,
} from './onnx/export.js';
export { registerPrimitiveWriter } from './onnx/trace/primitives.js';
export { type TracedModel, traceModel } from './onnx/trace/trace-model.js';
export type { GraphTracer, PrimitiveWriter, Sym } from './onnx/trace/tracer.js';
export { trainedModelInfo } from './train/trained-model-info.js';
export {
  CheckpointError,
  PickleError,
  SafetensorsError,
  UnsafePickleError,
  WeightsFormatError,
  ZipError,
} from './weights/errors.js';
export { readSafetensors, type SafetensorsFile, writeSafetensors } from './weights/safetensors.js';
export { readTorchCheckpoint } from './weights/torch-checkpoint.js';
