/**
 * mmdetection's `DeltaXYWHBBoxCoder.decode` (`delta2bbox`) with means 0: deltas (dx, dy, dw, dh) * stds move the
 * centre by (dx * w, dy * h) and scale the size by exp(dw), exp(dh), dw/dh clamped to |log(16 / 1000)|; boxes are
 * clipped to the resized image (0..width, 0..height). Float32 step by step, as PyTorch computes it.
 */

const f32 = Math.fround;
const MAX_RATIO = Math.abs(Math.log(16 / 1000));

/**
 * Decodes `deltas` [n, k * 4] (k boxes per row, e.g. one per class) against `rois` [n, 4]; returns [n, k * 4].
 * `maxShape` is [height, width] of the resized image.
 */
export function decodeDeltas(
  rois: Float32Array,
  deltas: Float32Array,
  stds: readonly number[],
  maxShape: readonly [number, number],
): Float32Array {
  const n = rois.length / 4;
  if (n === 0) return new Float32Array(0);
  const perRow = deltas.length / n;
  if (!Number.isInteger(perRow) || perRow % 4 !== 0) {
    throw new Error(`decodeDeltas: ${deltas.length} deltas do not fit ${n} boxes`);
  }
  const [maxH, maxW] = maxShape;
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : Math.min(v, hi));
  const clip = (v: number) => (v < -MAX_RATIO ? f32(-MAX_RATIO) : v > MAX_RATIO ? f32(MAX_RATIO) : v);
  const out = new Float32Array(deltas.length);
  for (let i = 0; i < n; i++) {
    const x1 = rois[4 * i];
    const y1 = rois[4 * i + 1];
    const x2 = rois[4 * i + 2];
    const y2 = rois[4 * i + 3];
    const px = f32(f32(x1 + x2) * 0.5);
    const py = f32(f32(y1 + y2) * 0.5);
    const pw = f32(x2 - x1);
    const ph = f32(y2 - y1);
    for (let j = i * perRow; j < (i + 1) * perRow; j += 4) {
      const dx = f32(deltas[j] * stds[0]);
      const dy = f32(deltas[j + 1] * stds[1]);
      const dw = clip(f32(deltas[j + 2] * stds[2]));
      const dh = clip(f32(deltas[j + 3] * stds[3]));
      const gw = f32(pw * f32(Math.exp(dw)));
      const gh = f32(ph * f32(Math.exp(dh)));
      const gx = f32(px + f32(pw * dx));
      const gy = f32(py + f32(ph * dy));
      out[j] = clamp(f32(gx - f32(gw * 0.5)), maxW);
      out[j + 1] = clamp(f32(gy - f32(gh * 0.5)), maxH);
      out[j + 2] = clamp(f32(gx + f32(gw * 0.5)), maxW);
      out[j + 3] = clamp(f32(gy + f32(gh * 0.5)), maxH);
    }
  }
  return out;
}
