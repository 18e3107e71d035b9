/**
 * RGB images to PNG or JPEG bytes, with the same pure-JavaScript libraries `decode.ts` reads them with (pngjs,
 * jpeg-js: no native build, see there). The format follows the output file's extension.
 */
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import type { ImageFormat } from './decode.js';
import { type RawImage, toRgb } from './image.js';

/** The format an output path asks for by its extension (.png, .jpg, .jpeg); throws for any other. */
export function imageFormatOfPath(path: string): ImageFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.png') return 'png';
  if (extension === '.jpg' || extension === '.jpeg') return 'jpeg';
  throw new Error(`${path}: cannot tell the image format from "${extension}" (use .png, .jpg or .jpeg)`);
}

/** RGBA copy (alpha 255) of an image, the layout both encoders take. */
function toRgba(image: RawImage): Uint8Array {
  const rgb = toRgb(image).data;
  const pixels = image.width * image.height;
  const rgba = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    rgba[4 * p] = rgb[3 * p];
    rgba[4 * p + 1] = rgb[3 * p + 1];
    rgba[4 * p + 2] = rgb[3 * p + 2];
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

/** PNG (lossless) or JPEG (`quality` 1-100) bytes of an image. */
export function encodeImage(image: RawImage, format: ImageFormat, quality = 90): Uint8Array {
  const { width, height } = image;
  const rgba = toRgba(image);
  if (format === 'jpeg') return jpeg.encode({ data: rgba, width, height }, quality).data;
  const png = new pngjs.PNG({ width, height });
  png.data.set(rgba);
  return pngjs.PNG.sync.write(png);
}
