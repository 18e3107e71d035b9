/** Evaluation of a classifier on a loader: mean cross-entropy, top-1 and top-5 accuracy (eval-mode BN). */
import * as tf from '@tensorflow/tfjs-core';
import type { DataLoader } from '../data/loader.js';
import type { ClassifierModel } from '../models/classifier.js';
import { crossEntropy, topKCorrect } from './loss.js';

/** Loss and accuracy of a model on a split. */
export interface EvalResult {
  /** Mean cross-entropy over all samples. */
  loss: number;
  /** Fractions in [0, 1]. */
  top1: number;
  top5: number;
  count: number;
}

/** Runs `model` in eval mode over every batch of `loader` (epoch 0 order; no shuffling for eval loaders). */
export async function evaluate(
  model: ClassifierModel,
  loader: DataLoader,
  onBatch?: (done: number, total: number) => void,
): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct1 = 0;
  let correct5 = 0;
  let count = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      const s = batch.imageSize;
      const [logits, loss] = tf.tidy(() => {
        const out = model.forward(tf.tensor4d(batch.x, [batch.size, s, s, 3]));
        return [out, crossEntropy(out, tf.tensor1d(batch.labels, 'int32'))] as const;
      });
      const values = (await logits.data()) as Float32Array;
      lossSum += (await loss.data())[0] * batch.size;
      tf.dispose([logits, loss]);
      correct1 += topKCorrect(values, batch.labels, model.numClasses, 1);
      correct5 += topKCorrect(values, batch.labels, model.numClasses, Math.min(5, model.numClasses));
      count += batch.size;
      onBatch?.(batch.index + 1, loader.batchesPerEpoch);
    }
  } finally {
    model.train(wasTraining);
  }
  return { loss: lossSum / count, top1: correct1 / count, top5: correct5 / count, count };
}
