/**
 * Geometry shared by the convolution gradient kernels: the forward convolution's sizes and padding as tfjs
 * computes them from a kernel's attributes, and the plan that turns an input gradient into ordinary convolutions.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Padding as tfjs kernels receive it. */
export type ConvPad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** Sizes of an NHWC convolution (forward direction), from tfjs's own `computeConv2DInfo`. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strides: [number, number];
  dilations: [number, number];
  /** Zero padding of the input actually applied: top, bottom, left, right. */
  pad: { top: number; bottom: number; left: number; right: number };
}

/** The forward geometry of a conv (or depthwise conv) from its input shape, filter shape and attributes. */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: ConvPad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    pad: {
      top: info.padInfo.top,
      bottom: info.padInfo.bottom,
      left: info.padInfo.left,
      right: info.padInfo.right,
    },
  };
}

/** One stride phase along one axis of a transposed convolution (see `axisPhases`). */
export interface AxisPhase {
  /** Filter taps this phase uses, in the order the correlation applies them (reversed). */
  taps: number[];
  /** Zero padding of dy before / after for the correlation; negative values mean cropping dy. */
  padBefore: number;
  padAfter: number;
}

/** How one axis of an input gradient splits into stride phases. */
export interface AxisPlan {
  stride: number;
  /** Output length of every phase's correlation. */
  count: number;
  /** Index in the interleaved phase outputs where input position 0 lies. */
  offset: number;
  phases: AxisPhase[];
}

/**
 * The input gradient along one axis, dx[i] = sum over (o, t) with o*s + t*d - p = i of dy[o] * w[t], as `s`
 * stride-1 correlations of dy with reversed sub-filters, one per residue r of (i + p) mod s, whose outputs
 * interleave into dx. Every correlation has the forward conv's MACs divided by s, so together they do exactly
 * the forward's work (the textbook zero-insertion would do s times more). Dilation `d` > 1 needs `s` = 1
 * (as in tfjs).
 */
export function axisPhases(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
  padBefore: number,
): AxisPlan {
  if (stride === 1) {
    const taps = Array.from({ length: filterSize }, (_, t) => filterSize - 1 - t);
    const before = (filterSize - 1) * dilation - padBefore;
    return {
      stride,
      count: inSize,
      offset: 0,
      phases: [{ taps, padBefore: before, padAfter: inSize - outSize + padBefore }],
    };
  }
  if (dilation !== 1)
    throw new Error('transposed convolution: stride > 1 with dilation > 1 is not supported');
  const first = Math.floor(padBefore / stride);
  const count = Math.floor((inSize - 1 + padBefore) / stride) - first + 1;
  const phases: AxisPhase[] = [];
  for (let residue = 0; residue < stride; residue++) {
    const tapCount = residue < filterSize ? Math.ceil((filterSize - residue) / stride) : 0;
    const taps = Array.from({ length: tapCount }, (_, j) => residue + stride * (tapCount - 1 - j));
    const before = tapCount - 1 - first;
    phases.push({ taps, padBefore: before, padAfter: count + tapCount - 1 - outSize - before });
  }
  return { stride, count, offset: padBefore - stride * first, phases };
}
