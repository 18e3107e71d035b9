/**
 * Runs a training case on ONNX Runtime: the whole SGD step (forward, cross-entropy, backward, Nesterov SGD with
 * weight decay) as one graph (src/onnx/training/), the same step `rla train --engine ort` takes. Warm-up covers
 * the graph build and ONNX Runtime's first runs (arena growth, weight prepacking).
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { countMacs } from '../src/count/count.js';
import { initBackend } from '../src/engine/backend.js';
import { createModel } from '../src/models/index.js';
import { OrtTrainer } from '../src/onnx/training/session.js';
import { SGD } from '../src/train/sgd.js';
import { BENCH_SGD, type CaseSpec, type RunSpec } from './cases.js';
import { measure } from './measure.js';
import { type BenchRow, benchRow } from './rows.js';

/** ONNX Runtime intra-op threads of the training cases (the peers' PyTorch uses 2). */
export const ORT_TRAIN_THREADS = 2;

export async function runOrtTrainCase(spec: CaseSpec, run: RunSpec): Promise<BenchRow> {
  const load = loadavg()[0];
  // TF.js builds the model and hands its initial weights over; the step itself never touches it.
  await initBackend({ backend: 'cpu' });
  const model = createModel(spec.model, { ...spec.options, seed: 1 });
  const macs = countMacs(model, [1, spec.size, spec.size, 3]);
  const optimizer = new SGD(model.parameters(), BENCH_SGD);
  const trainer = await OrtTrainer.create(model, optimizer, spec.size, spec.size, {
    threads: ORT_TRAIN_THREADS,
  });
  const images = tf.tidy(
    () =>
      tf.randomUniform([spec.batch, spec.size, spec.size, 3], -1, 1, 'float32', 7).dataSync() as Float32Array,
  );
  const labels = Int32Array.from({ length: spec.batch }, (_, i) => (i * 7919) % model.numClasses);
  try {
    const timing = await measure(
      async () => {
        await trainer.step(images, labels, BENCH_SGD.lr);
      },
      { warmup: 3, minRuns: run.minRuns, budgetSeconds: run.budgetSeconds },
    );
    return benchRow(spec, 'ort', 1, ORT_TRAIN_THREADS, macs, timing, load);
  } finally {
    await trainer.release();
    optimizer.dispose();
    model.dispose();
  }
}
