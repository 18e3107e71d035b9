/**
 * The trainer on a worker pool (`rla train --workers N`): the main thread's model and optimizer follow the
 * replicas, and a run interrupted and resumed on a fresh pool ends with exactly the weights, momentum and epoch
 * records of an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createWorkerPool, liveWorkerThreads, type WorkerPool } from '../../src/parallel/pool.js';
import { createPoolTraining } from '../../src/parallel/pool-step.js';
import { readTrainingCheckpoint, restoreTraining } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { epochHistory, readMetrics } from '../../src/train/metrics-log.js';
import type { SGD } from '../../src/train/sgd.js';
import { CHECKPOINT_FILE, Trainer, type TrainOutcome } from '../../src/train/trainer.js';
import {
  snapshot,
  TINY_MODEL_OPTIONS,
  tempRunDir,
  tinyConfig,
  tinyModel,
  tinySgd,
  tinyTrainerOptions,
} from '../train/_tiny.js';

const WORKERS = 2;
const open: Array<{ dispose(): void } | WorkerPool> = [];
after(async () => {
  for (const item of open) {
    if ('close' in item) await item.close();
    else item.dispose();
  }
});

/** One pool-trained run in `runDir` (resumed from its checkpoint when `resume`), stopping early on `stopAt`. */
async function poolRun(
  config: TrainConfig,
  runDir: string,
  { resume = false, stopAt }: { resume?: boolean; stopAt?: [number, number] } = {},
): Promise<{ model: ClassifierModel; optimizer: SGD; outcome: TrainOutcome }> {
  const model = tinyModel(resume ? 999 : 1);
  const optimizer = tinySgd(model, config);
  open.push(model, optimizer);
  const checkpoint = resume ? await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE)) : undefined;
  if (checkpoint) restoreTraining(model, optimizer, checkpoint);
  const pool = await createWorkerPool({
    model: 'rla_resnet50',
    // A different seed than the main model: push() must make the replicas equal to it.
    options: { ...TINY_MODEL_OPTIONS, numClasses: 4, seed: 77 },
    workers: WORKERS,
    optimizer: { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: true },
  });
  open.push(pool);
  const training = createPoolTraining(pool, model, optimizer);
  await training.push();
  const controller = new AbortController();
  const outcome = await new Trainer({
    ...tinyTrainerOptions(model, optimizer, config, runDir, 'wasm'),
    step: training.step,
    pullState: training.pull,
    signal: controller.signal,
    resumed: checkpoint?.state,
    afterStep: (epoch, batch) => {
      if (stopAt && epoch === stopAt[0] && batch === stopAt[1]) controller.abort();
    },
  }).run();
  await pool.close();
  return { model, optimizer, outcome };
}

function momentum(optimizer: SGD): number[][] {
  return optimizer.momentumBuffers().map((b) => (b ? Array.from(b.dataSync()) : []));
}

describe(`trainer on a pool of ${WORKERS} workers`, () => {
  const config = tinyConfig();
  let reference: { model: ClassifierModel; optimizer: SGD; runDir: string };

  before(async () => {
    await initBackend({ backend: 'wasm' });
    const runDir = tempRunDir();
    const run = await poolRun(config, runDir);
    assert.equal(run.outcome.status, 'completed');
    reference = { model: run.model, optimizer: run.optimizer, runDir };
  });

  it('brings the trained weights and momentum back to the main thread', async () => {
    const untrained = snapshot(tinyModel(1));
    const trained = snapshot(reference.model);
    const moved = [...trained].filter(([key, values]) => values.some((v, i) => v !== untrained.get(key)![i]));
    assert.ok(moved.length > trained.size / 2, `only ${moved.length} of ${trained.size} tensors changed`);
    assert.ok(
      momentum(reference.optimizer).every((b) => b.length > 0),
      'a momentum buffer is missing',
    );
    // The checkpoint holds what the workers trained.
    const checkpoint = await readTrainingCheckpoint(join(reference.runDir, CHECKPOINT_FILE));
    const restored = tinyModel(5);
    const restoredSgd = tinySgd(restored, config);
    open.push(restored, restoredSgd);
    restoreTraining(restored, restoredSgd, checkpoint);
    assert.deepEqual(snapshot(restored), trained);
    assert.deepEqual(momentum(restoredSgd), momentum(reference.optimizer));
    assert.equal(liveWorkerThreads(), 0);
  });

  it('an interrupted run resumed on a fresh pool ends exactly as the uninterrupted one', async () => {
    const runDir = tempRunDir();
    const first = await poolRun(config, runDir, { stopAt: [0, 1] });
    assert.equal(first.outcome.status, 'interrupted');
    const resumed = await poolRun(config, runDir, { resume: true });
    assert.equal(resumed.outcome.status, 'completed');
    const expected = snapshot(reference.model);
    for (const [key, values] of snapshot(resumed.model))
      assert.deepEqual(values, expected.get(key), `${key} differs`);
    assert.deepEqual(momentum(resumed.optimizer), momentum(reference.optimizer));
    const strip = (records: ReturnType<typeof epochHistory>) =>
      records.map(({ seconds: _s, images_per_second: _i, ...rest }) => rest);
    assert.deepEqual(
      strip(epochHistory(await readMetrics(runDir))),
      strip(epochHistory(await readMetrics(reference.runDir))),
    );
  });
});
