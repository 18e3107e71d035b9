/**
 * The complete description of a training run. Stored in every training checkpoint, so `rla train --resume` needs
 * nothing but the run directory. Values come from defaults, then a recipe (`recipes.ts`), then explicit options.
 */
import { MAX_INPUT_SIDE } from '../data/preprocessing.js';
import type { ModelOptions } from '../models/registry.js';
import {
  type EarlyStoppingOptions,
  earlyStoppingProblems,
  plateauProblems,
  type ReduceLrOnPlateauOptions,
} from './callbacks.js';
import { type ScheduleSpec, scheduleProblems } from './schedule.js';
import type { SGDOptions } from './sgd.js';

/** All settings of a training run (see `rla train --help` for the matching options). */
export interface TrainConfig {
  /** Registry model name and `createModel` options (numClasses comes from the dataset). */
  model: string;
  modelOptions: ModelOptions;
  /** Dataset name (see `src/data/sources.ts`) and its directory (null: the dataset's default location). */
  dataset: string;
  data: string | null;
  /** Model input side for datasets of variable-size images (ImageFolder); null: the dataset's default. */
  imageSize: number | null;
  epochs: number;
  batchSize: number;
  /** Base learning rate (before the schedule). */
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  schedule: ScheduleSpec;
  /** Apply the dataset's training augmentation (false: train on the evaluation transforms, for very short runs). */
  augment: boolean;
  /** Training images held out for validation (45k/5k CIFAR protocol: 5000); 0 validates on the test split. */
  valSize: number;
  /** Use only the first N training / test images (quick runs); null: all. */
  trainLimit: number | null;
  testLimit: number | null;
  evalBatchSize: number;
  /** Fixes the initialisation, the split, the shuffling and every augmentation. */
  seed: number;
  /** Decode worker threads for file datasets (null: automatic). */
  dataWorkers: number | null;
  /**
   * Model replicas training data-parallel on worker threads (src/parallel/), one per core at most. Part of the
   * run's definition: BatchNorm normalises each worker's shard with its own statistics (as PyTorch DDP does), so
   * the numbers depend on it. Absent in checkpoints of earlier versions: 1.
   */
  workers?: number;
  /**
   * Also checkpoint every N training steps inside an epoch (null: at epoch ends only), so a killed run loses at
   * most N steps. Resuming from such a checkpoint continues exactly like resuming after Ctrl-C. Absent in
   * checkpoints of earlier versions: null.
   */
  saveEvery?: number | null;
  /** Stop when a validation metric stops improving (null: train every epoch). Absent in older checkpoints: null. */
  earlyStopping?: EarlyStoppingOptions | null;
  /** Lower the learning rate when a metric plateaus (null: the schedule alone). Absent in older checkpoints: null. */
  reduceLrOnPlateau?: ReduceLrOnPlateauOptions | null;
}

/** Defaults under every recipe. */
export const DEFAULT_CONFIG: TrainConfig = {
  model: 'rla_resnet50',
  modelOptions: {},
  dataset: 'fashion-mnist-subset',
  data: null,
  imageSize: null,
  epochs: 1,
  batchSize: 64,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 1e-4,
  nesterov: false,
  schedule: { kind: 'constant' },
  augment: true,
  valSize: 0,
  trainLimit: null,
  testLimit: null,
  evalBatchSize: 128,
  seed: 0,
  dataWorkers: null,
  workers: 1,
  saveEvery: null,
  earlyStopping: null,
  reduceLrOnPlateau: null,
};

/** Every problem with a config, as messages naming the option. */
export function configProblems(config: TrainConfig): string[] {
  const problems: string[] = [];
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v > 0)) problems.push(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('epochs', config.epochs);
  positiveInt('batch size', config.batchSize);
  positiveInt('eval batch size', config.evalBatchSize);
  if (!(config.lr > 0)) problems.push(`lr must be > 0, got ${config.lr}`);
  if (!(config.momentum >= 0 && config.momentum < 1))
    problems.push(`momentum must be in [0, 1), got ${config.momentum}`);
  if (!(config.weightDecay >= 0)) problems.push(`weight decay must be >= 0, got ${config.weightDecay}`);
  if (config.nesterov && config.momentum === 0) problems.push('Nesterov needs a momentum > 0');
  if (!(Number.isInteger(config.valSize) && config.valSize >= 0))
    problems.push(`val size must be an integer >= 0, got ${config.valSize}`);
  if (config.trainLimit !== null) positiveInt('train limit', config.trainLimit);
  if (config.testLimit !== null) positiveInt('test limit', config.testLimit);
  if (config.imageSize !== null) positiveInt('image size', config.imageSize);
  if (config.imageSize !== null && config.imageSize > MAX_INPUT_SIDE)
    problems.push(`image size must be at most ${MAX_INPUT_SIDE}, got ${config.imageSize}`);
  if (config.saveEvery !== undefined && config.saveEvery !== null)
    positiveInt('save every', config.saveEvery);
  if (config.workers !== undefined) positiveInt('workers', config.workers);
  if ((config.workers ?? 1) > config.batchSize)
    problems.push(`workers (${config.workers}) must not exceed the batch size (${config.batchSize})`);
  if (!Number.isInteger(config.seed)) problems.push(`seed must be an integer, got ${config.seed}`);
  problems.push(...scheduleProblems(config.schedule));
  if (config.earlyStopping) problems.push(...earlyStoppingProblems(config.earlyStopping));
  if (config.reduceLrOnPlateau) problems.push(...plateauProblems(config.reduceLrOnPlateau));
  if (config.schedule.kind === 'cosine' && config.schedule.minLr > config.lr) {
    problems.push(
      `minimum lr (${config.schedule.minLr}) must not exceed lr (${config.lr}): the cosine schedule would raise the rate`,
    );
  }
  return problems;
}

/** The SGD hyper-parameters of a run (the optimizer on this thread and every replica's are built from these). */
export function sgdOptions(config: TrainConfig): SGDOptions {
  return {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
  };
}
