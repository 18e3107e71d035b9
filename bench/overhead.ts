/**
 * The paper's overhead claim, measured on rla-net's engines: training and inference throughput of a ResNet with
 * SE, ECA or RLA against the plain ResNet (the paper: RLA-ResNet-101 trains +19% slower than ResNet-101, SE and
 * ECA +15%). Each variant is measured in one child process together with its baseline, the two stepped in
 * alternation (A, B, A, B, ...) so that a machine whose load drifts slows both alike; the JSON carries each
 * variant's throughput, its baseline's from the same process, `ratioVsBaseline` (variant img/s / baseline
 * img/s) and `overheadPct` (extra time per image, %).
 *
 *   node dist/bench/overhead.js [--groups resnet50,resnet101] [--variants se,eca,rla] [--kinds train,infer]
 *                               [--engines tfjs-wasm,tfjs-cpu,ort] [--size 224] [--batch 8]
 *                               [--budget seconds] [--min-runs n] [--out file]
 *
 * Defaults are the paper's setting scaled to a CPU (224x224, batch 8, 20 s per pair). Writes
 * bench/results/overhead.json (progress on stderr).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { countMacs, countParams } from '../src/count/count.js';
import { initBackend } from '../src/engine/backend.js';
import type { ClassifierModel } from '../src/models/classifier.js';
import { createModel } from '../src/models/index.js';
import { exportOnnx } from '../src/onnx/export.js';
import { createInferenceSession } from '../src/onnx/session.js';
import { OrtTrainer } from '../src/onnx/training/session.js';
import { SGD } from '../src/train/sgd.js';
import { BENCH_SGD, ENGINES, type Engine } from './cases.js';
import { runBenchChild } from './child.js';
import { median } from './measure.js';
import { ORT_TRAIN_THREADS } from './ort-train-runner.js';
import { localTrainStep } from './tfjs-runner.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = resolve(HERE, '..', '..', 'bench', 'results', 'overhead.json');

/** The baselines and, per variant kind, the registry name of the variant. */
export const OVERHEAD_GROUPS = {
  resnet50: { baseline: 'resnet50', se: 'resnet50_se', eca: 'resnet50_eca', rla: 'rla_resnet50' },
  resnet101: { baseline: 'resnet101', se: 'resnet101_se', eca: 'resnet101_eca', rla: 'rla_resnet101' },
} as const;
export type OverheadGroup = keyof typeof OVERHEAD_GROUPS;
export type Variant = 'se' | 'eca' | 'rla';
const VARIANTS: readonly Variant[] = ['se', 'eca', 'rla'];

/** The paper's training-time overheads on ResNet-101 (§4.1), for the table next to the measurements. */
export const PAPER_TRAINING_OVERHEAD_PCT: Record<Variant, number> = { se: 15, eca: 15, rla: 19 };

/** One pair to measure, in one child process. */
interface PairSpec {
  group: OverheadGroup;
  variant: Variant;
  kind: 'train' | 'infer';
  engine: Engine;
  size: number;
  batch: number;
  budgetSeconds: number;
  minRuns: number;
}

/** A measured pair: the JSON row. */
export interface OverheadRow {
  group: OverheadGroup;
  kind: 'train' | 'infer';
  engine: Engine;
  model: string;
  baseline: string;
  size: number;
  batch: number;
  /** Threads per step: 1 for the TF.js backends in Node, ONNX Runtime's intra-op threads. */
  threads: number;
  imgPerSec: number;
  baselineImgPerSec: number;
  /** imgPerSec / baselineImgPerSec: below 1 when the variant is slower. */
  ratioVsBaseline: number;
  /** Extra time per image over the baseline, percent (the paper's "+19%"). */
  overheadPct: number;
  /** Timed steps of each model (alternating). */
  runs: number;
  params: number;
  baselineParams: number;
  /** Forward multiply-accumulates per image (thop rules). */
  macs: number;
  baselineMacs: number;
  loadAvg: number;
}

/** A model ready to step on an engine, and how to free it. */
interface Stepper {
  step: () => Promise<void>;
  release: () => Promise<void>;
  threads: number;
}

async function stepper(model: ClassifierModel, spec: PairSpec): Promise<Stepper> {
  const { batch, size } = spec;
  const images = tf.tidy(
    () => tf.randomUniform([batch, size, size, 3], -1, 1, 'float32', 7).dataSync() as Float32Array,
  );
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % model.numClasses);
  if (spec.engine === 'ort' && spec.kind === 'train') {
    const optimizer = new SGD(model.parameters(), BENCH_SGD);
    const trainer = await OrtTrainer.create(model, optimizer, size, size, { threads: ORT_TRAIN_THREADS });
    return {
      step: async () => void (await trainer.step(images, labels, BENCH_SGD.lr)),
      release: async () => {
        await trainer.release();
        optimizer.dispose();
      },
      threads: ORT_TRAIN_THREADS,
    };
  }
  if (spec.engine === 'ort') {
    const session = await createInferenceSession(exportOnnx(model, { batchSize: batch, inputSize: size }), {
      threads: ORT_TRAIN_THREADS,
    });
    // NHWC -> NCHW once: the layout does not change the speed being measured, only the input's meaning.
    const nchw = tf.tidy(
      () =>
        tf.transpose(tf.tensor4d(images, [batch, size, size, 3]), [0, 3, 1, 2]).dataSync() as Float32Array,
    );
    return {
      step: async () => void (await session.runNchw(nchw, [batch, 3, size, size])),
      release: () => session.release(),
      threads: ORT_TRAIN_THREADS,
    };
  }
  const x = tf.tensor4d(images, [batch, size, size, 3]);
  const labelTensor = tf.tensor1d(labels, 'int32');
  let step: () => void;
  if (spec.kind === 'train') step = localTrainStep(model, x, labelTensor);
  else {
    model.eval();
    step = () => void tf.tidy(() => model.forward(x).dataSync());
  }
  return {
    step: async () => step(),
    release: async () => tf.dispose([x, labelTensor]),
    threads: 1,
  };
}

