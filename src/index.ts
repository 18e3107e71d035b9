/**
 * rla-net: RLA-Nets ("Recurrence along Depth", NeurIPS 2021) on TensorFlow.js with the official architectures,
 * state_dict names and numbers. Tensors are NHWC float32 unless a function says otherwise.
 */

export * from './checkpoint/index.js';
export {
  type LoadedModel,
  type LoadModelOptions,
  loadModelFile,
  saveModelFile,
} from './checkpoint/model-file.js';
export { countMacs, countParams, countThopParams, paperFormat } from './count/count.js';
export { loadCifar10, loadCifar100 } from './data/cifar.js';
export {
  DatasetError,
  firstSamples,
  ImageArray,
  type ImageDataset,
  subset,
  trainValSplit,
} from './data/dataset.js';
export { decodeImage } from './data/decode.js';
export { loadMnistStyle } from './data/idx.js';
export type { RawImage } from './data/image.js';
export { loadImageFolder } from './data/image-folder.js';
export { type Batch, DataLoader, type LoaderOptions } from './data/loader.js';
export {
  cifarPreprocessing,
  imagenetPreprocessing,
  mnistPreprocessing,
  type Preprocessing,
} from './data/preprocessing.js';
export { DATASET_NAMES, type DatasetSplits, openDataset } from './data/sources.js';
export { applyTransforms, type TransformOp } from './data/transforms.js';
export { type BackendName, type BackendOptions, currentBackend, initBackend } from './engine/backend.js';
export { leanVariableGrads } from './engine/kernels/lean-backward.js';
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
export { ResNet } from './models/resnet.js';
export { RLAResNet } from './models/rla-resnet.js';
export { OFFICIAL_RLA, RLA_ABLATIONS, type RLAVariant } from './models/rla-variant.js';
export { Rng } from './nn/init.js';
export { Buffer, Module, ModuleList, Parameter, type StateEntry } from './nn/module.js';
export { fromTorchLayout, type TorchLayout, torchShapeOf, toTorchLayout } from './nn/tensor-layout.js';
export { activeTracer, type ModuleTracer } from './nn/trace-hook.js';
export {
  buildOnnxModel,
  createInferenceSession,
  type ExportOnnxOptions,
  exportOnnx,
  type InferenceSessionOptions,
  OnnxClassifier,
  registerPrimitiveWriter,
  traceModel,
} from './onnx/index.js';
export type { ImageBatch, LabelBatch, TrainStepOptions } from './parallel/pool.js';
export { createWorkerPool, WorkerError, WorkerPool, type WorkerPoolOptions } from './parallel/pool.js';
export { createPoolTraining, type PoolTraining } from './parallel/pool-step.js';
export { DEFAULT_CONFIG, type TrainConfig } from './train/config.js';
export { type EvalResult, evaluate } from './train/evaluate.js';
export { crossEntropy } from './train/loss.js';
export { RECIPES, resolveConfig } from './train/recipes.js';
export {
  openTrainingRun,
  type TrainingData,
  type TrainingRun,
  type TrainingRunOptions,
  TrainingSetupError,
} from './train/run.js';
export { learningRate, type ScheduleSpec } from './train/schedule.js';
export { SGD, type SGDOptions } from './train/sgd.js';
export { batchGradients, createLocalStep, type StepResult, type TrainStep } from './train/step.js';
export { Trainer, type TrainerOptions, type TrainOutcome } from './train/trainer.js';
export {
  readTrainingCheckpoint,
  restoreTraining,
  saveTrainingCheckpoint,
} from './train/training-checkpoint.js';
export { type SpatialMap, type StageMaps, stageMaps } from './visualize/feature-maps.js';
export { type GradCamResult, gradCam } from './visualize/grad-cam.js';
export { type SharingNorms, sharingNorms } from './visualize/sharing-norms.js';
export { CheckpointError, UnsafePickleError, WeightsFormatError } from './weights/errors.js';
