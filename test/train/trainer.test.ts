import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../../src/data/loader.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import type { TrainConfig } from '../../src/train/config.js';
import { evaluate } from '../../src/train/evaluate.js';
import { type EpochRecord, epochHistory, readMetrics } from '../../src/train/metrics-log.js';
import type { SGD } from '../../src/train/sgd.js';
import { createLocalStep } from '../../src/train/step.js';
import {
  BEST_FILE,
  CHECKPOINT_FILE,
  Trainer,
  type TrainerOptions,
  type TrainOutcome,
} from '../../src/train/trainer.js';
import { readTrainingCheckpoint, restoreTraining } from '../../src/train/training-checkpoint.js';
import { assertNoLeak } from '../helpers/tensors.js';
import {
  snapshot,
  tempRunDir,
  tinyConfig,
  tinyLoaders,
  tinyModel,
  tinySgd,
  tinyTrainerOptions,
} from './_tiny.js';

const disposables: Array<{ dispose(): void }> = [];
after(() => {
  for (const d of disposables) d.dispose();
});

function setup(config: TrainConfig, runDir: string, seed: number, extra: Partial<TrainerOptions> = {}) {
  const model = tinyModel(seed);
  const optimizer = tinySgd(model, config);
  disposables.push(model, optimizer);
  const options: TrainerOptions = {
    ...tinyTrainerOptions(model, optimizer, config, runDir, tf.getBackend()),
    ...extra,
  };
  return { model, optimizer, options };
}

function momentum(optimizer: SGD): number[][] {
  return optimizer.momentumBuffers().map((b) => (b ? Array.from(b.dataSync()) : []));
}

/** Epoch records without the timing fields. */
async function history(runDir: string): Promise<Array<Omit<EpochRecord, 'seconds' | 'images_per_second'>>> {
  return epochHistory(await readMetrics(runDir)).map(
    ({ seconds: _s, images_per_second: _i, ...rest }) => rest,
  );
}

/** Resumes `runDir` from its checkpoint into a differently initialised model, and finishes the run. */
async function resume(
  config: TrainConfig,
  runDir: string,
): Promise<{ model: ClassifierModel; optimizer: SGD; outcome: TrainOutcome }> {
  const checkpoint = await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE));
  const { model, optimizer, options } = setup(config, runDir, 999);
  restoreTraining(model, optimizer, checkpoint);
  const outcome = await new Trainer({ ...options, resumed: checkpoint.state }).run();
  return { model, optimizer, outcome };
}

