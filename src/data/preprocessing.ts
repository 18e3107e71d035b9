/**
 * What turns a dataset's raw images into model input: the train and eval transform lists, the per-channel
 * normalisation (`ToTensor` + `Normalize`), and the final side length. One `Preprocessing` per dataset family;
 * it is stored in weight files written by `rla train` so `rla eval` / `rla predict` prepare images identically.
 */
import type { RawImage } from './image.js';
import type { TransformOp } from './transforms.js';

/** Train/eval transforms, normalisation and input size of a dataset family. */
export interface Preprocessing {
  /** Transforms of training samples (augmentation). */
  train: TransformOp[];
  /** Transforms of evaluation samples (deterministic). */
  eval: TransformOp[];
  /** Per-channel mean and std of `ToTensor()` values (0..1), RGB order. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Side of the square model input produced by both transform lists. */
  size: number;
  /** Native sample geometry of the dataset (null when images vary, like ImageFolder). */
  native: { height: number; width: number; channels: 1 | 3 } | null;
}

/**
 * Largest model input side a preprocessing may produce (the paper trains at 224 and tests up to 320). A bound,
 * because stored preprocessing comes from files: a size of 4096 made every batch cost gigabytes and minutes.
 */
export const MAX_INPUT_SIDE = 1024;

/** ImageNet channel statistics (torchvision's), RGB, for 0..1 pixel values. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
/** CIFAR-10 training-set channel statistics (the values most CIFAR recipes use). */
export const CIFAR10_MEAN: [number, number, number] = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD: [number, number, number] = [0.247, 0.2435, 0.2616];
/** CIFAR-100 training-set channel statistics. */
export const CIFAR100_MEAN: [number, number, number] = [0.5071, 0.4865, 0.4409];
export const CIFAR100_STD: [number, number, number] = [0.2673, 0.2564, 0.2762];
/** Fashion-MNIST training-set statistics (gray, replicated to RGB). */
export const FASHION_MNIST_MEAN: [number, number, number] = [0.286, 0.286, 0.286];
export const FASHION_MNIST_STD: [number, number, number] = [0.353, 0.353, 0.353];
/** MNIST training-set statistics (gray, replicated to RGB). */
export const MNIST_MEAN: [number, number, number] = [0.1307, 0.1307, 0.1307];
export const MNIST_STD: [number, number, number] = [0.3081, 0.3081, 0.3081];

/** CIFAR (paper §4.1): 4-pixel zero pad + random 32x32 crop + horizontal flip; evaluation as is. */
export function cifarPreprocessing(mean = CIFAR10_MEAN, std = CIFAR10_STD): Preprocessing {
  return {
    train: [
      { op: 'randomCrop', size: 32, padding: 4 },
      { op: 'randomHorizontalFlip', p: 0.5 },
    ],
    eval: [],
    mean,
    std,
    size: 32,
    native: { height: 32, width: 32, channels: 3 },
  };
}

/**
 * 28x28 MNIST-style digits/clothes: zero-pad to 32 (the RLA-ResNets need ceil(side/4) divisible by 8), then the
 * CIFAR augmentation. Horizontal flips suit Fashion-MNIST; pass `flip = false` for digits.
 */
export function mnistPreprocessing(
  mean = FASHION_MNIST_MEAN,
  std = FASHION_MNIST_STD,
  flip = true,
): Preprocessing {
  const train: TransformOp[] = [
    { op: 'pad', padding: 2 },
    { op: 'randomCrop', size: 32, padding: 4 },
  ];
  if (flip) train.push({ op: 'randomHorizontalFlip', p: 0.5 });
  return {
    train,
    eval: [{ op: 'pad', padding: 2 }],
    mean,
    std,
    size: 32,
    native: { height: 28, width: 28, channels: 1 },
  };
}

/** ImageNet (official train.py): RandomResizedCrop 224 + flip; evaluation resize 256 + center crop 224. */
export function imagenetPreprocessing(size = 224, resize = Math.round((size * 256) / 224)): Preprocessing {
  return {
    train: [
      { op: 'randomResizedCrop', size, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
      { op: 'randomHorizontalFlip', p: 0.5 },
    ],
    eval: [
      { op: 'resize', size: resize },
      { op: 'centerCrop', size },
    ],
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    size,
    native: null,
  };
}

/**
 * `ToTensor()` + `Normalize(mean, std)` of one image into `out` at sample `index` (NHWC float32, 3 channels;
 * grayscale is replicated into R, G and B so every model sees RGB input).
 */
export function writeNormalized(
  image: RawImage,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array,
  index: number,
): void {
  const pixels = image.height * image.width;
  const base = index * pixels * 3;
  if (base + pixels * 3 > out.length) {
    throw new Error(`sample ${index} (${image.height}x${image.width}) does not fit the batch buffer`);
  }
  // float32 at every step, like ToTensor's `div(255)` and Normalize's `sub_(mean).div_(std)`.
  const f = Math.fround;
  const m = [f(mean[0]), f(mean[1]), f(mean[2])];
  const s = [f(std[0]), f(std[1]), f(std[2])];
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const v = image.data[image.channels === 3 ? 3 * p + c : p];
      out[base + 3 * p + c] = f(f(f(v / 255) - m[c]) / s[c]);
    }
  }
}
