import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import {
  EMPTY_SUMS,
  NonFiniteWeightsError,
  readTrainingCheckpoint,
  restoreTraining,
  saveTrainingCheckpoint,
  TRAINING_FORMAT_VERSION,
  type TrainingState,
} from '../../src/train/training-checkpoint.js';
import { snapshot, tempRunDir, tinyConfig, tinyModel, tinySgd } from './_tiny.js';

function state(epoch: number): TrainingState {
  return {
    version: TRAINING_FORMAT_VERSION,
    config: tinyConfig(),
    epoch,
    batch: 2,
    sums: { ...EMPTY_SUMS, lossSum: 1.25, count: 8 },
    best: { top1: 0.5, epoch },
    classNames: ['a', 'b', 'c', 'd'],
  };
}

const disposables: Array<{ dispose(): void }> = [];
after(() => {
  for (const d of disposables) d.dispose();
});

describe('training checkpoints', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('round-trips model tensors (incl. int BN counters), momentum buffers and state exactly', async () => {
    const config = tinyConfig();
    const model = tinyModel(1);
    const optimizer = tinySgd(model, config);
    disposables.push(model, optimizer);
    // Give every parameter a momentum buffer and change BN statistics, as training would.
    const grads = new Map(model.parameters().map((p) => [p, tf.randomNormal(p.shape, 0, 1, 'float32', 5)]));
    optimizer.step(grads);
    tf.dispose([...grads.values()]);
    model.train();
    tf.tidy(() => model.forward(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 6)));
    const path = join(tempRunDir(), 'checkpoint.safetensors');
    await saveTrainingCheckpoint(path, model, optimizer, state(3));

    const other = tinyModel(2);
    const otherOptimizer = tinySgd(other, config);
    disposables.push(other, otherOptimizer);
    const checkpoint = await readTrainingCheckpoint(path);
    restoreTraining(other, otherOptimizer, checkpoint);
    assert.deepEqual(snapshot(other), snapshot(model));
    assert.equal(other.stateDict().get('bn1.num_batches_tracked')!.dtype, 'int32');
    assert.deepEqual(snapshot(other).get('bn1.num_batches_tracked'), [1]);
    const buffers = (o: typeof optimizer) => o.momentumBuffers().map((b) => Array.from(b!.dataSync()));
    assert.deepEqual(buffers(otherOptimizer), buffers(optimizer));
    assert.deepEqual({ ...checkpoint.state, rngs: undefined }, { ...state(3), rngs: undefined });
  });

  it('refuses to write NaN/Inf weights and leaves the previous checkpoint intact', async () => {
    const config = tinyConfig();
    const model = tinyModel(1);
    const optimizer = tinySgd(model, config);
    disposables.push(model, optimizer);
    const path = join(tempRunDir(), 'checkpoint.safetensors');
    await saveTrainingCheckpoint(path, model, optimizer, state(1));
    const good = readFileSync(path);
    const weight = model.namedParameters().find(([key]) => key === 'conv1.weight')![1];
    weight.set(tf.fill(weight.shape, Number.POSITIVE_INFINITY));
    await assert.rejects(
      saveTrainingCheckpoint(path, model, optimizer, state(2)),
      (e: Error) => e instanceof NonFiniteWeightsError && /conv1\.weight/.test(e.message),
    );
    assert.deepEqual(readFileSync(path), good);
  });

  it('a process killed (SIGKILL) in the middle of saving leaves a complete checkpoint, old or new', async () => {
    const dir = tempRunDir();
    const path = join(dir, 'checkpoint.safetensors');
    const writer = join(dirname(fileURLToPath(import.meta.url)), '_crash-writer.js');
    for (const delayMs of [0, 5, 20]) {
      const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          // Kill during the second write, after the first one completed.
          if (/wrote 1\nwriting 2\n/.test(output) && child.exitCode === null && !child.killed) {
            setTimeout(() => child.kill('SIGKILL'), delayMs);
          }
        });
        child.on('exit', () => resolve());
      });
      const checkpoint = await readTrainingCheckpoint(path);
      assert.ok([1, 2].includes(checkpoint.state.epoch), `epoch ${checkpoint.state.epoch}`);
      assert.ok(checkpoint.tensors.size > 10);
    }
    // Only temporary files may be left over by a kill; the checkpoint name always holds a whole file.
    for (const name of readdirSync(dir))
      assert.ok(name === 'checkpoint.safetensors' || name.endsWith('.tmp'), name);
  });
});
