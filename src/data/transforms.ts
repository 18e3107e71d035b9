/**
 * torchvision's image transforms on {@link RawImage}s, as serialisable op lists (so decode workers run exactly the
 * same pipeline as the main thread). Random decisions use the per-sample generator of `seeding.ts` and follow
 * torchvision's sampling formulas (including Python's round-half-to-even where torchvision calls `round`).
 */
import type { Rng } from '../nn/init.js';
import { describeValue } from '../util/bounded-text.js';
import { blankImage, type RawImage, toGrayscale } from './image.js';
import { resizeBilinear } from './resize.js';
import { randomInt } from './seeding.js';

/** One transform; names follow torchvision (`transforms.Pad`, `RandomCrop`, ...). */
export type TransformOp =
  /** Zero padding on every side (`Pad(padding)`). */
  | { op: 'pad'; padding: number }
  /** `RandomCrop(size, padding)`: zero-pad, then crop `size` x `size` at a uniform offset. */
  | { op: 'randomCrop'; size: number; padding: number }
  /** `RandomHorizontalFlip(p)`. */
  | { op: 'randomHorizontalFlip'; p: number }
  /** `RandomResizedCrop(size, scale, ratio)` with bilinear resampling. */
  | { op: 'randomResizedCrop'; size: number; scale: [number, number]; ratio: [number, number] }
  /** `Resize(size)`: shorter side to `size`, aspect ratio kept (longer side truncated like torchvision). */
  | { op: 'resize'; size: number }
  /** `CenterCrop(size)` (zero-pads first when the image is smaller). */
  | { op: 'centerCrop'; size: number }
  /** `Grayscale(1)`: PIL's luma conversion. */
  | { op: 'grayscale' };

/** Python's `round()`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Zero-pads `top/left/bottom/right` pixels. */
export function padImage(image: RawImage, top: number, left: number, bottom = top, right = left): RawImage {
  const out = blankImage(image.height + top + bottom, image.width + left + right, image.channels);
  const c = image.channels;
  for (let y = 0; y < image.height; y++) {
    const src = y * image.width * c;
    out.data.set(image.data.subarray(src, src + image.width * c), ((y + top) * out.width + left) * c);
  }
  return out;
}

/** The `height` x `width` window at (top, left); must lie inside the image. */
export function cropImage(
  image: RawImage,
  top: number,
  left: number,
  height: number,
  width: number,
): RawImage {
  if (top < 0 || left < 0 || top + height > image.height || left + width > image.width) {
    throw new Error(
      `crop ${height}x${width} at (${top}, ${left}) is outside a ${image.height}x${image.width} image`,
    );
  }
  const out = blankImage(height, width, image.channels);
  const c = image.channels;
  for (let y = 0; y < height; y++) {
    const src = ((top + y) * image.width + left) * c;
    out.data.set(image.data.subarray(src, src + width * c), y * width * c);
  }
  return out;
}

/** Mirrors left-right. */
export function flipHorizontal(image: RawImage): RawImage {
  const out = blankImage(image.height, image.width, image.channels);
  const c = image.channels;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const src = (y * image.width + x) * c;
      const dst = (y * image.width + (image.width - 1 - x)) * c;
      for (let ch = 0; ch < c; ch++) out.data[dst + ch] = image.data[src + ch];
    }
  }
  return out;
}

/** torchvision `CenterCrop`: offsets `round((H - h) / 2)` (half to even); pads with zeros when too small. */
export function centerCrop(image: RawImage, size: number): RawImage {
  let img = image;
  if (size > img.height || size > img.width) {
    const padH = Math.max(size - img.height, 0);
    const padW = Math.max(size - img.width, 0);
    img = padImage(img, padH >> 1, padW >> 1, (padH + 1) >> 1, (padW + 1) >> 1);
  }
  const top = roundHalfEven((img.height - size) / 2);
  const left = roundHalfEven((img.width - size) / 2);
  return cropImage(img, top, left, size, size);
}

/** torchvision `Resize(int)`: the shorter side becomes `size`, the longer `int(size * long / short)`. */
export function resizeShorter(image: RawImage, size: number): RawImage {
  const { height, width } = image;
  if (height <= width) {
    return resizeBilinear(image, size, Math.trunc((size * width) / height));
  }
  return resizeBilinear(image, Math.trunc((size * height) / width), size);
}

/** torchvision `RandomResizedCrop.get_params`: (top, left, height, width) of the crop. */
export function randomResizedCropBox(
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const aspect = Math.exp(logRatio[0] + (logRatio[1] - logRatio[0]) * rng.uniform());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return [randomInt(rng, 0, height - h), randomInt(rng, 0, width - w), h, w];
    }
  }
  // Fallback: the whole image, clamped to the ratio range, centred.
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(h * Math.max(...ratio));
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

/** Applies one op. `rng` is only consumed by random ops (in torchvision's order of draws). */
export function applyTransform(image: RawImage, t: TransformOp, rng: Rng): RawImage {
  switch (t.op) {
    case 'pad':
      return padImage(image, t.padding, t.padding);
    case 'randomCrop': {
      const padded = t.padding > 0 ? padImage(image, t.padding, t.padding) : image;
      const top = randomInt(rng, 0, padded.height - t.size);
      const left = randomInt(rng, 0, padded.width - t.size);
      return cropImage(padded, top, left, t.size, t.size);
    }
    case 'randomHorizontalFlip':
      return rng.uniform() < t.p ? flipHorizontal(image) : image;
    case 'randomResizedCrop': {
      const [top, left, h, w] = randomResizedCropBox(image.height, image.width, t.scale, t.ratio, rng);
      return resizeBilinear(cropImage(image, top, left, h, w), t.size, t.size);
    }
    case 'resize':
      return resizeShorter(image, t.size);
    case 'centerCrop':
      return centerCrop(image, t.size);
    case 'grayscale':
      return toGrayscale(image);
    default:
      // Op lists can come from files (stored preprocessing is validated first; this guards other callers).
      throw new Error(`unknown transform op ${describeValue((t as { op?: unknown }).op)}`);
  }
}

/** Applies a list of ops in order. */
export function applyTransforms(image: RawImage, ops: readonly TransformOp[], rng: Rng): RawImage {
  let result = image;
  for (const t of ops) result = applyTransform(result, t, rng);
  return result;
}

/** Output side length of an op list for inputs of `inputSize` (null when it depends on the image). */
export function outputSize(ops: readonly TransformOp[], inputSize: number | null): number | null {
  let size = inputSize;
  for (const t of ops) {
    if (t.op === 'pad') size = size === null ? null : size + 2 * t.padding;
    else if (t.op === 'randomCrop' || t.op === 'randomResizedCrop' || t.op === 'centerCrop') size = t.size;
    else if (t.op === 'resize') size = null;
  }
  return size;
}
