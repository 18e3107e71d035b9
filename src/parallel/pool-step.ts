/**
 * The trainer's pluggable step (src/train/step.ts) on a worker pool: `createPoolStep(pool)` does what
 * `createLocalStep(model, optimizer)` does, with the batch sharded over the pool's replicas.
 */
import type { TrainStep } from '../train/step.js';
import type { WorkerPool } from './pool.js';

/** A TrainStep that runs each batch as one data-parallel step of `pool` at the given learning rate. */
export function createPoolStep(pool: WorkerPool): TrainStep {
  return (batch, lr) =>
    pool.trainStep(
      { data: batch.x, shape: [batch.size, batch.imageSize, batch.imageSize, 3] },
      batch.labels,
      { lr },
    );
}
