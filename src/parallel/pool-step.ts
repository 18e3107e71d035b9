/**
 * The trainer's pluggable step (src/train/step.ts) on a worker pool. The replicas hold the weights being trained;
 * the main thread's model and optimizer, which the trainer evaluates and checkpoints, are brought up to date with
 * `pull()` (the trainer calls it before each evaluation and save) and copied into the replicas with `push()`
 * (before the first step: initial or resumed weights and momentum).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../models/classifier.js';
import type { SGD } from '../train/sgd.js';
import type { TrainStep } from '../train/step.js';
import type { WorkerPool } from './pool.js';

export interface PoolTraining {
  /** One data-parallel step of the pool at the given learning rate. */
  step: TrainStep;
  /** Copies the main thread's model state and momentum buffers into every replica. */
  push(): Promise<void>;
  /** Copies the replicas' model state and momentum buffers (identical everywhere) into the main thread's. */
  pull(): Promise<void>;
}

/** Trains `model` with `optimizer` (the main thread's copies) on `pool`, whose replicas are the same model. */
export function createPoolTraining(pool: WorkerPool, model: ClassifierModel, optimizer: SGD): PoolTraining {
  return {
    step: (batch, lr) =>
      pool.trainStep(
        { data: batch.x, shape: [batch.size, batch.imageSize, batch.imageSize, 3] },
        batch.labels,
        { lr },
      ),
    push: async () => {
      await pool.loadStateDict(new Map(model.stateEntries().map((e) => [e.key, e.tensor])));
      await pool.loadMomentumBuffers(optimizer.momentumBuffers());
    },
    pull: async () => {
      const state = await pool.getStateDict();
      try {
        model.loadStateDict(state);
      } finally {
        tf.dispose([...state.values()]);
      }
      const buffers = await pool.getMomentumBuffers();
      try {
        optimizer.loadMomentumBuffers(buffers);
      } finally {
        tf.dispose(buffers.filter((b): b is tf.Tensor => b !== null));
      }
    },
  };
}
