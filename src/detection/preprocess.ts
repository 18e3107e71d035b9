/**
 * mmdetection's test pipeline for one image: `Resize(img_scale, keep_ratio=True)` (mmcv `imrescale`: the largest
 * factor that fits the long side in scale[0] and the short side in scale[1], sizes rounded half up, bilinear),
 * `Normalize` (RGB mean / std), `Pad(size_divisor=32)` with zeros at the bottom and right.
 * The resize follows cv2's INTER_LINEAR (half-pixel centres, border clamp, no antialiasing) in double precision,
 * rounded to uint8; cv2's own 11-bit fixed point can differ by one grey level.
 */
import * as tf from '@tensorflow/tfjs-core';
import { blankImage, type RawImage, toRgb } from '../data/image.js';
import type { DetectorConfig } from './config.js';

/** The network input of one image and what post-processing needs to map boxes back to it. */
export interface PreparedImage {
  /** [1, paddedHeight, paddedWidth, 3], normalised. */
  input: tf.Tensor4D;
  /** Size after resizing, before padding: [height, width]. */
  imageShape: [number, number];
  /** [w, h, w, h] scale from the original image to the resized one (float32, as mmdet's `scale_factor`). */
  scaleFactor: [number, number, number, number];
  /** Original [height, width]. */
  originalShape: [number, number];
}

/** mmcv `rescale_size`: [width, height] after fitting (w, h) into `scale` = (long, short) keeping the ratio. */
export function rescaleSize(
  width: number,
  height: number,
  scale: readonly [number, number],
): [number, number] {
  const maxLong = Math.max(...scale);
  const maxShort = Math.min(...scale);
  const factor = Math.min(maxLong / Math.max(height, width), maxShort / Math.min(height, width));
  return [Math.floor(width * factor + 0.5), Math.floor(height * factor + 0.5)];
}

/** Source index pairs and weights of cv2 INTER_LINEAR along one axis. */
function linearAxis(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; frac: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const src = (d + 0.5) * (inSize / outSize) - 0.5;
    let lo = Math.floor(src);
    let f = src - lo;
    if (lo < 0) {
      lo = 0;
      f = 0;
    }
    if (lo >= inSize - 1) {
      lo = inSize - 1;
      f = 0;
    }
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, inSize - 1);
    frac[d] = f;
  }
  return { i0, i1, frac };
}

/** Bilinear resize with cv2 INTER_LINEAR semantics (see the file comment). */
export function resizeLinear(image: RawImage, height: number, width: number): RawImage {
  if (image.height === height && image.width === width) return { ...image, data: image.data.slice() };
  const c = image.channels;
  const out = blankImage(height, width, c);
  const ys = linearAxis(image.height, height);
  const xs = linearAxis(image.width, width);
  const src = image.data;
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y] * image.width;
    const r1 = ys.i1[y] * image.width;
    const fy = ys.frac[y];
    for (let x = 0; x < width; x++) {
      const c0 = xs.i0[x];
      const c1 = xs.i1[x];
      const fx = xs.frac[x];
      for (let k = 0; k < c; k++) {
        const top = src[(r0 + c0) * c + k] * (1 - fx) + src[(r0 + c1) * c + k] * fx;
        const bottom = src[(r1 + c0) * c + k] * (1 - fx) + src[(r1 + c1) * c + k] * fx;
        const value = Math.floor(top * (1 - fy) + bottom * fy + 0.5);
        out.data[(y * width + x) * c + k] = value < 0 ? 0 : Math.min(value, 255);
      }
    }
  }
  return out;
}

/** Resize, normalise and pad one image for `config`'s detector. The caller disposes `input`. */
export function prepareImage(image: RawImage, config: DetectorConfig): PreparedImage {
  if (image.height < 1 || image.width < 1)
    throw new Error(`cannot detect on an empty image (${image.width}x${image.height})`);
  const rgb = toRgb(image);
  const [newW, newH] = rescaleSize(rgb.width, rgb.height, config.testScale);
  const resized = resizeLinear(rgb, newH, newW);
  const div = config.sizeDivisor;
  const padH = Math.ceil(newH / div) * div;
  const padW = Math.ceil(newW / div) * div;
  const data = new Float32Array(padH * padW * 3);
  // Float32 mean / std, as mmdet's normalisation tensors.
  const mean = config.mean.map(Math.fround);
  const std = config.std.map(Math.fround);
  for (let y = 0; y < newH; y++) {
    for (let x = 0; x < newW; x++) {
      for (let k = 0; k < 3; k++) {
        data[(y * padW + x) * 3 + k] = Math.fround(
          Math.fround(resized.data[(y * newW + x) * 3 + k] - mean[k]) / std[k],
        );
      }
    }
  }
  const ws = Math.fround(newW / rgb.width);
  const hs = Math.fround(newH / rgb.height);
  return {
    input: tf.tensor4d(data, [1, padH, padW, 3]),
    imageShape: [newH, newW],
    scaleFactor: [ws, hs, ws, hs],
    originalShape: [rgb.height, rgb.width],
  };
}
