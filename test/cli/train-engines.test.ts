/**
 * The training engines through the command line: an ONNX Runtime run stopped after one epoch and resumed ends
 * bit-identical to an uninterrupted one (weights, BN statistics, momentum buffers, metrics); checkpoints cross
 * engines in both directions (ort -> tfjs and tfjs -> ort) and the run log names the engine.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { readTrainingCheckpoint } from '../../src/train/training-checkpoint.js';
import { tempDir, writeCifar10 } from '../data/_files.js';

const TINY = JSON.stringify({ layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4 });

async function rla(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

describe('rla train --engine ort | tfjs', () => {
  const data = tempDir('rla-cifar-');
  const runs = tempDir('rla-runs-');
  const trainArgs = [
    '--dataset',
    'cifar10',
    '--data',
    data,
    '--model',
    'rla_resnet50',
    '--options',
    TINY,
    '--batch-size',
    '4',
    '--eval-batch-size',
    '8',
    '--val-size',
    '4',
    '--lr',
    '0.05',
    // Constant: a schedule over the run's length (cosine) differs between a 1-epoch and a 2-epoch run.
    '--schedule',
    'constant',
    '--backend',
    'wasm',
  ];

  before(() => {
    writeCifar10(data, 4, 6);
  });

  it('an ort run resumed after one epoch ends bit-identical to an uninterrupted one', async () => {
    const whole = join(runs, 'whole');
    const split = join(runs, 'split');
    const first = await rla('train', ...trainArgs, '--engine', 'ort', '--epochs', '2', '--out', whole);
    assert.equal(first.code, 0, first.text);
    assert.match(first.text, /engine {4}ort \(onnxruntime-node, \d+ threads\)/);
    assert.equal(
      (await rla('train', ...trainArgs, '--engine', 'ort', '--epochs', '1', '--out', split)).code,
      0,
    );
    const resumed = await rla('train', '--resume', split, '--epochs', '2', '--engine', 'ort');
    assert.equal(resumed.code, 0, resumed.text);
    const a = await readTrainingCheckpoint(join(whole, 'checkpoint.safetensors'));
    const b = await readTrainingCheckpoint(join(split, 'checkpoint.safetensors'));
    assert.deepEqual(b.state.best, a.state.best);
    assert.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
    for (const [key, tensor] of a.tensors) {
      assert.ok(Buffer.from(tensor.data).equals(Buffer.from(b.tensors.get(key)!.data)), `${key} differs`);
    }
    // Momentum buffers are part of the checkpoint: the comparison above covers them.
    assert.ok(
      [...a.tensors.keys()].some((key) => key.startsWith('optimizer.')),
      'momentum saved',
    );
  });

  it('checkpoints cross engines: ort -> tfjs and tfjs -> ort', async () => {
    const fromOrt = join(runs, 'from-ort');
    assert.equal(
      (await rla('train', ...trainArgs, '--engine', 'ort', '--epochs', '1', '--out', fromOrt)).code,
      0,
    );
    const onTfjs = await rla('train', '--resume', fromOrt, '--epochs', '2', '--engine', 'tfjs');
    assert.equal(onTfjs.code, 0, onTfjs.text);
    assert.match(onTfjs.text, /engine {4}tfjs-wasm/);
    assert.match(onTfjs.text, /epoch 2\/2/);
    const fromTfjs = join(runs, 'from-tfjs');
    assert.equal(
      (await rla('train', ...trainArgs, '--engine', 'tfjs', '--epochs', '1', '--out', fromTfjs)).code,
      0,
    );
    const onOrt = await rla('train', '--resume', fromTfjs, '--epochs', '2', '--engine', 'ort');
    assert.equal(onOrt.code, 0, onOrt.text);
    assert.match(onOrt.text, /epoch 2\/2/);
    const state = (await readTrainingCheckpoint(join(fromTfjs, 'checkpoint.safetensors'))).state;
    assert.equal(state.epoch, 2);
  });

  it('refuses an unknown engine, and --workers with the ort engine', async () => {
    assert.equal((await rla('train', '--engine', 'gpu')).code, 2);
    assert.equal((await rla('train', ...trainArgs, '--engine', 'ort', '--workers', '2')).code, 2);
  });
});
