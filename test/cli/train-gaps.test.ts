import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { main } from '../../src/cli/main.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { DEFAULT_CONFIG } from '../../src/train/config.js';
import { resolveConfig } from '../../src/train/recipes.js';
import { tempDir, writeCifar10 } from '../data/_files.js';

/** Runs the CLI, collecting stdout lines and stderr messages. */
async function rla(...argv: string[]): Promise<{ code: number; err: string }> {
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (message: unknown) => errors.push(String(message));
  try {
    const code = await main(argv, () => {});
    return { code, err: errors.join('\n') };
  } finally {
    console.error = consoleError;
  }
}

describe('rla train refuses settings that would do nothing or something else than asked', () => {
  const data = tempDir('rla-gaps-');
  const base = ['train', '--dataset', 'cifar10', '--data', data, '--engine', 'tfjs', '--backend', 'cpu'];
  before(async () => {
    await initBackend({ backend: 'cpu' });
    writeCifar10(data, 2, 2);
  });

  it("the demo recipe's model options stay with its model", () => {
    assert.deepEqual(resolveConfig(DEFAULT_CONFIG, 'demo', { model: 'dsrla_mobilenetv2' }).modelOptions, {});
    assert.deepEqual(resolveConfig(DEFAULT_CONFIG, 'demo', {}).modelOptions, {
      layers: [1, 1, 1, 1],
      widthPerGroup: 4,
      rlaChannel: 16,
    });
    const explicit = { widthMult: 0.5 };
    assert.deepEqual(
      resolveConfig(DEFAULT_CONFIG, 'demo', { model: 'dsrla_mobilenetv2', modelOptions: explicit })
        .modelOptions,
      explicit,
    );
  });

  it('--train-limit 1 --val-size 0 trains nothing: a usage error, not exit 0', async () => {
    const { code, err } = await rla(
      ...base,
      '--train-limit',
      '1',
      '--val-size',
      '0',
      '--out',
      join(data, 'run1'),
    );
    assert.equal(code, 2);
    assert.match(err, /nothing to train: 1 training image\(s\) with batch size 32 make no step/);
  });

  it('--image-size with a fixed-size dataset is an error', async () => {
    const { code, err } = await rla(...base, '--image-size', '64', '--out', join(data, 'run2'));
    assert.equal(code, 2);
    assert.match(err, /--image-size only applies to --dataset imagefolder; cifar10 images have a fixed size/);
  });

  it('--min-lr above --lr is an error', async () => {
    const { code, err } = await rla(...base, '--lr', '0.1', '--min-lr', '0.5', '--out', join(data, 'run3'));
    assert.equal(code, 2);
    assert.match(err, /minimum lr \(0\.5\) must not exceed lr \(0\.1\)/);
  });

  it('rla eval --image-size on weights that store their preprocessing is an error', async () => {
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 2,
      rlaChannel: 4,
      seed: 1,
    });
    const weights = join(data, 'best.safetensors');
    writeFileSync(
      weights,
      toSafetensorsBytes(model, identityOf(model), {
        preprocessing: JSON.stringify(cifarPreprocessing()),
        dataset: 'cifar10',
      }),
    );
    model.dispose();
    const { code, err } = await rla('eval', '--weights', weights, '--data', data, '--image-size', '64');
    assert.equal(code, 2);
    assert.match(
      err,
      /--image-size has no effect: .*best\.safetensors stores the preprocessing it was trained with \(input 32x32\)/,
    );
  });
});
