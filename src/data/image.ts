/**
 * The raw image every loader produces and every transform consumes: 8-bit, HWC interleaved, like a PIL image
 * before torchvision's `ToTensor`. Keeping images uint8 until normalisation makes the transforms match
 * torchvision's PIL path (which rounds after each resampling pass) and keeps worker messages small.
 */

/** An 8-bit image, row-major HWC (channels 1 = grayscale, 3 = RGB). */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** A blank (zero) image of the given geometry. */
export function blankImage(height: number, width: number, channels: 1 | 3): RawImage {
  return { data: new Uint8Array(height * width * channels), height, width, channels };
}

/** Grayscale -> RGB by replicating the channel (what `Image.convert('RGB')` does); RGB is returned as is. */
export function toRgb(image: RawImage): RawImage {
  if (image.channels === 3) return image;
  const out = blankImage(image.height, image.width, 3);
  for (let i = 0, n = image.height * image.width; i < n; i++) {
    const v = image.data[i];
    out.data[3 * i] = v;
    out.data[3 * i + 1] = v;
    out.data[3 * i + 2] = v;
  }
  return out;
}

/** RGB -> grayscale with PIL's `convert('L')` rule, L = (R*299 + G*587 + B*114) / 1000 (rounded). */
export function toGrayscale(image: RawImage): RawImage {
  if (image.channels === 1) return image;
  const out = blankImage(image.height, image.width, 1);
  for (let i = 0, n = image.height * image.width; i < n; i++) {
    const r = image.data[3 * i];
    const g = image.data[3 * i + 1];
    const b = image.data[3 * i + 2];
    // PIL's L24 fixed-point: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16.
    out.data[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return out;
}
