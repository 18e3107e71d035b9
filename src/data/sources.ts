/**
 * Datasets by name, with their default locations and preprocessing, for the CLI and the trainer:
 * - `fashion-mnist-subset`: the subset committed in this repository (`data/fashion-mnist-subset/`), no download;
 * - `fashion-mnist`: the full set, from `--data` or Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist);
 * - `mnist`: IDX files in `--data`;
 * - `cifar10` / `cifar100`: the binary versions in `--data` (`cifar-10-batches-bin`, `cifar-100-binary`);
 * - `imagefolder`: `--data` with `train/<class>/...` and `val/<class>/...` (ImageNet layout).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCifar10, loadCifar100 } from './cifar.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES } from './class-names.js';
import { DatasetError, type ImageDataset } from './dataset.js';
import { loadMnistStyle } from './idx.js';
import { loadImageFolder } from './image-folder.js';
import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  CIFAR100_MEAN,
  CIFAR100_STD,
  cifarPreprocessing,
  imagenetPreprocessing,
  MNIST_MEAN,
  MNIST_STD,
  mnistPreprocessing,
  type Preprocessing,
} from './preprocessing.js';

/** Names accepted by {@link openDataset} and `rla train/eval --dataset`. */
export const DATASET_NAMES = [
  'fashion-mnist-subset',
  'fashion-mnist',
  'mnist',
  'cifar10',
  'cifar100',
  'imagefolder',
] as const;
/** One of {@link DATASET_NAMES}. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Where Debian's `dataset-fashion-mnist` package installs the full set. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** The repository root (the directory holding package.json above this module). */
export function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('cannot locate the rla-net package root');
    directory = parent;
  }
  return directory;
}

/** The embedded Fashion-MNIST subset's directory. */
export function embeddedFashionMnistDir(): string {
  return join(packageRoot(), 'data', 'fashion-mnist-subset');
}

/** A dataset's train and test splits with what is needed to prepare them. */
export interface DatasetSplits {
  name: DatasetName;
  /** Directory the data came from. */
  dir: string;
  train: ImageDataset;
  test: ImageDataset;
  classNames: string[];
  preprocessing: Preprocessing;
}

/** Where to read a dataset from and, for ImageFolder, the input size. */
export interface OpenDatasetOptions {
  /** Directory (null/undefined: the dataset's default location, where it has one). */
  data?: string | null;
  /** Model input side for ImageFolder (default 224). */
  imageSize?: number | null;
}

function requireDir(name: string, data: string | null | undefined): string {
  if (!data) throw new DatasetError(`dataset ${name} needs --data <directory>`);
  if (!existsSync(data)) throw new DatasetError(`dataset ${name}: directory ${data} does not exist`);
  return data;
}

/** True for the names in {@link DATASET_NAMES}. */
export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

/** Both splits of dataset `name` in `dir`, loaded in parallel; the class names are the training split's. */
async function loadSplits(
  name: DatasetName,
  dir: string,
  load: (split: 'train' | 'test') => Promise<ImageDataset>,
  preprocessing: Preprocessing,
): Promise<DatasetSplits> {
  const [train, test] = await Promise.all([load('train'), load('test')]);
  return { name, dir, train, test, classNames: [...train.classNames], preprocessing };
}

/** Opens the train and test splits of a dataset by name. */
export async function openDataset(name: string, options: OpenDatasetOptions = {}): Promise<DatasetSplits> {
  if (!isDatasetName(name))
    throw new DatasetError(`unknown dataset "${name}": choose one of ${DATASET_NAMES.join(', ')}`);
  switch (name) {
    case 'fashion-mnist-subset':
    case 'fashion-mnist': {
      const fallback = name === 'fashion-mnist' ? DEBIAN_FASHION_MNIST : embeddedFashionMnistDir();
      const dir = requireDir(name, options.data ?? fallback);
      const classes = [...FASHION_MNIST_CLASSES];
      return loadSplits(name, dir, (split) => loadMnistStyle(dir, split, classes), mnistPreprocessing());
    }
    case 'mnist': {
      const dir = requireDir(name, options.data);
      const classes = [...MNIST_CLASSES];
      // No flips for digits.
      const preprocessing = mnistPreprocessing(MNIST_MEAN, MNIST_STD, false);
      return loadSplits(name, dir, (split) => loadMnistStyle(dir, split, classes), preprocessing);
    }
    case 'cifar10': {
      const dir = requireDir(name, options.data);
      const preprocessing = cifarPreprocessing(CIFAR10_MEAN, CIFAR10_STD);
      return loadSplits(name, dir, (split) => loadCifar10(dir, split), preprocessing);
    }
    case 'cifar100': {
      const dir = requireDir(name, options.data);
      const preprocessing = cifarPreprocessing(CIFAR100_MEAN, CIFAR100_STD);
      return loadSplits(name, dir, (split) => loadCifar100(dir, split), preprocessing);
    }
    case 'imagefolder': {
      const dir = requireDir(name, options.data);
      const [train, test] = await Promise.all([
        loadImageFolder(join(dir, 'train')),
        loadImageFolder(join(dir, 'val')),
      ]);
      if (train.classNames.join('\n') !== test.classNames.join('\n')) {
        throw new DatasetError(`${dir}: train/ and val/ have different class directories`);
      }
      return {
        name,
        dir,
        train,
        test,
        classNames: [...train.classNames],
        preprocessing: imagenetPreprocessing(options.imageSize ?? 224),
      };
    }
  }
}
