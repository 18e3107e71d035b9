/**
 * Leaner versions of four tfjs gradient functions, with the same mathematics and fewer full-size tensor passes.
 * The gradient registry is global, so they serve every backend. (BatchNorm2d's training pass no longer reaches
 * the FusedBatchNorm or Mean gradients: it is one op with its own backward, nn/batchnorm.ts; they serve any other
 * use of tf.batchNorm / tf.mean under a gradient, e.g. fine-tuning with frozen BatchNorm statistics.)
 *
 * - Mean / Sum: tfjs broadcasts dy with `ones(x.shape)`, which is built in JS and uploaded (150 ms for 8 M
 *   floats on wasm); `fill` runs inside the backend.
 * - Relu: tfjs casts step(x) from float32 to float32 (a copy on wasm) before multiplying.
 * - FusedBatchNorm: tfjs tiles 1/sqrt(var) to the full activation shape (a 0.5 s Tile on wasm) and keeps two
 *   full-size temporaries alive until the whole backward pass ends. Here dx is one broadcast multiply and the
 *   parameter gradients need only two per-channel sums:
 *     dx = dy * scale * invStd                     dOffset = sum(dy)
 *     dScale = invStd * sum(dy * (x - mean))       dMean = -scale * invStd * sum(dy)
 *     dVariance = -scale * invStd^3 / 2 * sum(dy * (x - mean))
 */
import * as tf from '@tensorflow/tfjs-core';

interface ReduceAttrs {
  axis: number | number[];
}

/** dy of a reduction broadcast back to x's shape, times `factor`. */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axes: number[], factor: number): tf.Tensor {
  const expanded = x.shape.map((size, axis) => (axes.includes(axis) ? 1 : size));
  return tf.mul(tf.reshape(dy, expanded), tf.fill(x.shape, factor));
}

function reductionGradient(kernelName: string, mean: boolean): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as ReduceAttrs).axis, x.shape);
      const reduceSize = axes.reduce((product, axis) => product * x.shape[axis], 1);
      return { x: () => broadcastBack(dy as tf.Tensor, x, axes, mean ? 1 / reduceSize : 1) };
    },
  };
}

/** FusedBatchNorm's gradient; falls back to tfjs's own (`original`) for non-per-channel statistics. */
function batchNormGradient(original: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dyValue, saved, attrs) => {
      const dy = dyValue as tf.Tensor;
      const [x, mean, variance, scale] = saved;
      if (mean.rank !== 1 || x.shape[x.rank - 1] !== mean.shape[0]) {
        return original.gradFunc(dyValue, saved, attrs);
      }
      const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
      const axes = [...Array(x.rank - 1).keys()];
      // Per-channel values only outlive this call; the full-size temporaries die inside the tidy.
      const [invStd, scaledInvStd, sumDy, sumDyCentered] = tf.tidy(() => {
        const inv = tf.rsqrt(tf.add(variance, varianceEpsilon));
        return [
          inv,
          scale == null ? inv : tf.mul(inv, scale),
          tf.sum(dy, axes),
          tf.sum(tf.mul(dy, tf.sub(x, mean)), axes),
        ];
      });
      const scaleOrOne = scale ?? tf.scalar(1);
      return {
        x: () => tf.mul(dy, scaledInvStd),
        mean: () => tf.neg(tf.mul(scaledInvStd, sumDy)),
        variance: () => tf.mul(tf.mul(scaleOrOne, tf.pow(invStd, 3)), tf.mul(sumDyCentered, -0.5)),
        scale: () => tf.mul(invStd, sumDyCentered),
        offset: () => tf.reshape(sumDy, mean.shape),
      };
    },
  };
}

/** Relu's gradient: dy where x > 0 (step(x) is already float32 for float32 x). */
function reluGradient(): tf.GradConfig {
  return {
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return {
        x: () => tf.mul(dy as tf.Tensor, x.dtype === 'float32' ? tf.step(x) : tf.cast(tf.step(x), 'float32')),
      };
    },
  };
}

/** Registers the lean gradients (replacing tfjs's, which must be registered already). */
export function registerLeanGradients(): void {
  tf.registerGradient(reductionGradient(tf.Mean, true));
  tf.registerGradient(reductionGradient(tf.Sum, false));
  tf.registerGradient(reluGradient());
  const batchNorm = tf.getGradient(tf.FusedBatchNorm);
  if (batchNorm) tf.registerGradient(batchNormGradient(batchNorm));
}