/** Child mode: measures the baseline and the variant of `spec` in alternation. */
async function measurePair(spec: PairSpec): Promise<OverheadRow> {
  const load = loadavg()[0];
  // ONNX Runtime cases use TF.js only to build the models and hand their weights over.
  await initBackend({ backend: spec.engine === 'tfjs-wasm' ? 'wasm' : 'cpu' });
  const names = [OVERHEAD_GROUPS[spec.group].baseline, OVERHEAD_GROUPS[spec.group][spec.variant]];
  const models = names.map((name) => createModel(name, { seed: 1 }));
  const steppers: Stepper[] = [];
  try {
    for (const model of models) steppers.push(await stepper(model, spec));
    // Warm-up: graph builds, arena growth, weight prepacking, the wasm heap reaching its working set.
    const warmup = spec.kind === 'train' ? 3 : 2;
    for (let i = 0; i < warmup; i++) for (const s of steppers) await s.step();
    const times: number[][] = names.map(() => []);
    const start = performance.now();
    while (times[0].length < spec.minRuns || (performance.now() - start) / 1000 < spec.budgetSeconds) {
      for (let m = 0; m < steppers.length; m++) {
        const t0 = performance.now();
        await steppers[m].step();
        times[m].push((performance.now() - t0) / 1000);
      }
    }
    const [base, variant] = times.map((t) => spec.batch / median(t));
    const macs = models.map((m) => countMacs(m, [1, spec.size, spec.size, 3]));
    return {
      group: spec.group,
      kind: spec.kind,
      engine: spec.engine,
      model: names[1],
      baseline: names[0],
      size: spec.size,
      batch: spec.batch,
      threads: steppers[0].threads,
      imgPerSec: Number(variant.toFixed(3)),
      baselineImgPerSec: Number(base.toFixed(3)),
      ratioVsBaseline: Number((variant / base).toFixed(3)),
      overheadPct: Number((100 * (base / variant - 1)).toFixed(1)),
      runs: times[0].length,
      params: countParams(models[1]),
      baselineParams: countParams(models[0]),
      macs: macs[1],
      baselineMacs: macs[0],
      loadAvg: Number(load.toFixed(2)),
    };
  } finally {
    for (const s of steppers) await s.release();
    for (const model of models) model.dispose();
  }
}

function list<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T[] {
  if (!value) throw new Error(`${flag} needs a value`);
  const items = value.split(',').filter(Boolean);
  for (const item of items)
    if (!(allowed as readonly string[]).includes(item))
      throw new Error(`${flag}: ${item} is not one of ${allowed}`);
  return items as T[];
}

function positive(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`${flag} needs a positive number, got ${value}`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    process.stdout.write(`${JSON.stringify(await measurePair(JSON.parse(argv[1]) as PairSpec))}\n`);
    return;
  }
  let groups = Object.keys(OVERHEAD_GROUPS) as OverheadGroup[];
  let variants = [...VARIANTS];
  let kinds: Array<'train' | 'infer'> = ['train', 'infer'];
  let engines: Engine[] = [...ENGINES];
  let size = 224;
  let batch = 8;
  let budgetSeconds = 20;
  let minRuns = 3;
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    if (flag === '--groups') groups = list(next(), flag, Object.keys(OVERHEAD_GROUPS) as OverheadGroup[]);
    else if (flag === '--variants') variants = list(next(), flag, VARIANTS);
    else if (flag === '--kinds') kinds = list(next(), flag, ['train', 'infer'] as const);
    else if (flag === '--engines') engines = list(next(), flag, ENGINES);
    else if (flag === '--size') size = positive(next(), flag);
    else if (flag === '--batch') batch = positive(next(), flag);
    else if (flag === '--budget') budgetSeconds = positive(next(), flag);
    else if (flag === '--min-runs') minRuns = positive(next(), flag);
    else if (flag === '--out') out = resolve(next());
    else throw new Error(`unknown option ${flag} (see bench/overhead.ts)`);
  }
  const rows: OverheadRow[] = [];
  const failed: Array<{ spec: PairSpec; reason: string }> = [];
  for (const group of groups)
    for (const kind of kinds)
      for (const engine of engines)
        for (const variant of variants) {
          const spec: PairSpec = { group, variant, kind, engine, size, batch, budgetSeconds, minRuns };
          const name = `${kind} ${OVERHEAD_GROUPS[group][variant]} vs ${group} on ${engine}`;
          process.stderr.write(`overhead: ${name} ...`);
          const outcome = await runBenchChild<OverheadRow>(fileURLToPath(import.meta.url), spec);
          const result = typeof outcome === 'string' ? outcome : outcome[0];
          if (typeof result === 'string') {
            failed.push({ spec, reason: result });
            process.stderr.write(` ${result}\n`);
          } else {
            rows.push(result);
            process.stderr.write(
              ` ${result.imgPerSec} vs ${result.baselineImgPerSec} img/s: ${result.overheadPct > 0 ? '+' : ''}${result.overheadPct}% (${result.runs} runs each)\n`,
            );
          }
        }
  const report = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    date: new Date().toISOString(),
    paperTrainingOverheadPct: PAPER_TRAINING_OVERHEAD_PCT,
    rows,
    failed,
  };
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(`${json}\n`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${json}\n`);
  process.stderr.write(`overhead: written to ${out}\n`);
}

await main(process.argv.slice(2));
