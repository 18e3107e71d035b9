/**
 * Datasets of labelled images. Two kinds: arrays held in memory (CIFAR, MNIST: tiny fixed-size images, decoded
 * once) and file lists (ImageFolder: decoded per sample, in worker threads). Loaders validate files and throw
 * {@link DatasetError}s that name the file at fault.
 */
import { Rng } from '../nn/init.js';
import type { RawImage } from './image.js';
import { permutation } from './seeding.js';

/** A dataset file is missing, truncated or inconsistent; the message names the file. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

interface DatasetBase {
  readonly length: number;
  /** Class names, index = label. */
  readonly classNames: readonly string[];
  /** Label of sample `index`. */
  label(index: number): number;
}

/** Fixed-size images held in memory. */
export interface ArrayDataset extends DatasetBase {
  readonly kind: 'array';
  /** Sample `index` (a view into the dataset's storage: do not modify). */
  image(index: number): RawImage;
}

/** Images stored as files, decoded on demand. */
export interface FileDataset extends DatasetBase {
  readonly kind: 'files';
  /** Path of sample `index`. */
  file(index: number): string;
}

/** Any dataset a {@link DataLoader} can read. */
export type ImageDataset = ArrayDataset | FileDataset;

/** N same-sized images in one buffer (N*H*W*C bytes, HWC per image) with their labels. */
export class ImageArray implements ArrayDataset {
  readonly kind = 'array';
  readonly length: number;

  constructor(
    readonly images: Uint8Array,
    readonly labels: Uint8Array | Int32Array,
    readonly height: number,
    readonly width: number,
    readonly channels: 1 | 3,
    readonly classNames: readonly string[],
  ) {
    this.length = labels.length;
    if (images.length !== this.length * height * width * channels) {
      throw new Error(
        `ImageArray: ${images.length} bytes for ${this.length} images of ${height}x${width}x${channels}`,
      );
    }
  }

  label(index: number): number {
    return this.labels[index];
  }

  image(index: number): RawImage {
    const size = this.height * this.width * this.channels;
    return {
      data: this.images.subarray(index * size, (index + 1) * size),
      height: this.height,
      width: this.width,
      channels: this.channels,
    };
  }
}

/** The samples of `dataset` at `indices`, in that order (like `torch.utils.data.Subset`). */
export function subset<D extends ImageDataset>(dataset: D, indices: ArrayLike<number>): D {
  const picked = Int32Array.from(indices as ArrayLike<number>);
  for (const i of picked) {
    if (i < 0 || i >= dataset.length)
      throw new RangeError(`subset index ${i} outside 0..${dataset.length - 1}`);
  }
  const base = {
    kind: dataset.kind,
    length: picked.length,
    classNames: dataset.classNames,
    label: (index: number) => dataset.label(picked[index]),
  };
  if (dataset.kind === 'array')
    return { ...base, image: (index: number) => dataset.image(picked[index]) } as D;
  return { ...base, file: (index: number) => dataset.file(picked[index]) } as D;
}

/** The first `count` samples of `dataset` (all of it when `count` is undefined or larger). */
export function firstSamples<D extends ImageDataset>(dataset: D, count: number | undefined): D {
  if (count === undefined || count >= dataset.length) return dataset;
  return subset(
    dataset,
    Int32Array.from({ length: count }, (_, i) => i),
  );
}

/**
 * The paper's CIFAR protocol (45k train / 5k validation out of the 50k training images): a seeded random
 * permutation; the last `valSize` indices form the validation split.
 */
export function trainValSplit(
  length: number,
  valSize: number,
  seed: number,
): { train: Int32Array; val: Int32Array } {
  if (!Number.isInteger(valSize) || valSize < 0 || valSize >= length) {
    throw new RangeError(`validation size must be an integer in 0..${length - 1}, got ${valSize}`);
  }
  const order = permutation(length, new Rng(seed));
  return { train: order.slice(0, length - valSize), val: order.slice(length - valSize) };
}

/** Checks every label lies in [0, numClasses); `source` names the file in the error. */
export function checkLabels(labels: ArrayLike<number>, numClasses: number, source: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < numClasses)) {
      throw new DatasetError(`${source}: label ${labels[i]} of sample ${i} is outside 0..${numClasses - 1}`);
    }
  }
}
