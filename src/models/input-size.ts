/**
 * Input-size rules shared by the ResNet-family models. In the official RLA-ResNets the hidden state is pooled
 * with floor (AvgPool2d 2x2) while the main path downsamples with a padded stride-2 conv (ceil), so the stem
 * output must stay even through every strided stage or `cat(x, h)` fails.
 */
import { windowOutputSize } from '../nn/padding.js';

/** Spatial size after the ResNet stem (conv 7x7/2 pad 3, maxpool 3x3/2 pad 1). */
export function resnetStemSize(size: number): number {
  return windowOutputSize(windowOutputSize(size, 7, 2, 3), 3, 2, 1);
}

/** True when the main path (ceil) and h (floor) agree after each of `stridedStages` stride-2 stages. */
export function rlaResNetAcceptsSize(size: number, stridedStages = 3): boolean {
  let s = resnetStemSize(size);
  if (s < 1) return false;
  for (let i = 0; i < stridedStages; i++) {
    const mainPath = windowOutputSize(s, 3, 2, 1);
    const hidden = Math.floor(s / 2);
    if (mainPath !== hidden || hidden < 1) return false;
    s = hidden;
  }
  return true;
}

/** Throws the error `reason` words for the first side (height, then width) that `accepts` refuses. */
export function checkEachSide(
  height: number,
  width: number,
  accepts: (size: number) => boolean,
  reason: (axis: 'height' | 'width', size: number) => string,
): void {
  for (const [axis, size] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!accepts(size)) throw new Error(reason(axis, size));
  }
}

/** The nearest accepted sizes below and above `size`, for error messages. */
export function nearestAcceptedSizes(size: number, accepts: (s: number) => boolean): number[] {
  const result: number[] = [];
  for (let s = size - 1; s >= 1 && result.length < 1; s--) if (accepts(s)) result.push(s);
  for (let s = size + 1; s < size + 4096 && result.length < 2; s++) if (accepts(s)) result.push(s);
  return result.sort((a, b) => a - b);
}
