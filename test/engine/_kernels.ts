/** Helpers for the kernel tests: seeded data, running a kernel on a named backend, float64 references. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import '../../src/engine/gradients.js';
import type { Rng } from '../../src/nn/init.js';

/** Uniform values in [-1, 1) from a seeded generator. */
export function randomData(rng: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => rng.uniform() * 2 - 1);
}

/** An integer in [low, high]. */
export function randomInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng.uniform() * (high - low + 1));
}

/** A value picked from `options`. */
export function pick<T>(rng: Rng, options: readonly T[]): T {
  return options[Math.floor(rng.uniform() * options.length)];
}

/** Runs `fn` with `backend` active and returns the values of the tensor it produces (disposed afterwards). */
export async function valuesOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor): Promise<Float32Array> {
  await initBackend({ backend });
  const result = tf.tidy(fn);
  const values = (await result.data()) as Float32Array;
  result.dispose();
  return values;
}

/** Runs a registered kernel by name (what the gradient functions call) with NHWC attributes. */
export function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Explicit NHWC padding as tfjs kernels take it. */
export function explicitPad(
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.backend_util.ExplicitPadding {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

export interface ConvCase {
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: 'valid' | 'same' | tf.backend_util.ExplicitPadding;
  depthwise: boolean;
}

/** Output shape and padding of a case, from tfjs's own geometry (independent of rla-net's kernels). */
export function caseGeometry(c: ConvCase) {
  return tf.backend_util.computeConv2DInfo(
    c.xShape,
    c.filterShape,
    c.strides,
    c.dilations,
    c.pad,
    undefined,
    c.depthwise,
  );
}

/**
 * dW of a conv / depthwise conv in float64 loops: dW[ky,kx,ci,m] = sum x[n, oy*s + ky*d - pad, ...] * dy[...].
 * For depthwise, dy channel ci*M + m pairs with input channel ci; for a conv, filter [kh,kw,Cin,Cout].
 */
export function referenceFilterGradient(c: ConvCase, x: Float32Array, dy: Float32Array): Float64Array {
  const info = caseGeometry(c);
  const [n, h, w, cin] = c.xShape;
  const [kh, kw, , fout] = c.filterShape;
  const { outHeight: oh, outWidth: ow, outChannels } = info;
  const [sh, sw] = c.strides;
  const [dh, dw] = c.dilations;
  const out = new Float64Array(kh * kw * cin * fout);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky * dh - info.padInfo.top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx * dw - info.padInfo.left;
            if (ix < 0 || ix >= w) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x[((b * h + iy) * w + ix) * cin + ci];
              for (let f = 0; f < fout; f++) {
                const co = c.depthwise ? ci * fout + f : f;
                out[((ky * kw + kx) * cin + ci) * fout + f] +=
                  xv * dy[((b * oh + oy) * ow + ox) * outChannels + co];
              }
            }
          }
        }
  return out;
}

/** dx of a conv / depthwise conv in float64 loops (the transpose of the forward's gather). */
export function referenceInputGradient(c: ConvCase, filter: Float32Array, dy: Float32Array): Float64Array {
  const info = caseGeometry(c);
  const [n, h, w, cin] = c.xShape;
  const [kh, kw, , fout] = c.filterShape;
  const { outHeight: oh, outWidth: ow, outChannels } = info;
  const [sh, sw] = c.strides;
  const [dh, dw] = c.dilations;
  const out = new Float64Array(n * h * w * cin);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky * dh - info.padInfo.top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx * dw - info.padInfo.left;
            if (ix < 0 || ix >= w) continue;
            for (let ci = 0; ci < cin; ci++) {
              let sum = 0;
              for (let f = 0; f < fout; f++) {
                const co = c.depthwise ? ci * fout + f : f;
                sum +=
                  filter[((ky * kw + kx) * cin + ci) * fout + f] *
                  dy[((b * oh + oy) * ow + ox) * outChannels + co];
              }
              out[((b * h + iy) * w + ix) * cin + ci] += sum;
            }
          }
        }
  return out;
}
