/** Writers of small dataset files in the real on-disk formats, for the data tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

/** A fresh temporary directory. */
export function tempDir(prefix = 'rla-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deterministic pixel value of image `n` at (y, x, channel c). */
export function pixel(n: number, y: number, x: number, c: number): number {
  return (n * 37 + y * 11 + x * 5 + c * 71) % 256;
}

/** CIFAR binary records (planar RGB). `labels[n]` is an array of label bytes (1 for CIFAR-10, 2 for CIFAR-100). */
export function cifarRecords(labels: number[][], first = 0): Uint8Array {
  const labelBytes = labels[0]?.length ?? 1;
  const size = labelBytes + 3072;
  const bytes = new Uint8Array(labels.length * size);
  labels.forEach((label, k) => {
    const n = first + k;
    bytes.set(label, k * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) bytes[k * size + labelBytes + c * 1024 + y * 32 + x] = pixel(n, y, x, c);
      }
    }
  });
  return bytes;
}

/** A CIFAR-10 directory: 5 train batches of `perBatch` images and a test batch of `test` images (labels n % 10). */
export function writeCifar10(dir: string, perBatch = 2, test = 3): void {
  mkdirSync(dir, { recursive: true });
  for (let b = 1; b <= 5; b++) {
    const first = (b - 1) * perBatch;
    const labels = Array.from({ length: perBatch }, (_, k) => [(first + k) % 10]);
    writeFileSync(join(dir, `data_batch_${b}.bin`), cifarRecords(labels, first));
  }
  writeFileSync(
    join(dir, 'test_batch.bin'),
    cifarRecords(
      Array.from({ length: test }, (_, k) => [k % 10]),
      1000,
    ),
  );
}

/** An IDX file (unsigned bytes) with the given dims. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x800 | dims.length, false);
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d, false);
  });
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** MNIST-style files for `train` and `test` counts of 28x28 images (labels n % 10), gzip or plain. */
export function writeMnist(dir: string, train: number, test: number, gzip: boolean): void {
  mkdirSync(dir, { recursive: true });
  for (const [prefix, count] of [
    ['train', train],
    ['t10k', test],
  ] as const) {
    const images = new Uint8Array(count * 784);
    for (let n = 0; n < count; n++) {
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) images[n * 784 + y * 28 + x] = pixel(n, y, x, 0);
    }
    const labels = Uint8Array.from({ length: count }, (_, n) => n % 10);
    const write = (name: string, bytes: Uint8Array) =>
      writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
    write(`${prefix}-images-idx3-ubyte`, idxBytes([count, 28, 28], images));
    write(`${prefix}-labels-idx1-ubyte`, idxBytes([count], labels));
  }
}

/** RGB test image of size h x w with the deterministic pattern of image n. */
export function patternRgb(n: number, height: number, width: number): Uint8Array {
  const rgb = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = pixel(n, y, x, c);
  }
  return rgb;
}

/** PNG bytes of an RGB image (pngjs). */
export function pngBytes(rgb: Uint8Array, height: number, width: number): Uint8Array {
  const png = new pngjs.PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    png.data[4 * p] = rgb[3 * p];
    png.data[4 * p + 1] = rgb[3 * p + 1];
    png.data[4 * p + 2] = rgb[3 * p + 2];
    png.data[4 * p + 3] = 255;
  }
  return pngjs.PNG.sync.write(png);
}

/** JPEG bytes of an RGB image (jpeg-js, quality 95). */
export function jpegBytes(rgb: Uint8Array, height: number, width: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p);
    rgba[4 * p + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width, height }, 95).data;
}
