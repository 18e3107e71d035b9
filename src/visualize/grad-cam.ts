/**
 * Grad-CAM (Selvaraju et al. 2017) on the backbone's final features: for RLA models `cat(x, h)` of the last
 * stage, the tensor the head pools (for others x alone). Each channel k of those features A is weighted by the
 * spatial mean of d logit_c / d A_k; the map is relu(sum_k weight_k A_k). Gradients come from TF.js (`tf.grads`)
 * through the model's own head, so every head rule (bn2 + relu on h for RLA-Net, tanh for v1, ...) is followed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../models/classifier.js';
import type { SpatialMap } from './feature-maps.js';

export interface GradCamResult {
  /** relu(sum_k weight_k A_k) at the features' resolution (not normalised). */
  map: SpatialMap;
  /** The class explained (the predicted one unless asked for another). */
  classIndex: number;
  /** The image's logits. */
  logits: Float32Array;
}

/** Grad-CAM of one NHWC image (batch 1) for `classIndex` (default: the top class). Leaves no tensors behind. */
export function gradCam(model: ClassifierModel, image: tf.Tensor4D, classIndex?: number): GradCamResult {
  if (image.shape[0] !== 1) throw new Error(`gradCam takes one image, got a batch of ${image.shape[0]}`);
  const features = model.forwardFeatures(image);
  try {
    const logits = tf.tidy(() => model.forwardHead(features).dataSync() as Float32Array);
    const target = classIndex ?? logits.indexOf(Math.max(...logits));
    if (!Number.isInteger(target) || target < 0 || target >= logits.length) {
      throw new Error(`class ${classIndex} is not one of the model's ${logits.length} classes`);
    }
    const sources: tf.Tensor4D[] = features.h ? [features.x, features.h] : [features.x];
    const values = tf.tidy(() => {
      const score = (...inputs: tf.Tensor[]) =>
        tf.sum(
          tf.slice(
            model.forwardHead({ x: inputs[0] as tf.Tensor4D, h: (inputs[1] as tf.Tensor4D) ?? null }),
            [0, target],
            [1, 1],
          ),
        );
      const grads = tf.grads(score)(sources);
      // sum over the channels of cat(x, h) = sum over x's channels + sum over h's.
      const weighted = sources.map((a, i) => tf.sum(tf.mul(a, tf.mean(grads[i], [1, 2], true)), 3));
      return tf.relu(tf.addN(weighted)).dataSync() as Float32Array;
    });
    const [, height, width] = features.x.shape;
    return { map: { values, height, width }, classIndex: target, logits };
  } finally {
    tf.dispose(features.h ? [features.x, features.h] : [features.x]);
  }
}
