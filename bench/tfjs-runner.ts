/**
 * Runs one case on TensorFlow.js: in this thread for one worker (wasm or cpu backend), on a worker pool for more.
 * Training = forward + cross-entropy + backward (lean) + SGD with Nesterov momentum, as the pool does it.
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { countMacs } from '../src/count/count.js';
import { initBackend } from '../src/engine/backend.js';
import { leanVariableGrads } from '../src/engine/kernels/lean-backward.js';
import type { ClassifierModel } from '../src/models/classifier.js';
import { createModel } from '../src/models/index.js';
import type { Parameter } from '../src/nn/module.js';
import { createWorkerPool } from '../src/parallel/pool.js';
import { crossEntropy } from '../src/train/loss.js';
import { SGD } from '../src/train/sgd.js';
import { BENCH_SGD, type CaseSpec, type RunSpec } from './cases.js';
import { measure } from './measure.js';
import { type BenchRow, benchRow } from './rows.js';

function inputs(spec: CaseSpec, classes: number): { x: tf.Tensor4D; labels: Int32Array } {
  const x = tf.randomUniform([spec.batch, spec.size, spec.size, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const labels = Int32Array.from({ length: spec.batch }, (_, i) => (i * 7919) % classes);
  return { x, labels };
}

/** One training step on this thread, as a worker of the pool does it. */
export function localTrainStep(model: ClassifierModel, x: tf.Tensor4D, labels: tf.Tensor1D): () => void {
  const optimizer = new SGD(model.parameters(), BENCH_SGD);
  const byName = new Map<string, Parameter>(model.parameters().map((p) => [p.variable.name, p]));
  const variables = model.parameters().map((p) => p.variable);
  model.train();
  return () => {
    const { value, grads } = leanVariableGrads(() => crossEntropy(model.forward(x), labels), variables);
    value.dataSync();
    optimizer.step(new Map(Object.entries(grads).map(([name, grad]) => [byName.get(name)!, grad])));
    tf.dispose([value, ...Object.values(grads)]);
  };
}

/** Measures `run` of `spec` with TensorFlow.js (`run.engine` tfjs-wasm or tfjs-cpu). */
export async function runTfjsCase(spec: CaseSpec, run: RunSpec): Promise<BenchRow> {
  const backend = run.engine === 'tfjs-cpu' ? 'cpu' : 'wasm';
  const load = loadavg()[0];
  await initBackend({ backend });
  const options = { ...spec.options, seed: 1 };
  // Training steps settle by the fourth: the first ones grow the wasm heap to its working set (page faults cost
  // ~10 us each on the development VM). A training run takes thousands of steps.
  const warmup = spec.kind === 'train' ? 3 : 2;
  const budget = { warmup, minRuns: run.minRuns, budgetSeconds: run.budgetSeconds };
  if (run.workers === 1) {
    const model = createModel(spec.model, options);
    const macs = countMacs(model, [1, spec.size, spec.size, 3]);
    const { x, labels } = inputs(spec, model.numClasses);
    const labelTensor = tf.tensor1d(labels, 'int32');
    let step: () => void;
    if (spec.kind === 'train') step = localTrainStep(model, x, labelTensor);
    else {
      model.eval();
      step = () => void tf.tidy(() => model.forward(x).dataSync());
    }
    const timing = await measure(step, budget);
    return benchRow(spec, run.engine, 1, 1, macs, timing, load);
  }
  const counting = createModel(spec.model, options);
  const macs = countMacs(counting, [1, spec.size, spec.size, 3]);
  const classes = counting.numClasses;
  counting.dispose();
  const pool = await createWorkerPool({
    model: spec.model,
    options,
    workers: run.workers,
    backend,
    optimizer: BENCH_SGD,
  });
  try {
    const { x, labels } = inputs(spec, classes);
    const step =
      spec.kind === 'train'
        ? async () => void (await pool.trainStep(x, labels))
        : async () => (await pool.predict(x)).dispose();
    const timing = await measure(step, budget);
    return benchRow(spec, run.engine, run.workers, 1, macs, timing, load);
  } finally {
    await pool.close();
  }
}
