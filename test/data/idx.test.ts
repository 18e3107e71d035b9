import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES } from '../../src/data/class-names.js';
import { DatasetError } from '../../src/data/dataset.js';
import { loadIdxPair, loadMnistStyle, parseIdx } from '../../src/data/idx.js';
import { openDataset } from '../../src/data/sources.js';
import { idxBytes, pixel, tempDir, writeMnist } from './_files.js';

describe('IDX (MNIST / Fashion-MNIST) reader', () => {
  for (const gzip of [false, true]) {
    it(`reads ${gzip ? 'gzip' : 'plain'} files as 28x28 grayscale with labels`, async () => {
      const dir = tempDir();
      writeMnist(dir, 12, 5, gzip);
      const train = await loadMnistStyle(dir, 'train', MNIST_CLASSES);
      const test = await loadMnistStyle(dir, 'test', MNIST_CLASSES);
      assert.equal(train.length, 12);
      assert.equal(test.length, 5);
      assert.equal(train.label(11), 1);
      const image = train.image(3);
      assert.deepEqual([image.height, image.width, image.channels], [28, 28, 1]);
      assert.equal(image.data[5 * 28 + 9], pixel(3, 5, 9, 0));
    });
  }

  it('rejects a wrong magic number, naming the file and both numbers', () => {
    const bytes = idxBytes([2], new Uint8Array([1, 2]));
    bytes[3] = 3;
    assert.throws(
      () => parseIdx(bytes, 'labels.idx', 1),
      (e: Error) =>
        e instanceof DatasetError &&
        /labels\.idx: bad IDX magic number 0x00000803, expected 0x00000801/.test(e.message),
    );
  });

  it('rejects a size that disagrees with the header', () => {
    const bytes = idxBytes([3, 28, 28], new Uint8Array(3 * 784 - 1));
    assert.throws(
      () => parseIdx(bytes, 'imgs', 3),
      /imgs: header says \[3 x 28 x 28\] = 2352 bytes of data but the file holds 2351/,
    );
  });

  it('rejects images/labels count mismatches and labels out of range', async () => {
    const dir = tempDir();
    const images = join(dir, 'i');
    const labels = join(dir, 'l');
    writeFileSync(images, idxBytes([2, 28, 28], new Uint8Array(2 * 784)));
    writeFileSync(labels, idxBytes([3], new Uint8Array([0, 1, 2])));
    await assert.rejects(loadIdxPair(images, labels, MNIST_CLASSES), /3 labels for the 2 images/);
    writeFileSync(labels, idxBytes([2], new Uint8Array([0, 12])));
    await assert.rejects(loadIdxPair(images, labels, MNIST_CLASSES), (e: Error) =>
      e.message.startsWith(`${labels}: label 12 of sample 1`),
    );
  });

  it('names a corrupt gzip file and missing files', async () => {
    const dir = tempDir();
    writeMnist(dir, 2, 2, true);
    const gz = gzipSync(idxBytes([2], new Uint8Array([0, 1])));
    const path = join(dir, 't10k-labels-idx1-ubyte.gz');
    writeFileSync(path, gz.subarray(0, gz.length - 6));
    await assert.rejects(
      loadMnistStyle(dir, 'test', MNIST_CLASSES),
      (e: Error) => e.message.includes(path) && /corrupt gzip/.test(e.message),
    );
    await assert.rejects(
      loadMnistStyle(tempDir(), 'train', MNIST_CLASSES),
      /missing .*train-images-idx3-ubyte or .*train-images-idx3-ubyte\.gz/,
    );
    // Both files are named, images first, however the two lookups finish (CI once saw the labels' alone).
    await assert.rejects(
      loadMnistStyle(tempDir(), 'train', MNIST_CLASSES),
      /missing .*train-images-idx3-ubyte\.gz, and .*train-labels-idx1-ubyte or .*train-labels-idx1-ubyte\.gz$/,
    );
  });

  it('the embedded Fashion-MNIST subset: 5000 train / 1000 test, balanced, 10 named classes', async () => {
    const { train, test, classNames, preprocessing } = await openDataset('fashion-mnist-subset');
    assert.equal(train.length, 5000);
    assert.equal(test.length, 1000);
    assert.deepEqual(classNames, [...FASHION_MNIST_CLASSES]);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < train.length; i++) counts[train.label(i)]++;
    assert.deepEqual(counts, new Array(10).fill(500));
    assert.equal(preprocessing.size, 32);
  });
});
