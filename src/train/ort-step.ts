/**
 * Training on ONNX Runtime: the trainer's `TrainStep`, `pullState` and evaluation backed by an `OrtTrainer`
 * (src/onnx/training/), so the CLI and the API train the same model definition on either engine. Checkpoints are
 * engine-neutral: `pull` writes the ORT-side state into the TF.js model and optimizer before each save, and a
 * resumed run adopts them again.
 */
import type { DataLoader } from '../data/loader.js';
import type { ClassifierModel } from '../models/classifier.js';
import {
  createInferenceSession,
  type InferenceSessionOptions,
  type OnnxClassifier,
} from '../onnx/session.js';
import { OrtTrainer } from '../onnx/training/session.js';
import { type EvalResult, evaluateLogits } from './evaluate.js';
import { topKCorrect } from './loss.js';
import type { SGD } from './sgd.js';
import type { TrainStep } from './step.js';

/** The training engines: ONNX Runtime (native, the fast one) or TF.js on its current backend. */
export type TrainingEngine = 'ort' | 'tfjs';
export const TRAINING_ENGINES: readonly TrainingEngine[] = ['ort', 'tfjs'];

/** What the trainer needs from an engine other than TF.js on this thread. */
export interface EngineTraining {
  step: TrainStep;
  pull: () => Promise<void>;
  /** Evaluation on the engine (omitted: TF.js on this thread). */
  evaluate?: (
    model: ClassifierModel,
    loader: DataLoader,
    onBatch?: (done: number, total: number) => void,
  ) => Promise<EvalResult>;
  release: () => Promise<void>;
}

export interface OrtTrainingOptions {
  /** Square input side of the training images. */
  imageSize: number;
  /** ONNX Runtime intra-op threads (default: one per core). */
  threads?: number;
}

/** Loss and accuracy of the model's inference graph (BN folded) under ONNX Runtime over a loader. */
export async function evaluateOnOrt(
  model: ClassifierModel,
  loader: DataLoader,
  onBatch?: (done: number, total: number) => void,
  session: InferenceSessionOptions = {},
): Promise<EvalResult> {
  const classifier = await createInferenceSession(model, session);
  try {
    return await evaluateSession(classifier, model.numClasses, loader, onBatch);
  } finally {
    await classifier.release();
  }
}

/** Accuracy and loss of an ONNX Runtime session's logits over one epoch of `loader`. */
export function evaluateSession(
  session: OnnxClassifier,
  numClasses: number,
  loader: DataLoader,
  onBatch?: (done: number, total: number) => void,
): Promise<EvalResult> {
  return evaluateLogits(
    loader,
    numClasses,
    (batch) => session.runNhwc(batch.x, [batch.size, batch.imageSize, batch.imageSize, 3]),
    onBatch,
  );
}

/** Training steps, state pulls and evaluation on ONNX Runtime for `model` and `optimizer` (fresh or resumed). */
export async function createOrtTraining(
  model: ClassifierModel,
  optimizer: SGD,
  options: OrtTrainingOptions,
): Promise<EngineTraining> {
  const { imageSize, threads } = options;
  const trainer = await OrtTrainer.create(model, optimizer, imageSize, imageSize, { threads });
  const step: TrainStep = async (batch, lr) => {
    if (batch.imageSize !== imageSize) {
      throw new Error(
        `batch of ${batch.imageSize}x${batch.imageSize} images for a ${imageSize}x${imageSize} training graph`,
      );
    }
    const { loss, logits } = await trainer.step(batch.x, batch.labels, lr);
    const classes = model.numClasses;
    return {
      loss,
      correct1: topKCorrect(logits, batch.labels, classes, 1),
      correct5: topKCorrect(logits, batch.labels, classes, Math.min(5, classes)),
      count: batch.size,
    };
  };
  return {
    step,
    pull: async () => trainer.pull(),
    evaluate: (m, loader, onBatch) => evaluateOnOrt(m, loader, onBatch, { threads }),
    release: () => trainer.release(),
  };
}
