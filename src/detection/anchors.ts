/**
 * mmdetection 2.x's `AnchorGenerator` with `center_offset=0`: per level, base anchors centred on (0, 0) of size
 * stride * scale with ratio h/w, ratio-major order (index = ratio * numScales + scale), unrounded; shifted to every
 * feature cell (x = col * stride, y = row * stride). Anchors are ordered (row, col, anchor), the order of a head
 * output's NHWC flattening. Float32 arithmetic step by step, as PyTorch computes them.
 */
import type { AnchorConfig } from './config.js';

const f32 = Math.fround;

/** Base anchors of one level, [A * 4] (x1, y1, x2, y2). */
export function baseAnchors(
  baseSize: number,
  ratios: readonly number[],
  scales: readonly number[],
): Float32Array {
  const out = new Float32Array(ratios.length * scales.length * 4);
  let k = 0;
  for (const ratio of ratios) {
    const hRatio = f32(Math.sqrt(f32(ratio)));
    const wRatio = f32(1 / hRatio);
    for (const scale of scales) {
      const w = f32(f32(baseSize * wRatio) * f32(scale));
      const h = f32(f32(baseSize * hRatio) * f32(scale));
      out.set([-f32(0.5 * w), -f32(0.5 * h), f32(0.5 * w), f32(0.5 * h)], k);
      k += 4;
    }
  }
  return out;
}

/** All anchors of a level with a `height` x `width` feature map, [height * width * A * 4]. */
export function gridAnchors(base: Float32Array, stride: number, height: number, width: number): Float32Array {
  const perCell = base.length;
  const out = new Float32Array(height * width * perCell);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * perCell;
      const sx = x * stride;
      const sy = y * stride;
      for (let a = 0; a < perCell; a += 4) {
        out[offset + a] = base[a] + sx;
        out[offset + a + 1] = base[a + 1] + sy;
        out[offset + a + 2] = base[a + 2] + sx;
        out[offset + a + 3] = base[a + 3] + sy;
      }
    }
  }
  return out;
}

/** Anchors per level for feature maps of the given [height, width] sizes. */
export function levelAnchors(config: AnchorConfig, sizes: Array<[number, number]>): Float32Array[] {
  return sizes.map(([h, w], level) => {
    const stride = config.strides[level];
    return gridAnchors(baseAnchors(stride, config.ratios, config.scales), stride, h, w);
  });
}

/** Anchors per feature cell. */
export function anchorsPerCell(config: AnchorConfig): number {
  return config.ratios.length * config.scales.length;
}
