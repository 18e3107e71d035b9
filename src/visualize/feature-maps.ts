/**
 * What the paper's Figures 1 and 4 look at: per stage, the main path x (its mean absolute value over channels)
 * and the RLA hidden state h (each channel), read from `forwardIntermediates` as plain arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../models/classifier.js';

/** One spatial map, row-major [height, width]. */
export interface SpatialMap {
  values: Float32Array;
  height: number;
  width: number;
}

/** Stage `stage` (1-based) at the end of its last block. */
export interface StageMaps {
  stage: number;
  /** mean over channels of |x|. */
  meanAbsX: SpatialMap;
  /** h's channels, HWC interleaved (null for models without a hidden state). */
  h: { values: Float32Array; height: number; width: number; channels: number } | null;
}

/** The per-stage maps of one NHWC image (batch 1). Leaves no tensors behind. */
export function stageMaps(model: ClassifierModel, image: tf.Tensor4D): StageMaps[] {
  if (image.shape[0] !== 1) throw new Error(`stageMaps takes one image, got a batch of ${image.shape[0]}`);
  const intermediates = model.forwardIntermediates(image);
  try {
    const stages: StageMaps[] = [];
    for (let s = 1; intermediates[`stage${s}.x`]; s++) {
      const x = intermediates[`stage${s}.x`] as tf.Tensor4D;
      const h = intermediates[`stage${s}.h`] as tf.Tensor4D | undefined;
      const [, height, width] = x.shape;
      const meanAbs = tf.tidy(() => tf.mean(tf.abs(x), 3).dataSync() as Float32Array);
      stages.push({
        stage: s,
        meanAbsX: { values: meanAbs, height, width },
        h: h
          ? {
              values: h.dataSync() as Float32Array,
              height: h.shape[1],
              width: h.shape[2],
              channels: h.shape[3],
            }
          : null,
      });
    }
    return stages;
  } finally {
    tf.dispose(Object.values(intermediates));
  }
}
