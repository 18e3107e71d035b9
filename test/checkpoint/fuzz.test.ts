import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { Rng } from '../../src/nn/init.js';
import { WeightsFormatError } from '../../src/weights/errors.js';
import { officialBytes, RESNET_FIXTURES } from '../helpers/fixtures.js';

describe('loadCheckpoint on damaged files', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('mutated official checkpoints give a typed error or a clean load, never a crash, hang or leak', () => {
    const { fixture, model: name, options } = RESNET_FIXTURES[1];
    const original = officialBytes(`${fixture}.pth`);
    const model = createModel(name, options);
    const rng = new Rng(2021);
    const started = performance.now();
    const outcomes = { loaded: 0, rejected: 0 };
    const tensorsBefore = tf.memory().numTensors;
    for (let i = 0; i < 60; i++) {
      const bytes = original.slice();
      const kind = i % 3;
      let mutated = bytes;
      if (kind === 0) {
        for (let j = 0; j < 8; j++) bytes[rng.nextUint32() % bytes.length] ^= 1 << (rng.nextUint32() % 8);
      } else if (kind === 1) {
        mutated = bytes.subarray(0, rng.nextUint32() % bytes.length);
      } else {
        // Damage the pickle (stored near the start of the archive) where structure matters most.
        const at = 40 + (rng.nextUint32() % 4000);
        bytes[at] = rng.nextUint32() & 0xff;
      }
      try {
        loadCheckpoint(model, mutated, { fileName: `mutant-${i}.pth` });
        outcomes.loaded++;
      } catch (error) {
        assert.ok(
          error instanceof WeightsFormatError,
          `mutant ${i}: ${(error as Error).constructor.name}: ${(error as Error).message}`,
        );
        assert.match((error as Error).message, new RegExp(`mutant-${i}\\.pth`), 'the error names the file');
        outcomes.rejected++;
      }
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked on any path');
    assert.ok(outcomes.rejected > 20, `most mutants are rejected (${JSON.stringify(outcomes)})`);
    assert.ok(performance.now() - started < 60_000, 'bounded time');
    model.dispose();
  });
});
