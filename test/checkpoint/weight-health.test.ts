import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { describeWeightProblems, weightProblems } from '../../src/checkpoint/weight-health.js';
import { main } from '../../src/cli/main.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { DEFAULT_CONFIG } from '../../src/train/config.js';
import { SGD } from '../../src/train/sgd.js';
import { readTrainingCheckpoint, trainingCheckpointBytes } from '../../src/train/training-checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { patternRgb, pngBytes, tempDir, writeCifar10 } from '../data/_files.js';

const TINY = { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4 };

/** Sets element 0 of tensor `key` in safetensors `bytes` (in place: the tensors are views of the bytes). */
function poke(bytes: Uint8Array, key: string, value: number): void {
  const tensor = readSafetensors(bytes).tensors.get(key);
  assert.ok(tensor, key);
  new DataView(tensor.data.buffer, tensor.data.byteOffset).setFloat32(0, value, true);
}

/** Runs the CLI, collecting stdout lines and stderr messages. */
async function rla(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (message: unknown) => errors.push(String(message));
  try {
    const code = await main(argv, (line) => lines.push(line));
    return { code, out: lines.join('\n'), err: errors.join('\n') };
  } finally {
    console.error = consoleError;
  }
}

describe('non-finite weights and negative BatchNorm variances', () => {
  it('are found by key, and listed with a bound', () => {
    const problems = weightProblems([
      ['fc.bias', Float32Array.of(1, Number.POSITIVE_INFINITY)],
      ['fc.weight', Float32Array.of(Number.NaN)],
      ['bn1.running_var', Float32Array.of(1, -0.5)],
      ['bn1.bias', Float32Array.of(-1)],
      ['bn2.running_var', Float32Array.of(0, 2)],
    ]);
    assert.deepEqual(problems, {
      nonFinite: ['fc.bias', 'fc.weight'],
      negativeVariance: ['bn1.running_var'],
    });
    const many = weightProblems(
      Array.from({ length: 300 }, (_, i) => [`k${i}`, Float32Array.of(Number.NaN)] as const),
    );
    assert.equal(describeWeightProblems(many), 'NaN/Inf values in k0, k1, k2, k3, k4, ... (300 in all)');
  });

  describe('on load in rla run, eval, export-onnx and predict: a warning, or a refusal with --strict-finite', () => {
    const dir = tempDir('rla-finite-');
    const data = join(dir, 'cifar');
    const weights = join(dir, 'bad.safetensors');
    const image = join(dir, 'photo.png');
    const input = join(dir, 'input.safetensors');
    let varianceKey = '';

    before(async () => {
      await initBackend({ backend: 'cpu' });
      writeCifar10(data, 1, 2);
      writeFileSync(image, pngBytes(patternRgb(1, 32, 32), 32, 32));
      writeFileSync(
        input,
        writeSafetensors([['input', { dtype: 'F32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }]]),
      );
      const model = createModel('rla_resnet50', { ...TINY, numClasses: 10, seed: 1 });
      const bytes = toSafetensorsBytes(model, identityOf(model), {
        preprocessing: JSON.stringify(cifarPreprocessing()),
        classes: JSON.stringify(Array.from({ length: 10 }, (_, i) => `c${i}`)),
        dataset: 'cifar10',
      });
      model.dispose();
      varianceKey = [...readSafetensors(bytes).tensors.keys()].find((k) => k.endsWith('.running_var'))!;
      poke(bytes, 'fc.bias', Number.POSITIVE_INFINITY);
      poke(bytes, varianceKey, -1);
      writeFileSync(weights, bytes);
    });

    const commands: Array<[string, () => string[]]> = [
      [
        'run',
        () => [
          'run',
          '--weights',
          weights,
          '--input',
          input,
          '-o',
          join(dir, 'out.safetensors'),
          '--backend',
          'cpu',
        ],
      ],
      ['eval', () => ['eval', '--weights', weights, '--data', data, '--backend', 'cpu']],
      ['export-onnx', () => ['export-onnx', '--weights', weights, '-o', join(dir, 'model.onnx')]],
      ['predict', () => ['predict', image, '--weights', weights, '--backend', 'cpu']],
    ];
    for (const [name, argv] of commands) {
      it(`rla ${name}`, async () => {
        const warned = await rla(...argv());
        assert.equal(warned.code, 0, warned.err);
        assert.equal(
          warned.err,
          `warning: ${weights}: NaN/Inf values in fc.bias; negative BatchNorm running_var in ${varianceKey}; ` +
            'outputs will not be meaningful (--strict-finite refuses such files)',
        );
        const refused = await rla(...argv(), '--strict-finite');
        assert.equal(refused.code, 1);
        assert.match(
          refused.err,
          new RegExp(
            `^rla ${name}: .*bad\\.safetensors: NaN/Inf values in fc\\.bias; .*\\(refused: --strict-finite\\)$`,
          ),
        );
      });
    }
  });

  it('resume refuses a training checkpoint holding them, naming the file and the key', async () => {
    const runDir = tempDir('rla-finite-run-');
    const model = createModel('rla_resnet50', { ...TINY, numClasses: 2, seed: 1 });
    const optimizer = new SGD(model.parameters(), {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 0,
      nesterov: false,
    });
    const config = { ...DEFAULT_CONFIG, modelOptions: TINY, dataset: 'cifar10' };
    const sums = { lossSum: 0, correct1: 0, correct5: 0, count: 0, seconds: 0 };
    const state = { version: 1, config, epoch: 1, batch: 0, sums, best: null, classNames: ['a', 'b'] };
    const bytes = trainingCheckpointBytes(model, optimizer, state);
    model.dispose();
    optimizer.dispose();
    const path = join(runDir, 'checkpoint.safetensors');
    writeFileSync(path, bytes);
    assert.equal((await readTrainingCheckpoint(path)).state.epoch, 1, 'the healthy checkpoint reads');
    poke(bytes, 'model.fc.bias', Number.NaN);
    writeFileSync(path, bytes);
    await assert.rejects(
      readTrainingCheckpoint(path),
      new RegExp(
        `^NonFiniteWeightsError: ${path.replace(/[.]/g, '\\.')}: cannot resume from unusable weights: NaN/Inf values in fc\\.bias$`,
      ),
    );
    const resumed = await rla('train', '--resume', runDir, '--engine', 'tfjs');
    assert.equal(resumed.code, 1);
    assert.match(resumed.err, /cannot resume from unusable weights: NaN\/Inf values in fc\.bias/);
  });
});
