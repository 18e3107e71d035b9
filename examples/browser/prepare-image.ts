/**
 * A browser image (`ImageData`, RGBA) -> the model input the weights expect: NHWC float32 [1, size, size, 3],
 * prepared with rla-net's own evaluation pipeline, exactly as `rla predict` prepares a decoded file.
 */
import { blankImage, type RawImage, toGrayscale } from '../../src/data/image.js';
import type { Preprocessing } from '../../src/data/preprocessing.js';
import { evaluationPipeline, prepareSample } from '../../src/data/sample-pipeline.js';
import { centerCrop, resizeShorter } from '../../src/data/transforms.js';

/** RGBA canvas pixels -> an 8-bit RGB image (alpha dropped, as PIL's `convert('RGB')` of an opaque image). */
export function rawImageOf(pixels: ImageData): RawImage {
  const image = blankImage(pixels.height, pixels.width, 3);
  for (let i = 0, n = pixels.width * pixels.height; i < n; i++) {
    image.data[3 * i] = pixels.data[4 * i];
    image.data[3 * i + 1] = pixels.data[4 * i + 1];
    image.data[3 * i + 2] = pixels.data[4 * i + 2];
  }
  return image;
}

/** Any photo -> the dataset's sample geometry (e.g. 28x28 gray for Fashion-MNIST), as `rla predict` does. */
function toNativeGeometry(image: RawImage, native: Preprocessing['native']): RawImage {
  if (!native) return image;
  const gray = native.channels === 1 ? toGrayscale(image) : image;
  if (gray.height === native.height && gray.width === native.width) return gray;
  const side = Math.min(native.height, native.width);
  return centerCrop(resizeShorter(gray, side), side);
}

/** The normalised NHWC input of one image and its side length. */
export function prepareInput(
  pixels: ImageData,
  preprocessing: Preprocessing,
): { x: Float32Array; size: number } {
  const spec = evaluationPipeline(preprocessing);
  const x = new Float32Array(spec.size * spec.size * 3);
  prepareSample(toNativeGeometry(rawImageOf(pixels), preprocessing.native), 0, spec, x, 0, 'image');
  return { x, size: spec.size };
}
