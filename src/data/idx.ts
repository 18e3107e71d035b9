/**
 * MNIST-family IDX files (http://yann.lecun.com/exdb/mnist/): big-endian header `00 00 <type> <ndim>`, ndim
 * uint32 sizes, then the data. Images are `idx3-ubyte` (magic 0x00000803, N x 28 x 28), labels `idx1-ubyte`
 * (magic 0x00000801, N). Plain and gzip files are read alike (gzip detected by content).
 */
import { join } from 'node:path';
import { numel } from '../util/shape.js';
import { checkLabels, DatasetError, ImageArray } from './dataset.js';
import { firstExisting, readDataFile } from './files.js';

const UNSIGNED_BYTE = 0x08;

/** Parses an unsigned-byte IDX file with `ndim` dimensions; returns its sizes and a view of its data. */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  ndim: number,
): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4)
    throw new DatasetError(`${file}: ${bytes.length} bytes is too short for an IDX header`);
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const expected = (UNSIGNED_BYTE << 8) | ndim;
  if (magic !== expected) {
    throw new DatasetError(
      `${file}: bad IDX magic number 0x${magic.toString(16).padStart(8, '0')}, expected ` +
        `0x${expected.toString(16).padStart(8, '0')} (unsigned bytes, ${ndim} dimension${ndim > 1 ? 's' : ''})`,
    );
  }
  const headerSize = 4 + 4 * ndim;
  if (bytes.length < headerSize) throw new DatasetError(`${file}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = numel(dims);
  if (bytes.length !== headerSize + size) {
    throw new DatasetError(
      `${file}: header says [${dims.join(' x ')}] = ${size} bytes of data but the file holds ${bytes.length - headerSize}`,
    );
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** Reads an images file and a labels file into an {@link ImageArray} (grayscale, HWC with C = 1). */
export async function loadIdxPair(
  imagesFile: string,
  labelsFile: string,
  classNames: readonly string[],
): Promise<ImageArray> {
  const images = parseIdx(await readDataFile(imagesFile), imagesFile, 3);
  const labels = parseIdx(await readDataFile(labelsFile), labelsFile, 1);
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DatasetError(
      `${labelsFile}: ${labels.dims[0]} labels for the ${count} images of ${imagesFile}`,
    );
  }
  checkLabels(labels.data, classNames.length, labelsFile);
  return new ImageArray(images.data, labels.data, height, width, 1, classNames);
}

/** `train-images-idx3-ubyte` (or `.gz`) style file names of a split. */
function splitFiles(dir: string, split: 'train' | 't10k', kind: 'images-idx3' | 'labels-idx1'): string[] {
  const base = join(dir, `${split}-${kind}-ubyte`);
  return [base, `${base}.gz`];
}

/**
 * MNIST or Fashion-MNIST from a directory holding the four standard files (plain or `.gz`).
 * `split`: 'train' (60k in the full sets) or 'test' (the t10k files).
 */
export async function loadMnistStyle(
  dir: string,
  split: 'train' | 'test',
  classNames: readonly string[],
): Promise<ImageArray> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const candidates = (['images-idx3', 'labels-idx1'] as const).map((kind) => splitFiles(dir, prefix, kind));
  const [images, labels] = await Promise.all(candidates.map(firstExisting));
  // Every missing file, images first, whichever lookup finished first.
  const missing = candidates.filter((_, i) => ![images, labels][i]).map((c) => c.join(' or '));
  if (!images || !labels) throw new DatasetError(`${dir}: missing ${missing.join(', and ')}`);
  return loadIdxPair(images, labels, classNames);
}
