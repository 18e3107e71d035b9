/**
 * The trainer on a worker pool (`rla train --workers N`), started through `openTrainingRun`, the entry the CLI
 * uses: the main thread's model and optimizer follow the replicas, and a run interrupted and resumed on a fresh
 * pool ends with exactly the weights, momentum and epoch records of an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { liveWorkerThreads } from '../../src/parallel/pool.js';
import type { TrainConfig } from '../../src/train/config.js';
import { epochHistory, readMetrics } from '../../src/train/metrics-log.js';
import { openTrainingRun } from '../../src/train/run.js';
import type { SGD } from '../../src/train/sgd.js';
import { CHECKPOINT_FILE, type TrainOutcome } from '../../src/train/trainer.js';
import { readTrainingCheckpoint, restoreTraining } from '../../src/train/training-checkpoint.js';
import { snapshot, tempRunDir, tinyConfig, tinyDatasetSplits, tinyModel, tinySgd } from '../train/_tiny.js';

const WORKERS = 2;

/** What a finished run leaves: its weights and momentum (copies) and how it ended. */
interface RunResult {
  weights: Map<string, number[]>;
  momentum: number[][];
  outcome: TrainOutcome;
}

/**
 * One pool-trained run in `runDir` through the entry `rla train` uses (resumed from its checkpoint when `resume`),
 * stopping early on `stopAt`.
 */
async function poolRun(
  config: TrainConfig,
  runDir: string,
  { resume = false, stopAt }: { resume?: boolean; stopAt?: [number, number] } = {},
): Promise<RunResult> {
  const checkpoint = resume ? await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE)) : undefined;
  const controller = new AbortController();
  const run = await openTrainingRun({
    config,
    runDir,
    checkpoint,
    backend: 'wasm',
    dataset: tinyDatasetSplits(),
    signal: controller.signal,
    afterStep: (epoch, batch) => {
      if (stopAt && epoch === stopAt[0] && batch === stopAt[1]) controller.abort();
    },
  });
  try {
    assert.equal(run.engineName, 'tfjs-wasm');
    assert.equal(run.workers, WORKERS);
    const outcome = await run.run();
    return { weights: snapshot(run.model), momentum: momentum(run.optimizer), outcome };
  } finally {
    await run.close();
  }
}

function momentum(optimizer: SGD): number[][] {
  return optimizer.momentumBuffers().map((b) => (b ? Array.from(b.dataSync()) : []));
}

describe(`trainer on a pool of ${WORKERS} workers`, () => {
  // Validation on the held-out tiny set (the run's test split), 8 images a batch.
  const config = tinyConfig({ workers: WORKERS, valSize: 0, evalBatchSize: 8 });
  let reference: RunResult & { runDir: string };

  before(async () => {
    const runDir = tempRunDir();
    const run = await poolRun(config, runDir);
    assert.equal(run.outcome.status, 'completed');
    reference = { ...run, runDir };
  });

  it('brings the trained weights and momentum back to the main thread', async () => {
    const untrainedModel = tinyModel(config.seed);
    const untrained = snapshot(untrainedModel);
    untrainedModel.dispose();
    const trained = reference.weights;
    const moved = [...trained].filter(([key, values]) => values.some((v, i) => v !== untrained.get(key)![i]));
    assert.ok(moved.length > trained.size / 2, `only ${moved.length} of ${trained.size} tensors changed`);
    assert.ok(
      reference.momentum.every((b) => b.length > 0),
      'a momentum buffer is missing',
    );
    // The checkpoint holds what the workers trained.
    const checkpoint = await readTrainingCheckpoint(join(reference.runDir, CHECKPOINT_FILE));
    const restored = tinyModel(5);
    const restoredSgd = tinySgd(restored, config);
    try {
      restoreTraining(restored, restoredSgd, checkpoint);
      assert.deepEqual(snapshot(restored), trained);
      assert.deepEqual(momentum(restoredSgd), reference.momentum);
    } finally {
      restored.dispose();
      restoredSgd.dispose();
    }
    assert.equal(liveWorkerThreads(), 0);
  });

  it('an interrupted run resumed on a fresh pool ends exactly as the uninterrupted one', async () => {
    const runDir = tempRunDir();
    const first = await poolRun(config, runDir, { stopAt: [0, 1] });
    assert.equal(first.outcome.status, 'interrupted');
    const resumed = await poolRun(config, runDir, { resume: true });
    assert.equal(resumed.outcome.status, 'completed');
    for (const [key, values] of resumed.weights)
      assert.deepEqual(values, reference.weights.get(key), `${key} differs`);
    assert.deepEqual(resumed.momentum, reference.momentum);
    const strip = (records: ReturnType<typeof epochHistory>) =>
      records.map(({ seconds: _s, images_per_second: _i, ...rest }) => rest);
    assert.deepEqual(
      strip(epochHistory(await readMetrics(runDir))),
      strip(epochHistory(await readMetrics(reference.runDir))),
    );
  });
});
