/**
 * The training step, pluggable: the trainer only needs "apply one SGD update on this batch at this lr and tell me
 * the loss and hits". {@link createLocalStep} does it on the current thread; a data-parallel step (gradients from
 * several workers, averaged) plugs in with the same signature.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../data/loader.js';
import type { ClassifierModel } from '../models/classifier.js';
import type { Parameter } from '../nn/module.js';
import { crossEntropy, topKCorrect } from './loss.js';
import type { SGD } from './sgd.js';

/** What one step reports. A non-finite `loss` means the update was NOT applied. */
export interface StepResult {
  /** Mean cross-entropy of the batch (before the update). */
  loss: number;
  /** Samples whose label was the top-1 / among the top-5 logits. */
  correct1: number;
  correct5: number;
  count: number;
}

/** One optimisation step on a batch with learning rate `lr`. */
export type TrainStep = (batch: Batch, lr: number) => Promise<StepResult>;

/** Forward + cross-entropy + backward + SGD update on this thread (model in training mode). */
export function createLocalStep(model: ClassifierModel, optimizer: SGD): TrainStep {
  const parameters = optimizer.parameters;
  const variables = parameters.map((p) => p.variable);
  const byName = new Map<string, Parameter>(parameters.map((p) => [p.variable.name, p]));
  return async (batch, lr) => {
    model.train();
    const s = batch.imageSize;
    const x = tf.tensor4d(batch.x, [batch.size, s, s, 3]);
    const labels = tf.tensor1d(batch.labels, 'int32');
    let logits: tf.Tensor2D | null = null;
    const { value, grads } = tf.variableGrads(() => {
      logits = tf.keep(model.forward(x));
      return crossEntropy(logits, labels);
    }, variables);
    try {
      const loss = (await value.data())[0];
      const logitValues = (await logits!.data()) as Float32Array;
      const result: StepResult = {
        loss,
        correct1: topKCorrect(logitValues, batch.labels, model.numClasses, 1),
        correct5: topKCorrect(logitValues, batch.labels, model.numClasses, Math.min(5, model.numClasses)),
        count: batch.size,
      };
      // Never apply an update computed from a NaN/Inf loss: the caller stops with the weights as they were.
      if (Number.isFinite(loss)) {
        optimizer.lr = lr;
        const gradMap = new Map<Parameter, tf.Tensor>();
        for (const [name, grad] of Object.entries(grads)) gradMap.set(byName.get(name)!, grad);
        optimizer.step(gradMap);
      }
      return result;
    } finally {
      tf.dispose([x, labels, value, logits!, ...Object.values(grads)]);
    }
  };
}
