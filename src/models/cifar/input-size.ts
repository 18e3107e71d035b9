/**
 * Input-size rule of the CIFAR models. In RLA models h is pooled with floor (AvgPool 2x2) while the main path
 * downsamples with ceil (padded stride-2 convs and max-pools), so every side must stay even through each
 * downsampling, i.e. be a multiple of 2^(number of downsamplings); the baselines accept any size.
 */
import { checkEachSide } from '../input-size.js';

/** Throws a clear error unless height and width are multiples of `factor` and at least `minimum`. */
export function checkCifarInputSize(
  model: string,
  height: number,
  width: number,
  factor: number,
  minimum = factor,
): void {
  checkEachSide(
    height,
    width,
    (size) => size >= minimum && size % factor === 0,
    (axis, size) => {
      const below = Math.max(minimum, Math.floor(size / factor) * factor);
      const above = Math.max(minimum, Math.ceil(size / factor) * factor);
      const near = below === above ? `${below}` : `${below} or ${above}`;
      return (
        `input ${axis} ${size} is not supported by ${model}: it must be a multiple of ${factor}` +
        (minimum > factor ? ` and at least ${minimum}` : '') +
        (factor > 1 ? ' (h is pooled with floor while x is downsampled with ceil)' : '') +
        `; nearest: ${near}, e.g. 32 for CIFAR`
      );
    },
  );
}
