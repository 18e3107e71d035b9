/**
 * Image resampling with PIL's bilinear filter (the `Image.resize(..., BILINEAR)` that torchvision's Resize and
 * RandomResizedCrop call on PIL images): a separable triangle filter whose support widens with the downscale
 * factor (antialiasing), 22-bit fixed-point coefficients, horizontal pass then vertical, rounding to uint8 after
 * each pass. Reimplemented from the published algorithm (Pillow `libImaging/Resample.c`) so the pipeline needs
 * no native image library.
 */
import { blankImage, type RawImage } from './image.js';

const PRECISION_BITS = 32 - 8 - 2;

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

interface Coefficients {
  /** First input index contributing to each output index. */
  start: Int32Array;
  /** Number of contributing inputs per output index. */
  count: Int32Array;
  /** Fixed-point weights, `kernelSize` per output index. */
  weights: Int32Array;
  kernelSize: number;
}

/** PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for resampling `inSize` samples onto `outSize`. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const k = new Float64Array(kernelSize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; the values here are >= -0.5, so trunc matches.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = triangle((x + xmin - center + 0.5) / filterScale);
      total += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x] / total : 0;
      weights[xx * kernelSize + x] = Math.trunc(
        w < 0 ? w * (1 << PRECISION_BITS) - 0.5 : w * (1 << PRECISION_BITS) + 0.5,
      );
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, kernelSize };
}

function clip8(value: number): number {
  const v = Math.floor(value / (1 << PRECISION_BITS));
  return Math.min(255, Math.max(0, v));
}

function resampleHorizontal(image: RawImage, outWidth: number): RawImage {
  const { height, width, channels, data } = image;
  const c = coefficients(width, outWidth);
  const out = blankImage(height, outWidth, channels);
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const base = xx * c.kernelSize;
      for (let ch = 0; ch < channels; ch++) {
        let sum = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < c.count[xx]; x++) {
          sum += data[row + (c.start[xx] + x) * channels + ch] * c.weights[base + x];
        }
        out.data[(y * outWidth + xx) * channels + ch] = clip8(sum);
      }
    }
  }
  return out;
}

function resampleVertical(image: RawImage, outHeight: number): RawImage {
  const { height, width, channels, data } = image;
  const c = coefficients(height, outHeight);
  const out = blankImage(outHeight, width, channels);
  const stride = width * channels;
  for (let yy = 0; yy < outHeight; yy++) {
    const base = yy * c.kernelSize;
    for (let i = 0; i < stride; i++) {
      let sum = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < c.count[yy]; y++) sum += data[(c.start[yy] + y) * stride + i] * c.weights[base + y];
      out.data[yy * stride + i] = clip8(sum);
    }
  }
  return out;
}

/** Resizes to exactly `height` x `width` with PIL's antialiased bilinear filter. */
export function resizeBilinear(image: RawImage, height: number, width: number): RawImage {
  if (!(height > 0 && width > 0)) throw new Error(`resize: invalid target size ${height}x${width}`);
  let result = image;
  if (width !== image.width) result = resampleHorizontal(result, width);
  if (height !== image.height) result = resampleVertical(result, height);
  return result;
}
