import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCifarRecords } from '../../src/data/cifar.js';
import { DatasetError } from '../../src/data/dataset.js';
import { decodeImage } from '../../src/data/decode.js';
import { parseIdx } from '../../src/data/idx.js';
import { Rng } from '../../src/nn/init.js';
import { cifarRecords, idxBytes, jpegBytes, patternRgb, pngBytes } from './_files.js';

/** A damaged copy of `original`: flipped bits, a cut, or random bytes written over its first 64 bytes (headers). */
function mutant(original: Uint8Array, rng: Rng, i: number): Uint8Array {
  const bytes = original.slice();
  switch (i % 3) {
    case 0:
      for (let j = 0, n = 1 + (rng.nextUint32() % 8); j < n; j++)
        bytes[rng.nextUint32() % bytes.length] ^= 1 << (rng.nextUint32() % 8);
      return bytes;
    case 1:
      return bytes.subarray(0, rng.nextUint32() % bytes.length);
    default:
      for (let j = 0; j < 4; j++)
        bytes[rng.nextUint32() % Math.min(64, bytes.length)] = rng.nextUint32() & 0xff;
      return bytes;
  }
}

/** `parse` on 200 seeded mutants: each either succeeds or fails with a DatasetError naming its input. */
function fuzz(
  original: Uint8Array,
  seed: number,
  parse: (bytes: Uint8Array, name: string) => unknown,
): number {
  const rng = new Rng(seed);
  let rejected = 0;
  for (let i = 0; i < 200; i++) {
    const name = `mutant-${seed}-${i}`;
    try {
      parse(mutant(original, rng, i), name);
    } catch (error) {
      assert.ok(
        error instanceof DatasetError,
        `${name}: ${(error as Error).name}: ${(error as Error).message}`,
      );
      assert.match(error.message, new RegExp(`^${name}(\\.png|\\.jpg)?: `), 'the error names the input');
      rejected++;
    }
  }
  return rejected;
}

describe('fuzzing the data decoders: damaged files fail with a DatasetError naming the file, never a raw exception', () => {
  it('PNG', () => {
    const png = pngBytes(patternRgb(3, 12, 10), 12, 10);
    assert.ok(fuzz(png, 1, (bytes, name) => decodeImage(bytes, `${name}.png`)) > 100);
  });

  it('JPEG', () => {
    const jpg = jpegBytes(patternRgb(4, 16, 16), 16, 16);
    assert.ok(fuzz(jpg, 2, (bytes, name) => decodeImage(bytes, `${name}.jpg`)) > 50);
  });

  it('IDX and CIFAR records', () => {
    const idx = idxBytes([3, 4, 4], patternRgb(5, 4, 4));
    assert.ok(fuzz(idx, 3, (bytes, name) => parseIdx(bytes, name, 3)) > 100);
    const cifar = cifarRecords([[1], [2]]);
    fuzz(cifar, 4, (bytes, name) => parseCifarRecords(bytes, name, 1, 0, 10));
  });
});
