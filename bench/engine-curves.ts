/**
 * The first steps of the demo recipe on both training engines, from the same initial weights and the same batches:
 * prints each step's loss on tfjs-wasm and on ort and the largest difference (the engines compute the same function
 * in float32 with different summation orders, so the curves drift apart slowly).
 *   node dist/bench/engine-curves.js [steps]
 */
import { DataLoader } from '../src/data/loader.js';
import { evaluationPipeline } from '../src/data/sample-pipeline.js';
import { openDataset } from '../src/data/sources.js';
import { initBackend } from '../src/engine/backend.js';
import { createModel } from '../src/models/index.js';
import { createOrtTraining } from '../src/train/ort-step.js';
import { RECIPES } from '../src/train/recipes.js';
import { SGD } from '../src/train/sgd.js';
import { createLocalStep, type TrainStep } from '../src/train/step.js';

async function losses(engine: 'ort' | 'tfjs', steps: number): Promise<number[]> {
  const recipe = RECIPES.demo.config;
  const data = await openDataset('fashion-mnist-subset');
  const { preprocessing } = data;
  const loader = new DataLoader(data.train, {
    batchSize: recipe.batchSize as number,
    shuffle: true,
    pipeline: evaluationPipeline(preprocessing),
    seed: 0,
  });
  const model = createModel('rla_resnet50', { ...recipe.modelOptions, numClasses: 10, seed: 0 });
  const optimizer = new SGD(model.parameters(), {
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 1e-4,
    nesterov: true,
  });
  const ort =
    engine === 'ort' ? await createOrtTraining(model, optimizer, { imageSize: preprocessing.size }) : null;
  const step: TrainStep = ort ? ort.step : createLocalStep(model, optimizer);
  const result: number[] = [];
  for await (const batch of loader.epoch(0)) {
    if (result.length === steps) break;
    result.push((await step(batch, 0.01)).loss);
  }
  await ort?.release();
  await loader.close();
  return result;
}

const steps = Number(process.argv[2] ?? 50);
await initBackend({ backend: 'wasm' });
const tfjs = await losses('tfjs', steps);
const ort = await losses('ort', steps);
let largest = 0;
tfjs.forEach((loss, i) => {
  largest = Math.max(largest, Math.abs(loss - ort[i]));
  console.log(`${i + 1}\t${loss.toFixed(5)}\t${ort[i].toFixed(5)}`);
});
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const round = (value: number) => Number(value.toFixed(4));
console.log(
  JSON.stringify({
    steps,
    firstStep: { tfjs: tfjs[0], ort: ort[0] },
    largestAbsDiff: round(largest),
    meanLoss: { tfjs: round(mean(tfjs)), ort: round(mean(ort)) },
    lastTenMean: { tfjs: round(mean(tfjs.slice(-10))), ort: round(mean(ort.slice(-10))) },
  }),
);
