/**
 * rla-net for Node (`import ... from 'rla-net/node'`): everything of the browser-safe entry (src/browser.ts) plus
 * what needs Node: weight and dataset files, image decoding, the worker pool, training, and ONNX Runtime for Node.
 * Tensors are NHWC float32 unless a function says otherwise.
 */

export * from './browser.js';
export { loadModelFile, saveModelFile } from './checkpoint/model-file.js';
// Replaces the browser entry's loadClassifier (an explicit export wins over `export *`): adds paths and ONNX Runtime.
export { type ClassifierSource, loadClassifier, type NodeClassifierOptions } from './classify/load-node.js';
export { loadCifar10, loadCifar100 } from './data/cifar.js';
export { decodeImage } from './data/decode.js';
export { loadMnistStyle } from './data/idx.js';
export { loadImageFolder } from './data/image-folder.js';
export { type Batch, DataLoader, type LoaderOptions } from './data/loader.js';
export { DATASET_NAMES, type DatasetSplits, openDataset } from './data/sources.js';
export * from './detection/coco/index.js';
export { type DrawOptions, drawDetections } from './detection/draw.js';
export type { DetectorFactory, DetectorFileOptions } from './detection/factory.js';
export type { BinaryMask, Detection, Detector } from './detection/types.js';
export { leanVariableGrads } from './engine/kernels/lean-backward.js';
export * from './hub/index.js';
export {
  createInferenceSession,
  type InferenceSessionOptions,
  OnnxClassifier,
  ORT_LOG_LEVELS,
  type OrtLogLevel,
} from './onnx/session.js';
export type { ImageBatch, LabelBatch, TrainStepOptions } from './parallel/pool.js';
export { createWorkerPool, WorkerError, WorkerPool, type WorkerPoolOptions } from './parallel/pool.js';
export { createPoolTraining, type PoolTraining } from './parallel/pool-step.js';
export {
  type BatchEndEvent,
  EarlyStopping,
  type EarlyStoppingOptions,
  ReduceLrOnPlateau,
  type ReduceLrOnPlateauOptions,
  type TrainerCallback,
  type TrainingControl,
} from './train/callbacks.js';
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
