/**
 * The training step, pluggable: the trainer only needs "apply one SGD update on this batch at this lr and tell me
 * the loss and hits". {@link createLocalStep} does it on the current thread; a data-parallel step (a worker pool,
 * whose replicas each run {@link batchGradients} on a shard) or an ONNX Runtime step plugs in with the same
 * signature.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../data/loader.js';
import { leanVariableGrads } from '../engine/kernels/lean-backward.js';
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

/** A batch's report and the gradient of each parameter that received one (the caller disposes them). */
export interface BatchGradients {
  result: StepResult;
  grads: Map<Parameter, tf.Tensor>;
}

/**
 * Forward + cross-entropy + backward on NHWC images `x` with class `labels`, model in training mode (BatchNorm
 * uses the batch statistics and updates its running statistics). The one gradient path of TF.js training, on
 * this thread and in every worker replica: `leanVariableGrads`, tf.variableGrads bit for bit with a lower peak.
 */
export function batchGradients(
  model: ClassifierModel,
  parameters: readonly Parameter[],
  x: tf.Tensor4D,
  labels: Int32Array,
): BatchGradients {
  model.train();
  const labelTensor = tf.tensor1d(labels, 'int32');
  let logits: tf.Tensor2D | null = null;
  try {
    const { value, grads } = leanVariableGrads(
      () => {
        logits = tf.keep(model.forward(x));
        return crossEntropy(logits, labelTensor);
      },
      parameters.map((p) => p.variable),
    );
    const loss = value.dataSync()[0];
    value.dispose();
    const logitValues = (logits as tf.Tensor2D | null)?.dataSync() as Float32Array;
    const classes = model.numClasses;
    const byParameter = new Map<Parameter, tf.Tensor>();
    for (const parameter of parameters) {
      const grad = grads[parameter.variable.name];
      if (grad) byParameter.set(parameter, grad);
    }
    return {
      result: {
        loss,
        correct1: topKCorrect(logitValues, labels, classes, 1),
        correct5: topKCorrect(logitValues, labels, classes, Math.min(5, classes)),
        count: x.shape[0],
      },
      grads: byParameter,
    };
  } finally {
    labelTensor.dispose();
    (logits as tf.Tensor2D | null)?.dispose();
  }
}

/** Forward + cross-entropy + backward + SGD update on this thread. */
export function createLocalStep(model: ClassifierModel, optimizer: SGD): TrainStep {
  return async (batch, lr) => {
    const s = batch.imageSize;
    const x = tf.tensor4d(batch.x, [batch.size, s, s, 3]);
    try {
      const { result, grads } = batchGradients(model, optimizer.parameters, x, batch.labels);
      try {
        // Never apply an update computed from a NaN/Inf loss: the caller stops with the weights as they were.
        if (Number.isFinite(result.loss)) {
          optimizer.lr = lr;
          optimizer.step(grads);
        }
      } finally {
        tf.dispose([...grads.values()]);
      }
      return result;
    } finally {
      x.dispose();
    }
  };
}
