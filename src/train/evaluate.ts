/** Evaluation of a classifier on a loader: mean cross-entropy, top-1 and top-5 accuracy (eval-mode BN). */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, DataLoader } from '../data/loader.js';
import type { ClassifierModel } from '../models/classifier.js';
import { topKCorrect } from './loss.js';

/** Loss and accuracy of a model on a split. */
export interface EvalResult {
  /** Mean cross-entropy over all samples. */
  loss: number;
  /** Fractions in [0, 1]. */
  top1: number;
  top5: number;
  count: number;
}

/** Sum over the batch of the cross-entropy of row-major logits [N, C] against labels, in float64. */
export function crossEntropySum(logits: Float32Array, labels: Int32Array, classes: number): number {
  let sum = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = n * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[row + c]);
    let total = 0;
    for (let c = 0; c < classes; c++) total += Math.exp(logits[row + c] - max);
    sum += Math.log(total) + max - logits[row + labels[n]];
  }
  return sum;
}

/**
 * Loss and accuracy of the logits `logitsOf` gives for every batch of `loader` (epoch 0 order): the one place
 * that scores a split, whatever engine computes the logits.
 */
export async function evaluateLogits(
  loader: DataLoader,
  classes: number,
  logitsOf: (batch: Batch) => Promise<Float32Array>,
  onBatch?: (done: number, total: number) => void,
): Promise<EvalResult> {
  let lossSum = 0;
  let correct1 = 0;
  let correct5 = 0;
  let count = 0;
  for await (const batch of loader.epoch(0)) {
    const logits = await logitsOf(batch);
    lossSum += crossEntropySum(logits, batch.labels, classes);
    correct1 += topKCorrect(logits, batch.labels, classes, 1);
    correct5 += topKCorrect(logits, batch.labels, classes, Math.min(5, classes));
    count += batch.size;
    onBatch?.(batch.index + 1, loader.batchesPerEpoch);
  }
  return { loss: lossSum / count, top1: correct1 / count, top5: correct5 / count, count };
}

/** Runs `model` in eval mode on TF.js over every batch of `loader` (no shuffling for eval loaders). */
export async function evaluate(
  model: ClassifierModel,
  loader: DataLoader,
  onBatch?: (done: number, total: number) => void,
): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  try {
    return await evaluateLogits(
      loader,
      model.numClasses,
      async (batch) => {
        const s = batch.imageSize;
        const logits = tf.tidy(() => model.forward(tf.tensor4d(batch.x, [batch.size, s, s, 3])));
        try {
          return (await logits.data()) as Float32Array;
        } finally {
          logits.dispose();
        }
      },
      onBatch,
    );
  } finally {
    model.train(wasTraining);
  }
}
