/** Cross-entropy (PyTorch's `nn.CrossEntropyLoss()`, mean over the batch) and top-k accuracy counting. */
import * as tf from '@tensorflow/tfjs-core';

/** Mean cross-entropy of logits [N, C] against int32 class labels [N]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(labels, logits.shape[1])), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/**
 * Number of samples whose label is among the `k` classes `torch.topk(logits, k)` returns, i.e. PyTorch's top-k
 * accuracy. `logits` is row-major [N, C]. The label's rank is the number of classes that torch.topk (sorted, CPU)
 * puts before it: every class with a greater logit, and every class with an equal logit and a lower index (torch
 * breaks ties by index). So constant logits count as correct only for the first `k` classes, never for all, and a
 * collapsed network scores chance, not 100%. NaN: torch.topk orders NaN above every number, so a NaN logit of
 * another class ranks above the label; a NaN logit at the label itself is counted as not correct (torch would
 * rank it first), so a diverged network never looks accurate.
 */
export function topKCorrect(logits: Float32Array, labels: Int32Array, numClasses: number, k: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = n * numClasses;
    const label = labels[n];
    const target = logits[row + label];
    if (Number.isNaN(target)) continue;
    let rank = 0;
    for (let c = 0; c < numClasses && rank < k; c++) {
      const value = logits[row + c];
      if (value > target || Number.isNaN(value) || (value === target && c < label)) rank++;
    }
    if (rank < k) correct++;
  }
  return correct;
}
