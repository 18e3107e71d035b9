/** PNG files of RawImages (pngjs): what `rla plot` and `rla visualize` write. */
import pngjs from 'pngjs';
import type { RawImage } from '../data/image.js';
import { toRgb } from '../data/image.js';

/** PNG bytes of an 8-bit grayscale or RGB image (written as opaque RGBA). */
export function encodePng(image: RawImage): Uint8Array {
  const rgb = toRgb(image);
  const png = new pngjs.PNG({ width: rgb.width, height: rgb.height });
  for (let i = 0, n = rgb.width * rgb.height; i < n; i++) {
    png.data[4 * i] = rgb.data[3 * i];
    png.data[4 * i + 1] = rgb.data[3 * i + 1];
    png.data[4 * i + 2] = rgb.data[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  const bytes = pngjs.PNG.sync.write(png);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
