import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFileOptions } from '../../src/checkpoint/option-bounds.js';
import { readStateDict } from '../../src/checkpoint/state-dict-source.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import { Rng } from '../../src/nn/init.js';
import { trainedModelInfo } from '../../src/train/trained-model-info.js';
import { WeightsFormatError } from '../../src/weights/errors.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';

const OPTIONS = JSON.stringify({ layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4, numClasses: 10 });
const PREPROCESSING = JSON.stringify(cifarPreprocessing());

/** `check` must either pass or throw a WeightsFormatError whose message starts with `name`. */
function expectNamedFailure(name: string, check: () => unknown): boolean {
  try {
    check();
    return false;
  } catch (error) {
    assert.ok(
      error instanceof WeightsFormatError,
      `${name}: ${(error as Error).name}: ${(error as Error).message}`,
    );
    assert.ok(error.message.startsWith(`${name}: `), `the error names the input: ${error.message}`);
    return true;
  }
}

describe('fuzzing safetensors headers and metadata: failures are named format errors, never raw exceptions', () => {
  it('damaged headers (bit flips, cuts, forged lengths) of a small weights file', () => {
    const original = writeSafetensors(
      [
        ['fc.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
        ['fc.bias', { dtype: 'F16', shape: [2], data: new Uint16Array(2) }],
        ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array(1) }],
      ],
      { format: 'rla-net', model: 'rla_resnet50', options: OPTIONS, preprocessing: PREPROCESSING },
    );
    const headerEnd = 8 + Number(new DataView(original.buffer).getBigUint64(0, true));
    const rng = new Rng(18);
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      let bytes = original.slice();
      const kind = i % 4;
      if (kind === 0) {
        for (let j = 0, n = 1 + (rng.nextUint32() % 4); j < n; j++)
          bytes[8 + (rng.nextUint32() % (headerEnd - 8))] ^= 1 << (rng.nextUint32() % 8);
      } else if (kind === 1) {
        bytes = bytes.subarray(0, rng.nextUint32() % bytes.length);
      } else if (kind === 2) {
        new DataView(bytes.buffer).setUint32(rng.nextUint32() % 2 ? 0 : 4, rng.nextUint32(), true);
      } else {
        // Digits in the header become other digits: shapes, offsets and sizes change but stay JSON.
        const digits = [...bytes.subarray(8, headerEnd).keys()].filter(
          (k) => bytes[8 + k] >= 0x30 && bytes[8 + k] <= 0x39,
        );
        for (let j = 0; j < 2; j++)
          bytes[8 + digits[rng.nextUint32() % digits.length]] = 0x30 + (rng.nextUint32() % 10);
      }
      const name = `mutant-${i}.safetensors`;
      if (expectNamedFailure(name, () => readStateDict(bytes, { fileName: name }))) rejected++;
    }
    assert.ok(rejected > 250, `most mutants are rejected (${rejected} of 400)`);
  });

  it('damaged __metadata__ options and preprocessing JSON', () => {
    const alphabet = '0123456789-.,:[]{}"e ntulfa\\';
    const rng = new Rng(2021);
    const mutate = (text: string) => {
      const chars = [...text];
      for (let j = 0, n = 1 + (rng.nextUint32() % 3); j < n; j++)
        chars[rng.nextUint32() % chars.length] = alphabet[rng.nextUint32() % alphabet.length];
      return chars.join('');
    };
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const name = `mutant-${i}.safetensors`;
      if (expectNamedFailure(name, () => parseFileOptions(mutate(OPTIONS), name))) rejected++;
      const metadata = { preprocessing: mutate(PREPROCESSING), classes: mutate('["cat","dog"]') };
      if (expectNamedFailure(name, () => trainedModelInfo(metadata, name))) rejected++;
    }
    assert.ok(rejected > 200, `most mutants are rejected (${rejected} of 600)`);
  });
});
