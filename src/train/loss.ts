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
 * Number of samples whose label is among the `k` highest logits (a class ranks above the label only when its
 * logit is strictly greater). `logits` is row-major [N, C].
 */
export function topKCorrect(logits: Float32Array, labels: Int32Array, numClasses: number, k: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) {
    const row = n * numClasses;
    const target = logits[row + labels[n]];
    let above = 0;
    for (let c = 0; c < numClasses && above < k; c++) if (logits[row + c] > target) above++;
    if (above < k && !Number.isNaN(target)) correct++;
  }
  return correct;
}
