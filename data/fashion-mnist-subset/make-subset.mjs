#!/usr/bin/env node
// Regenerates this directory's IDX files from the full Fashion-MNIST (Debian's dataset-fashion-mnist package, or
// the directory given as the first argument): the first TRAIN_PER_CLASS training and TEST_PER_CLASS test images
// of every class, in their original order. Deterministic: the same input gives byte-identical output.
//   node data/fashion-mnist-subset/make-subset.mjs [/usr/share/datasets/fashion-mnist]
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const TRAIN_PER_CLASS = 500;
const TEST_PER_CLASS = 100;
const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const here = dirname(fileURLToPath(import.meta.url));

function readIdx(path) {
  const bytes = gunzipSync(readFileSync(path));
  const ndim = bytes[3];
  const dims = Array.from({ length: ndim }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  return { header: bytes.subarray(0, 4 + 4 * ndim), dims, data: bytes.subarray(4 + 4 * ndim) };
}

function writeIdx(path, magic, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  // mtime 0 in the gzip header keeps the output byte-identical across runs.
  const gz = gzipSync(Buffer.concat([header, data]), { level: 9 });
  gz.writeUInt32LE(0, 4);
  writeFileSync(path, gz);
  return createHash('sha256').update(gz).digest('hex');
}

for (const [split, perClass] of [['train', TRAIN_PER_CLASS], ['t10k', TEST_PER_CLASS]]) {
  const images = readIdx(join(source, `${split}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(source, `${split}-labels-idx1-ubyte.gz`));
  const [, h, w] = images.dims;
  const taken = new Array(10).fill(0);
  const picked = [];
  for (let i = 0; i < labels.dims[0]; i++) {
    const label = labels.data[i];
    if (taken[label] < perClass) {
      taken[label]++;
      picked.push(i);
    }
  }
  const imageData = Buffer.concat(picked.map((i) => images.data.subarray(i * h * w, (i + 1) * h * w)));
  const labelData = Buffer.from(picked.map((i) => labels.data[i]));
  const a = writeIdx(join(here, `${split}-images-idx3-ubyte.gz`), 0x803, [picked.length, h, w], imageData);
  const b = writeIdx(join(here, `${split}-labels-idx1-ubyte.gz`), 0x801, [picked.length], labelData);
  console.log(`${split}: ${picked.length} images (${perClass} per class)\n  ${a}  ${split}-images-idx3-ubyte.gz\n  ${b}  ${split}-labels-idx1-ubyte.gz`);
}
