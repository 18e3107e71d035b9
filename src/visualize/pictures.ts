/**
 * Feature maps as pictures: a heat map (viridis, normalised to its own range), a grid of channels (each
 * normalised on its own), and a heat map blended over the image it explains.
 */
import { blankImage, type RawImage, toRgb } from '../data/image.js';
import { resizeBilinear } from '../data/resize.js';
import { normalizeRange, viridis } from '../render/colormap.js';
import type { SpatialMap } from './feature-maps.js';

/** The integer zoom that brings `side` pixels to at least `target` (1 when already larger). */
export function zoomFor(side: number, target: number): number {
  return Math.max(1, Math.ceil(target / side));
}

/** `map` normalised to [0, 1] and coloured with viridis, each value a `zoom` x `zoom` block. */
export function heatmapImage(map: SpatialMap, zoom = 1): RawImage {
  const t = normalizeRange(map.values);
  const out = blankImage(map.height * zoom, map.width * zoom, 3);
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const [r, g, b] = viridis(t[Math.floor(y / zoom) * map.width + Math.floor(x / zoom)]);
      const i = 3 * (y * out.width + x);
      out.data[i] = r;
      out.data[i + 1] = g;
      out.data[i + 2] = b;
    }
  }
  return out;
}

/**
 * The channels of an HWC tensor as a grid of heat maps (each normalised to its own range, so weak channels show
 * their pattern too), `columns` per row (default: a near-square grid), `gap` white pixels between tiles.
 */
export function channelGrid(
  tensor: { values: Float32Array; height: number; width: number; channels: number },
  zoom = 1,
  gap = 2,
  columns = Math.ceil(Math.sqrt(tensor.channels)),
): RawImage {
  const { values, height, width, channels } = tensor;
  const rows = Math.ceil(channels / columns);
  const tileH = height * zoom;
  const tileW = width * zoom;
  const out = blankImage(rows * tileH + (rows - 1) * gap, columns * tileW + (columns - 1) * gap, 3);
  out.data.fill(255);
  const plane = new Float32Array(height * width);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane.length; p++) plane[p] = values[p * channels + c];
    const tile = heatmapImage({ values: plane, height, width }, zoom);
    const top = Math.floor(c / columns) * (tileH + gap);
    const left = (c % columns) * (tileW + gap);
    for (let y = 0; y < tileH; y++) {
      out.data.set(
        tile.data.subarray(3 * y * tileW, 3 * (y + 1) * tileW),
        3 * ((top + y) * out.width + left),
      );
    }
  }
  return out;
}

/**
 * `map` resized (bilinear) to `image`'s size and blended over it: colour = (1 - alpha) image + alpha viridis(t),
 * t the map normalised to [0, 1]. Also returns the resized t, for measuring where the map's mass lies.
 */
export function overlayHeatmap(
  image: RawImage,
  map: SpatialMap,
  alpha = 0.5,
): { picture: RawImage; resized: Float32Array } {
  const t = normalizeRange(map.values);
  const gray: RawImage = {
    data: Uint8Array.from(t, (v) => Math.round(255 * v)),
    height: map.height,
    width: map.width,
    channels: 1,
  };
  const scaled = resizeBilinear(gray, image.height, image.width);
  const rgb = toRgb(image);
  const picture = blankImage(image.height, image.width, 3);
  const resized = new Float32Array(image.height * image.width);
  for (let p = 0; p < resized.length; p++) {
    resized[p] = scaled.data[p] / 255;
    const color = viridis(resized[p]);
    for (let k = 0; k < 3; k++)
      picture.data[3 * p + k] = Math.round((1 - alpha) * rgb.data[3 * p + k] + alpha * color[k]);
  }
  return { picture, resized };
}
