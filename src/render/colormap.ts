/**
 * Colour maps for feature maps and heat maps: viridis (matplotlib's default, perceptually uniform and readable in
 * grayscale), its table sampled at 9 anchors (every 32nd entry) and interpolated linearly in between: close to
 * matplotlib's colours, not bit-identical to them.
 */

export type Rgb = [number, number, number];

const VIRIDIS_ANCHORS: readonly Rgb[] = [
  [68, 1, 84],
  [72, 36, 117],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [34, 168, 132],
  [74, 193, 109],
  [157, 217, 59],
  [253, 231, 37],
];

/** The viridis colour of `t` in [0, 1] (clamped; NaN is drawn as the low end). */
export function viridis(t: number): Rgb {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const position = clamped * (VIRIDIS_ANCHORS.length - 1);
  const low = Math.min(Math.floor(position), VIRIDIS_ANCHORS.length - 2);
  const f = position - low;
  const a = VIRIDIS_ANCHORS[low];
  const b = VIRIDIS_ANCHORS[low + 1];
  return [
    Math.round(a[0] + f * (b[0] - a[0])),
    Math.round(a[1] + f * (b[1] - a[1])),
    Math.round(a[2] + f * (b[2] - a[2])),
  ];
}

/** `values` scaled to [0, 1] by their own min and max (all zeros when they are constant or not finite). */
export function normalizeRange(values: ArrayLike<number>): Float32Array {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(values.length);
  if (!(max > min)) return out;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = Number.isFinite(v) ? (v - min) / (max - min) : 0;
  }
  return out;
}
