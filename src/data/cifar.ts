/**
 * CIFAR-10 / CIFAR-100 "binary version" readers (https://www.cs.toronto.edu/~kriz/cifar.html).
 * CIFAR-10 records: 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32, row-major) in `data_batch_1..5.bin`
 * and `test_batch.bin`; CIFAR-100 records: coarse label byte + fine label byte + 3072 pixel bytes in `train.bin`
 * and `test.bin`. Planes are converted to the HWC layout of {@link RawImage}.
 */
import { join } from 'node:path';
import { CIFAR10_CLASSES } from './class-names.js';
import { checkLabels, DatasetError, ImageArray } from './dataset.js';
import { readDataFile, readNameList } from './files.js';

const PIXELS = 32 * 32;
const IMAGE_BYTES = 3 * PIXELS;

/** `train` = the 50k training images, `test` = the 10k test images. */
export type CifarSplit = 'train' | 'test';

/**
 * Parses CIFAR binary records. `labelBytes` is 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine); `labelIndex` picks
 * which label byte to use. Every label is checked against `numClasses`.
 */
export function parseCifarRecords(
  bytes: Uint8Array,
  file: string,
  labelBytes: 1 | 2,
  labelIndex: 0 | 1,
  numClasses: number,
): { images: Uint8Array; labels: Uint8Array } {
  const recordSize = labelBytes + IMAGE_BYTES;
  if (bytes.length === 0 || bytes.length % recordSize !== 0) {
    throw new DatasetError(
      `${file}: ${bytes.length} bytes is not a whole number of ${recordSize}-byte CIFAR records ` +
        `(truncated, or not a CIFAR-${labelBytes === 1 ? '10' : '100'} binary file?)`,
    );
  }
  const count = bytes.length / recordSize;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const record = n * recordSize;
    labels[n] = bytes[record + labelIndex];
    const pixels = record + labelBytes;
    const out = n * IMAGE_BYTES;
    for (let p = 0; p < PIXELS; p++) {
      images[out + 3 * p] = bytes[pixels + p];
      images[out + 3 * p + 1] = bytes[pixels + PIXELS + p];
      images[out + 3 * p + 2] = bytes[pixels + 2 * PIXELS + p];
    }
  }
  checkLabels(labels, numClasses, file);
  return { images, labels };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** CIFAR-10 from a `cifar-10-batches-bin` directory: train = data_batch_1..5.bin, test = test_batch.bin. */
export async function loadCifar10(dir: string, split: CifarSplit): Promise<ImageArray> {
  const files = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const images: Uint8Array[] = [];
  const labels: Uint8Array[] = [];
  for (const name of files) {
    const path = join(dir, name);
    const parsed = parseCifarRecords(await readDataFile(path), path, 1, 0, 10);
    images.push(parsed.images);
    labels.push(parsed.labels);
  }
  const names = (await readNameList(join(dir, 'batches.meta.txt'))) ?? [...CIFAR10_CLASSES];
  if (names.length !== 10)
    throw new DatasetError(`${join(dir, 'batches.meta.txt')}: expected 10 class names, got ${names.length}`);
  return new ImageArray(concat(images), concat(labels), 32, 32, 3, names);
}

/** CIFAR-100 from a `cifar-100-binary` directory (`train.bin` / `test.bin`), fine (100) or coarse (20) labels. */
export async function loadCifar100(
  dir: string,
  split: CifarSplit,
  labels: 'fine' | 'coarse' = 'fine',
): Promise<ImageArray> {
  const path = join(dir, `${split}.bin`);
  const numClasses = labels === 'fine' ? 100 : 20;
  const parsed = parseCifarRecords(await readDataFile(path), path, 2, labels === 'fine' ? 1 : 0, numClasses);
  const namesFile = join(dir, `${labels}_label_names.txt`);
  const names = (await readNameList(namesFile)) ?? Array.from({ length: numClasses }, (_, i) => `class_${i}`);
  if (names.length !== numClasses)
    throw new DatasetError(`${namesFile}: expected ${numClasses} class names, got ${names.length}`);
  return new ImageArray(parsed.images, parsed.labels, 32, 32, 3, names);
}
