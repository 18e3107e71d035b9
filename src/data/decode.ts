/**
 * JPEG and PNG decoding to {@link RawImage} (RGB, alpha dropped like PIL's `convert('RGB')`, which torchvision's
 * ImageFolder loader calls). Decoders: `jpeg-js` (baseline and progressive JPEG; its decoder comes from Mozilla's
 * pdf.js) and `pngjs` (every PNG colour type and bit depth), both pure JavaScript with no dependencies. Why them:
 * no native build and no binary download at install time (sharp and canvas need one, and this project installs
 * offline), they run unchanged inside worker threads, and jpeg-js caps resolution and memory against hostile
 * files (PNG sizes are checked after decoding).
 */
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { DatasetError } from './dataset.js';
import type { RawImage } from './image.js';

/** Largest accepted image, in megapixels (ImageNet's largest are ~ 20 MP). */
const MAX_MEGAPIXELS = 100;

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

/** Decodes a JPEG or PNG file's bytes to RGB; `file` names it in errors. */
export function decodeImage(bytes: Uint8Array, file: string): RawImage {
  const format = detectImageFormat(bytes);
  if (format === null) throw new DatasetError(`${file}: not a JPEG or PNG image (unrecognised first bytes)`);
  try {
    if (format === 'jpeg') {
      const decoded = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        maxResolutionInMP: MAX_MEGAPIXELS,
        maxMemoryUsageInMB: 1024,
      });
      return { data: decoded.data, height: decoded.height, width: decoded.width, channels: 3 };
    }
    const decoded = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (decoded.width * decoded.height > MAX_MEGAPIXELS * 1e6)
      throw new Error(`image larger than ${MAX_MEGAPIXELS} MP`);
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
