/**
 * mmdetection's `_do_paste_mask` (CPU path) + threshold: a mask of probabilities predicted on the box's S x S grid
 * is resampled at every image pixel centre near the box with `grid_sample(align_corners=False)` (bilinear, zero
 * outside the grid), and pixels with probability >= threshold are the instance.
 */
import type { BinaryMask } from './types.js';

const f32 = Math.fround;

/**
 * Pastes `probabilities` [size * size] (row-major) for `box` (x1, y1, x2, y2 in image pixels) into an
 * `imageHeight` x `imageWidth` binary mask.
 */
export function pasteMask(
  probabilities: Float32Array,
  size: number,
  box: ArrayLike<number>,
  imageHeight: number,
  imageWidth: number,
  threshold: number,
): BinaryMask {
  const mask: BinaryMask = {
    width: imageWidth,
    height: imageHeight,
    data: new Uint8Array(imageHeight * imageWidth),
  };
  const [x0, y0, x1, y1] = [box[0], box[1], box[2], box[3]];
  const x0Int = Math.max(Math.floor(Math.min(x0, x1)) - 1, 0);
  const y0Int = Math.max(Math.floor(Math.min(y0, y1)) - 1, 0);
  const x1Int = Math.min(Math.ceil(x1) + 1, imageWidth);
  const y1Int = Math.min(Math.ceil(y1) + 1, imageHeight);
  const boxW = f32(x1 - x0);
  const boxH = f32(y1 - y0);
  // Grid coordinates in [-1, 1] -> source pixel coordinates (g + 1) * size / 2 - 0.5, as PyTorch's vectorised
  // grid_sample computes them; weights and the weighted sum in float32.
  const half = f32(size / 2);
  const source = (pixel: number, start: number, extent: number) => {
    const g = f32(f32(f32(f32(f32(pixel + 0.5) - start) / extent) * 2) - 1);
    return f32(f32(f32(g + 1) * half) - 0.5);
  };
  const at = (y: number, x: number) =>
    y >= 0 && y < size && x >= 0 && x < size ? probabilities[y * size + x] : 0;
  for (let py = y0Int; py < y1Int; py++) {
    const sy = source(py, y0, boxH);
    const yn = Math.floor(sy);
    const s = f32(sy - yn);
    const n = f32(1 - s);
    for (let px = x0Int; px < x1Int; px++) {
      const sx = source(px, x0, boxW);
      const xn = Math.floor(sx);
      const e = f32(sx - xn);
      const w = f32(1 - e);
      let value = f32(at(yn, xn) * f32(n * w));
      value = f32(value + f32(at(yn, xn + 1) * f32(n * e)));
      value = f32(value + f32(at(yn + 1, xn) * f32(s * w)));
      value = f32(value + f32(at(yn + 1, xn + 1) * f32(s * e)));
      if (value >= threshold) mask.data[py * imageWidth + px] = 1;
    }
  }
  return mask;
}
