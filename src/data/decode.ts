/**
 * JPEG and PNG decoding to {@link RawImage} (RGB, alpha dropped like PIL's `convert('RGB')`, which torchvision's
 * ImageFolder loader calls). Decoders: `jpeg-js` (baseline and progressive JPEG; its decoder comes from Mozilla's
 * pdf.js) and `pngjs` (every PNG colour type and bit depth), both pure JavaScript with no dependencies. Why them:
 * no native build and no binary download at install time (sharp and canvas need one, and this project installs
 * offline), they run unchanged inside worker threads, and jpeg-js caps resolution and memory against hostile
 * files. Both formats are checked from their headers before decoding (see {@link checkImageSize}).
 */
import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { DatasetError } from './dataset.js';
import type { RawImage } from './image.js';
import {
  type ImageSize,
  jpegSize,
  type PngHeader,
  pngHeader,
  pngImageData,
  pngInflatedBytes,
} from './image-header.js';

/** Largest accepted image, in megapixels (ImageNet's largest are ~ 20 MP). */
const MAX_MEGAPIXELS = 100;
/**
 * Largest ratio of the longer side to the shorter. Pipelines resize the shorter side (to 256 for ImageNet), so a
 * w:1 image grows to 256w x 256: a valid 20000x1 PNG became 1.3 gigapixels (42 s, 3.9 GB). At 64:1 the resized
 * image stays under 4.2 MP; photographs, panoramas included, are far below.
 */
const MAX_ASPECT_RATIO = 64;

/** Image file formats `decodeImage` reads. */
export type ImageFormat = 'jpeg' | 'png';

/** Detects JPEG (FF D8 FF) or PNG (89 'PNG' 0D 0A 1A 0A) from the first bytes; null otherwise. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, n = width * height; p < n; p++) {
    rgb[3 * p] = rgba[4 * p];
    rgb[3 * p + 1] = rgba[4 * p + 1];
    rgb[3 * p + 2] = rgba[4 * p + 2];
  }
  return rgb;
}

/**
 * Refuses, from the header alone, sizes no decoder should start on: a zero side, more than
 * {@link MAX_MEGAPIXELS}, or a longer side over {@link MAX_ASPECT_RATIO} times the shorter.
 */
function checkImageSize({ width, height }: ImageSize, file: string): void {
  const size = `${width}x${height}`;
  if (width === 0 || height === 0) throw new DatasetError(`${file}: image is ${size}: it has no pixels`);
  const megapixels = (width * height) / 1e6;
  if (megapixels > MAX_MEGAPIXELS) {
    throw new DatasetError(
      `${file}: image is ${size} (${megapixels.toFixed(1)} MP), over the limit of ${MAX_MEGAPIXELS} MP`,
    );
  }
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (ratio > MAX_ASPECT_RATIO) {
    throw new DatasetError(
      `${file}: image is ${size}, an aspect ratio of ${ratio.toFixed(1)}:1, over the limit of ${MAX_ASPECT_RATIO}:1`,
    );
  }
}

/**
 * pngjs inflates interlaced image data without a bound (it bounds only non-interlaced data by the image size), so
 * a few KB of deflated zeros behind a 10x10 header could inflate to gigabytes. Inflating once with the bound the
 * header implies refuses such data first; interlaced PNGs are rare enough that the second inflation is cheap.
 */
function checkInterlacedData(bytes: Uint8Array, header: PngHeader, file: string): void {
  const expected = pngInflatedBytes(header);
  try {
    inflateSync(pngImageData(bytes), { maxOutputLength: Math.max(expected, 1) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return; // pngjs reports corrupt data
    throw new DatasetError(
      `${file}: interlaced PNG data inflates to more than the ${expected} bytes a ${header.width}x${header.height} image needs`,
    );
  }
}

/** Decodes a JPEG or PNG file's bytes to RGB; `file` names it in errors. */
export function decodeImage(bytes: Uint8Array, file: string): RawImage {
  const format = detectImageFormat(bytes);
  if (format === null) throw new DatasetError(`${file}: not a JPEG or PNG image (unrecognised first bytes)`);
  try {
    if (format === 'jpeg') {
      checkImageSize(jpegSize(bytes), file);
      const decoded = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxResolutionInMP: MAX_MEGAPIXELS,
        maxMemoryUsageInMB: 1024,
      });
      return { data: decoded.data, height: decoded.height, width: decoded.width, channels: 3 };
    }
    const header = pngHeader(bytes);
    checkImageSize(header, file);
    if (header.interlaced) checkInterlacedData(bytes, header, file);
    const decoded = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return {
      data: rgbaToRgb(decoded.data, decoded.width, decoded.height),
      height: decoded.height,
      width: decoded.width,
      channels: 3,
    };
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError(`${file}: cannot decode ${format.toUpperCase()} (${(error as Error).message})`);
  }
}
