/**
 * The input gradient of an NHWC convolution as ordinary stride-1 convolutions of dy, so it runs in the backend's
 * fastest kernel (XNNPACK on wasm) instead of a scalar loop. Per stride phase (see `axisPhases`) one correlation
 * of dy with the matching taps of the filter, reversed; the phase outputs interleave (stack + reshape) into dx.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AxisPhase, type AxisPlan, axisPhases, type ConvGeometry } from './conv-geometry.js';

/**
 * Correlates (stride 1) a padded view of dy with the filter taps `tapsY` x `tapsX` (in that order), producing the
 * dx channels. `pad` is explicit NHWC zero padding.
 */
export type PhaseCorrelation = (
  dy: tf.Tensor4D,
  tapsY: readonly number[],
  tapsX: readonly number[],
  pad: tf.backend_util.ExplicitPadding,
) => tf.Tensor4D;

function correlatePhase(
  dy: tf.Tensor4D,
  phaseY: AxisPhase,
  phaseX: AxisPhase,
  countY: number,
  countX: number,
  inChannels: number,
  correlate: PhaseCorrelation,
): tf.Tensor4D {
  const [n, oh, ow, c] = dy.shape;
  if (phaseY.taps.length === 0 || phaseX.taps.length === 0)
    return tf.fill([n, countY, countX, inChannels], 0); // Fill runs in the backend (zeros() uploads from JS)
  // Negative padding (only with unusual explicit paddings) means dy rows no tap of this phase reaches.
  const cropTop = Math.max(0, -phaseY.padBefore);
  const cropBottom = Math.max(0, -phaseY.padAfter);
  const cropLeft = Math.max(0, -phaseX.padBefore);
  const cropRight = Math.max(0, -phaseX.padAfter);
  const source =
    cropTop + cropBottom + cropLeft + cropRight === 0
      ? dy
      : tf.slice(dy, [0, cropTop, cropLeft, 0], [n, oh - cropTop - cropBottom, ow - cropLeft - cropRight, c]);
  return correlate(source, phaseY.taps, phaseX.taps, [
    [0, 0],
    [Math.max(0, phaseY.padBefore), Math.max(0, phaseY.padAfter)],
    [Math.max(0, phaseX.padBefore), Math.max(0, phaseX.padAfter)],
    [0, 0],
  ]);
}

/** Interleaves phase outputs [ry][rx] of shape [N, cy, cx, C] into [N, cy*sy, cx*sx, C]. */
function interleave(phases: tf.Tensor4D[][], planY: AxisPlan, planX: AxisPlan): tf.Tensor4D {
  const [n, cy, cx, c] = phases[0][0].shape;
  const rows = phases.map((row) => (row.length === 1 ? tf.expandDims(row[0], 3) : tf.stack(row, 3)));
  const all = rows.length === 1 ? tf.expandDims(rows[0], 2) : tf.stack(rows, 2);
  return tf.reshape(all, [n, cy * planY.stride, cx * planX.stride, c]);
}

/** dx [N, H, W, Cin] of a convolution with forward geometry `g`, from dy [N, OH, OW, Cout]. */
export function convInputGradient(
  dy: tf.Tensor4D,
  g: ConvGeometry,
  correlate: PhaseCorrelation,
): tf.Tensor4D {
  return tf.tidy(() => {
    const planY = axisPhases(
      g.inHeight,
      g.outHeight,
      g.filterHeight,
      g.strides[0],
      g.dilations[0],
      g.pad.top,
    );
    const planX = axisPhases(g.inWidth, g.outWidth, g.filterWidth, g.strides[1], g.dilations[1], g.pad.left);
    const phases = planY.phases.map((phaseY) =>
      planX.phases.map((phaseX) =>
        correlatePhase(dy, phaseY, phaseX, planY.count, planX.count, g.inChannels, correlate),
      ),
    );
    const full =
      phases.length === 1 && phases[0].length === 1 ? phases[0][0] : interleave(phases, planY, planX);
    const [n, fullHeight, fullWidth] = full.shape;
    if (planY.offset === 0 && planX.offset === 0 && fullHeight === g.inHeight && fullWidth === g.inWidth) {
      return full;
    }
    return tf.slice(full, [0, planY.offset, planX.offset, 0], [n, g.inHeight, g.inWidth, g.inChannels]);
  });
}

/**
 * The taps `tapsY` x `tapsX` of a filter [kh, kw, A, B], in that order, as [tapsY.length, tapsX.length, A, B].
 * Each tap is a contiguous row of A*B values: slices and one concat move them as whole rows (wasm's GatherV2
 * copies element by element, 12 ms for a 3x3x64x64 filter).
 */
export function gatherTaps(
  filter: tf.Tensor4D,
  tapsY: readonly number[],
  tapsX: readonly number[],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, a, b] = filter.shape;
    const indices = tapsY.flatMap((ty) => tapsX.map((tx) => ty * kw + tx));
    if (indices.length === kh * kw && indices.every((index, i) => index === i)) return filter.clone();
    const rows = tf.reshape(filter, [kh * kw, a * b]);
    const picked = indices.map((index) => tf.slice(rows, [index, 0], [1, a * b]));
    return tf.reshape(picked.length === 1 ? picked[0] : tf.concat(picked, 0), [
      tapsY.length,
      tapsX.length,
      a,
      b,
    ]);
  });
}