describe('trainer: resume, keep-best, NaN stop', () => {
  let reference: { model: ClassifierModel; optimizer: SGD; runDir: string };

  before(async () => {
    await initBackend({ backend: 'wasm' });
    const runDir = tempRunDir();
    const { model, optimizer, options } = setup(tinyConfig(), runDir, 1);
    const outcome = await new Trainer(options).run();
    assert.equal(outcome.status, 'completed');
    reference = { model, optimizer, runDir };
  });

  /** Resumes the run in `runDir` to completion and checks it equals the uninterrupted reference exactly. */
  async function assertResumesToReference(config: TrainConfig, runDir: string): Promise<void> {
    const resumed = await resume(config, runDir);
    assert.equal(resumed.outcome.status, 'completed');
    const expected = snapshot(reference.model);
    for (const [key, values] of snapshot(resumed.model))
      assert.deepEqual(values, expected.get(key), `${key} differs`);
    assert.deepEqual(momentum(resumed.optimizer), momentum(reference.optimizer));
    assert.deepEqual(await history(runDir), await history(reference.runDir));
  }

  for (const [where, stopAt] of [
    ['mid-epoch (epoch 1 after batch 2 of 3)', [0, 1]],
    ['at an epoch boundary (after epoch 1)', [0, 2]],
  ] as const) {
    it(`an interrupted run resumed ${where} ends with exactly the weights of an uninterrupted run`, async () => {
      const config = tinyConfig();
      const runDir = tempRunDir();
      const controller = new AbortController();
      const { options } = setup(config, runDir, 1, {
        signal: controller.signal,
        afterStep: (epoch, batch) => {
          if (epoch === stopAt[0] && batch === stopAt[1]) controller.abort();
        },
      });
      const first = await new Trainer(options).run();
      assert.equal(first.status, 'interrupted');
      await assertResumesToReference(config, runDir);
    });
  }

  it('--save-every: a run killed after a mid-epoch checkpoint resumes to exactly the uninterrupted weights', async () => {
    const config = tinyConfig({ saveEvery: 1 });
    const runDir = tempRunDir();
    const { options } = setup(config, runDir, 1, {
      afterStep: (epoch, batch) => {
        // A crash in the third step: only the periodic checkpoint written after the second survives.
        if (epoch === 1 && batch === 2) throw new Error('killed');
      },
    });
    await assert.rejects(new Trainer(options).run(), /killed/);
    const { state } = await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE));
    assert.deepEqual(
      [state.epoch, state.batch],
      [1, 2],
      'the last periodic checkpoint: epoch 2 after batch 2',
    );
    await assertResumesToReference(config, runDir);
  });

  it('keeps the best-validation weights in best.safetensors and logs every epoch', async () => {
    const records = await history(reference.runDir);
    assert.deepEqual(
      records.map((r) => r.epoch),
      [1, 2],
    );
    assert.deepEqual(
      records.map((r) => r.lr),
      [0.05, 0.005000000000000001],
    );
    assert.ok(records.every((r) => r.val_top1 !== null && r.val_top5 === 1));
    assert.equal(records[0].best, true);
    const best = readFileSync(join(reference.runDir, BEST_FILE));
    assert.ok(best.length > 1000);
  });

  it('training steps and evaluation leave no tensor behind', async () => {
    const config = tinyConfig();
    const { model, optimizer } = setup(config, tempRunDir(), 1);
    const { train, val } = tinyLoaders(config);
    const step = createLocalStep(model, optimizer);
    const batches: Batch[] = [];
    for await (const batch of train.epoch(0)) batches.push(batch);
    await step(batches[0], 0.01); // creates the momentum buffers
    await assertNoLeak(async () => {
      await step(batches[1], 0.01);
      await evaluate(model, val);
    }, 'step + evaluate');
  });

  it('a NaN loss stops the run before the update and leaves the last good checkpoint untouched', async () => {
    const config = tinyConfig({ epochs: 3 });
    const runDir = tempRunDir();
    const checkpointPath = join(runDir, CHECKPOINT_FILE);
    let savedAfterEpoch1: Buffer | null = null;
    let conv1AtPoison: number[] = [];
    const { model, options } = setup(config, runDir, 1, {
      afterStep: (epoch, batch) => {
        if (epoch === 1 && batch === 0) {
          savedAfterEpoch1 = readFileSync(checkpointPath);
          // Simulate a divergence: a weight of the classifier becomes NaN.
          const fc = model.namedParameters().find(([key]) => key === 'fc.bias')![1];
          fc.set(tf.fill(fc.shape, Number.NaN));
          conv1AtPoison = Array.from(model.stateDict().get('conv1.weight')!.dataSync());
        }
      },
    });
    const outcome = await new Trainer(options).run();
    assert.equal(outcome.status, 'diverged');
    assert.ok(outcome.status === 'diverged');
    assert.match(outcome.message, /loss is NaN at epoch 2, batch 2/);
    assert.match(outcome.message, /last good checkpoint \(end of epoch 1\) is kept unchanged/);
    assert.deepEqual(readFileSync(checkpointPath), savedAfterEpoch1, 'the checkpoint was rewritten');
    assert.deepEqual(
      Array.from(model.stateDict().get('conv1.weight')!.dataSync()),
      conv1AtPoison,
      'the NaN update was applied',
    );
    const records = await readMetrics(runDir);
    assert.equal(records.at(-1)?.event, 'stopped');
    const state = (await readTrainingCheckpoint(checkpointPath)).state;
    assert.deepEqual([state.epoch, state.batch], [1, 0]);
  });
});
