/**
 * The per-sample pipeline shared by the main thread and the decode workers: raw image -> transforms (seeded per
 * sample) -> `ToTensor` + `Normalize` into a batch buffer. One function, so both paths give identical bytes.
 */
import { Rng } from '../nn/init.js';
import { type RawImage, toGrayscale } from './image.js';
import { type Preprocessing, writeNormalized } from './preprocessing.js';
import { applyTransforms, centerCrop, resizeShorter, type TransformOp } from './transforms.js';

/** Everything a worker needs to prepare samples (structured-clone friendly). */
export interface PipelineSpec {
  ops: TransformOp[];
  mean: [number, number, number];
  std: [number, number, number];
  /** Side of the square output. */
  size: number;
}

/** The deterministic evaluation pipeline of `preprocessing` (what eval, predict and calibration apply). */
export function evaluationPipeline(preprocessing: Preprocessing): PipelineSpec {
  const { mean, std, size } = preprocessing;
  return { ops: preprocessing.eval, mean, std, size };
}

/** Transforms `image` with the generator seeded by `seed` and writes it as sample `slot` of `out`. */
export function prepareSample(
  image: RawImage,
  seed: number,
  spec: PipelineSpec,
  out: Float32Array,
  slot: number,
  source: string,
): void {
  const result = applyTransforms(image, spec.ops, new Rng(seed));
  if (result.height !== spec.size || result.width !== spec.size) {
    throw new Error(
      `${source}: transforms produced ${result.height}x${result.width}, expected ${spec.size}x${spec.size} ` +
        "(add a crop to the pipeline, or use images of the dataset's size)",
    );
  }
  writeNormalized(result, spec.mean, spec.std, out, slot);
}

/**
 * Brings any photo to the geometry a dataset's samples have (e.g. 28x28 grayscale for Fashion-MNIST: gray,
 * shorter side resized, center crop) before its evaluation pipeline; images of datasets without one pass as is.
 */
export function toNativeGeometry(image: RawImage, native: Preprocessing['native']): RawImage {
  if (!native) return image;
  let result = native.channels === 1 ? toGrayscale(image) : image;
  if (result.height !== native.height || result.width !== native.width) {
    const side = Math.min(native.height, native.width);
    result = centerCrop(resizeShorter(result, side), side);
  }
  return result;
}
