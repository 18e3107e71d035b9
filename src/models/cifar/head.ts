/** The classifier head every CIFAR model shares: global average pool of x, or of cat(x, head(h)), then fc. */
import * as tf from '@tensorflow/tfjs-core';
import type { CifarRLAPath } from '../../layers/cifar/rla-path.js';
import type { Linear } from '../../nn/linear.js';
import type { GlobalAvgPool2d } from '../../nn/pool.js';
import type { BackboneFeatures, IntermediateSink } from '../classifier.js';

/** Logits [N, classes] from NHWC backbone features; reports `head.h` and `head.features` to `sink`. */
export function classifyPooled(
  features: BackboneFeatures,
  rla: CifarRLAPath | null,
  avgpool: GlobalAvgPool2d,
  fc: Linear,
  sink?: IntermediateSink,
): tf.Tensor2D {
  // No tidy here: the caller's (ClassifierModel.forward*) keeps what the sink receives alive.
  let x = features.x;
  if (rla) {
    if (!features.h) throw new Error('an RLA model head needs the hidden state h');
    const h = rla.head(features.h);
    sink?.('head.h', h);
    x = tf.concat([x, h], 3);
  }
  const pooled = avgpool.forward(x);
  const flat = tf.reshape(pooled, [pooled.shape[0], pooled.shape[3]]) as tf.Tensor2D;
  sink?.('head.features', flat);
  return fc.forward(flat);
}
