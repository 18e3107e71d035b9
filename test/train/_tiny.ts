/** A tiny but real training setup (an RLA-ResNet with one block per stage on 32x32 images) for trainer tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageArray } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';
import type { OpenedDataset } from '../../src/train/run.js';
import { SGD } from '../../src/train/sgd.js';
import type { TrainerOptions } from '../../src/train/trainer.js';

export const TINY_MODEL_OPTIONS = { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4 };

/** `count` random-looking 32x32 RGB images whose label is visible in the pixels (so accuracy can rise). */
export function tinyDataset(count: number, seed = 0): ImageArray {
  const images = new Uint8Array(count * 32 * 32 * 3);
  const labels = new Uint8Array(count);
  let state = seed * 7919 + 17;
  for (let n = 0; n < count; n++) {
    labels[n] = n % 4;
    for (let p = 0; p < 32 * 32 * 3; p++) {
      state = (state * 1103515245 + 12345) >>> 0;
      images[n * 3072 + p] = ((state >>> 16) % 128) + (p % 3 === labels[n] % 3 ? 100 : 0);
    }
  }
  return new ImageArray(images, labels, 32, 32, 3, ['a', 'b', 'c', 'd']);
}

export function tinyConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...DEFAULT_CONFIG,
    model: 'rla_resnet50',
    modelOptions: TINY_MODEL_OPTIONS,
    dataset: 'tiny',
    epochs: 2,
    batchSize: 4,
    lr: 0.05,
    nesterov: true,
    schedule: { kind: 'multistep', milestones: [1], gamma: 0.1 },
    seed: 3,
    ...overrides,
  };
}

export function tinyModel(seed: number): ClassifierModel {
  return createModel('rla_resnet50', { ...TINY_MODEL_OPTIONS, numClasses: 4, seed });
}

export function tinySgd(model: ClassifierModel, config: TrainConfig): SGD {
  return new SGD(model.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
  });
}

/** Train loader (augmenting, shuffling) and an eval loader over the same tiny sets. */
export function tinyLoaders(config: TrainConfig): { train: DataLoader; val: DataLoader } {
  const pre = cifarPreprocessing();
  const pipeline = { mean: pre.mean, std: pre.std, size: 32 };
  return {
    train: new DataLoader(tinyDataset(12), {
      batchSize: config.batchSize,
      shuffle: true,
      pipeline: { ...pipeline, ops: pre.train },
      seed: config.seed,
    }),
    val: new DataLoader(tinyDataset(8, 1), {
      batchSize: 8,
      shuffle: false,
      pipeline: { ...pipeline, ops: pre.eval },
      seed: config.seed,
    }),
  };
}

/** Trainer options for a tiny run of `model` in `runDir` (validation on the tiny held-out set, no test split). */
export function tinyTrainerOptions(
  model: ClassifierModel,
  optimizer: SGD,
  config: TrainConfig,
  runDir: string,
  backend: string,
): TrainerOptions {
  const { train, val } = tinyLoaders(config);
  return {
    model,
    optimizer,
    config,
    train,
    val,
    test: null,
    runDir,
    classNames: ['a', 'b', 'c', 'd'],
    preprocessing: cifarPreprocessing(),
    backend,
  };
}

/** The tiny training and held-out sets as a dataset `openTrainingRun` can take (validation on the held-out set). */
export function tinyDatasetSplits(): OpenedDataset {
  return {
    dir: '(in memory)',
    train: tinyDataset(12),
    test: tinyDataset(8, 1),
    classNames: ['a', 'b', 'c', 'd'],
    preprocessing: cifarPreprocessing(),
  };
}

export function tempRunDir(): string {
  return mkdtempSync(join(tmpdir(), 'rla-run-'));
}

/** Every state tensor's values by key (copies). */
export function snapshot(model: ClassifierModel): Map<string, number[]> {
  return new Map(model.stateEntries().map((e) => [e.key, Array.from(e.tensor.dataSync())]));
}
