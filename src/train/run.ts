/**
 * One training run assembled from its config, the one way a run starts (`rla train` and the tests both call
 * {@link openTrainingRun}): the dataset cut into train / validation / test, the model, the SGD optimizer (restored
 * when resuming), the engine that steps it (ONNX Runtime; TF.js on this thread; TF.js replicas on a worker pool)
 * and the data loaders, then the {@link Trainer} over them.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { firstSamples, type ImageDataset, subset, trainValSplit } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { type DatasetSplits, openDataset } from '../data/sources.js';
import { type BackendChoice, initBackend } from '../engine/backend.js';
import type { ClassifierModel } from '../models/classifier.js';
import { createModel } from '../models/index.js';
import { loadOnnxRuntime } from '../onnx/session.js';
import { createWorkerPool } from '../parallel/pool.js';
import { createPoolTraining } from '../parallel/pool-step.js';
import { removeStaleTemporaryFiles } from '../weights/files-node.js';
import { sgdOptions, type TrainConfig } from './config.js';
import { createOrtTraining, type EngineTraining, type TrainingEngine } from './ort-step.js';
import type { ProgressReporter } from './progress.js';
import { SGD } from './sgd.js';
import { Trainer, type TrainerOptions, type TrainOutcome } from './trainer.js';
import {
  moduleRngs,
  restoreTraining,
  type TrainingCheckpoint,
  type TrainingState,
} from './training-checkpoint.js';

/** A dataset's splits as `openDataset` returns them (any name). */
export type OpenedDataset = Omit<DatasetSplits, 'name'>;

/** A run that cannot start as configured (too few images, an engine that cannot run the config, ...). */
export class TrainingSetupError extends Error {}

/** The images a run trains, validates and tests on. */
export interface TrainingData {
  train: ImageDataset;
  /** Held-out training images; null when `config.valSize` is 0 (validation uses the test split). */
  val: ImageDataset | null;
  test: ImageDataset;
  classNames: string[];
  preprocessing: DatasetSplits['preprocessing'];
  /** Where the dataset was read from. */
  source: string;
}

export interface TrainingRunOptions {
  config: TrainConfig;
  runDir: string;
  /** The checkpoint of the run being resumed (its state must hold `config`); omitted: a fresh run. */
  checkpoint?: TrainingCheckpoint;
  /** Omitted: {@link defaultEngine}. */
  engine?: TrainingEngine;
  /** ONNX Runtime threads (default: one per core). */
  threads?: number;
  /** TF.js backend of the model the run keeps (and of the tfjs engine). */
  backend?: BackendChoice;
  /** The dataset, already opened (tests use in-memory images); omitted: `config.dataset` is opened. */
  dataset?: OpenedDataset;
  signal?: AbortSignal;
  progress?: ProgressReporter;
  afterStep?: TrainerOptions['afterStep'];
  /** Called after each step and epoch, after the config's own (early stopping, reduce-on-plateau). */
  callbacks?: TrainerOptions['callbacks'];
}

/** A run ready to train; `close()` releases the engine, the loaders and the model. */
export interface TrainingRun {
  config: TrainConfig;
  model: ClassifierModel;
  optimizer: SGD;
  data: TrainingData;
  /** How the run trains, for people and the metrics log: "ort (onnxruntime-node, 2 threads)", "tfjs-wasm". */
  engineName: string;
  /** Data-parallel workers (1: training on this thread or on ONNX Runtime). */
  workers: number;
  /** Temporary files of an interrupted write that were removed from the run directory. */
  staleFiles: string[];
  /** The resumed run's state (absent for a fresh run). */
  resumed?: TrainingState;
  run(): Promise<TrainOutcome>;
  close(): Promise<void>;
}

/** A last training batch of a single image is dropped: BatchNorm cannot train on it (PyTorch raises too). */
function dropsLastImage(images: number, batchSize: number): boolean {
  return images % batchSize === 1;
}

/** Applies the config's limits and cuts its train/validation split. */
function cutSplits(config: TrainConfig, opened: OpenedDataset): TrainingData {
  let train = firstSamples(opened.train, config.trainLimit ?? undefined);
  const test = firstSamples(opened.test, config.testLimit ?? undefined);
  let val: ImageDataset | null = null;
  if (config.valSize > 0) {
    if (config.valSize >= train.length) {
      throw new TrainingSetupError(
        `--val-size ${config.valSize} leaves no training images (the training split has ${train.length})`,
      );
    }
    const split = trainValSplit(train.length, config.valSize, config.seed);
    val = subset(train, split.val);
    train = subset(train, split.train);
  }
  const steps = Math.ceil(
    (train.length - (dropsLastImage(train.length, config.batchSize) ? 1 : 0)) / config.batchSize,
  );
  if (steps === 0) {
    throw new TrainingSetupError(
      `nothing to train: ${train.length} training image(s) with batch size ${config.batchSize} make no step ` +
        '(a last batch of one image is dropped, as BatchNorm cannot train on it); use more images (--train-limit, --val-size)',
    );
  }
  return {
    train,
    val,
    test,
    classNames: opened.classNames,
    preprocessing: opened.preprocessing,
    source: opened.dir,
  };
}

/**
 * The engine of a run that names none: TF.js on a worker pool (`config.workers` > 1 trains TF.js replicas), else
 * ONNX Runtime when it loads (the fast one), else TF.js.
 */
export async function defaultEngine(config: TrainConfig): Promise<TrainingEngine> {
  if ((config.workers ?? 1) > 1) return 'tfjs';
  try {
    await loadOnnxRuntime();
    return 'ort';
  } catch {
    return 'tfjs';
  }
}

/**
 * With `config.workers` > 1, a worker pool whose replicas start from `model` and `optimizer` (fresh or resumed);
 * null for training on this thread.
 */
async function startPool(
  config: TrainConfig,
  model: ClassifierModel,
  optimizer: SGD,
  backend: string,
): Promise<EngineTraining | null> {
  const workers = config.workers ?? 1;
  if (workers === 1) return null;
  if (backend !== 'wasm' && backend !== 'cpu') {
    throw new TrainingSetupError(
      `--workers ${workers} needs the wasm or cpu backend, not ${backend} (which already uses every core)`,
    );
  }
  const generators = [...moduleRngs(model).keys()];
  if (generators.length > 0) {
    throw new TrainingSetupError(
      `--workers ${workers}: ${config.model} draws random numbers while training (${generators.join(', ')}), ` +
        'which replicas on several threads cannot reproduce or checkpoint; train it with --workers 1',
    );
  }
  const pool = await createWorkerPool({
    model: config.model,
    options: { ...config.modelOptions, numClasses: model.numClasses, seed: config.seed },
    workers,
    backend,
    optimizer: sgdOptions(config),
  });
  try {
    const training = createPoolTraining(pool, model, optimizer);
    await training.push();
    return { step: training.step, pull: training.pull, release: () => pool.close() };
  } catch (error) {
    await pool.close();
    throw error;
  }
}

/** Opens the data, builds (or restores) the model and optimizer and starts the engine of one training run. */
export async function openTrainingRun(options: TrainingRunOptions): Promise<TrainingRun> {
  const { config, runDir, checkpoint } = options;
  const engine = options.engine ?? (await defaultEngine(config));
  const workers = config.workers ?? 1;
  if (engine === 'ort' && workers > 1) {
    throw new TrainingSetupError(
      `--workers ${workers} trains TF.js replicas; the ort engine already uses every core (--threads)`,
    );
  }
  const backend = await initBackend({ backend: options.backend });
  const data = cutSplits(
    config,
    options.dataset ??
      (await openDataset(config.dataset, { data: config.data, imageSize: config.imageSize })),
  );
  const model = createModel(config.model, {
    ...config.modelOptions,
    numClasses: data.classNames.length,
    seed: config.seed,
  });
  const loaders: DataLoader[] = [];
  let optimizer: SGD | null = null;
  let engineTraining: EngineTraining | null = null;
  const close = async () => {
    await engineTraining?.release();
    await Promise.all(loaders.map((loader) => loader.close()));
    optimizer?.dispose();
    model.dispose();
  };
  try {
    const { preprocessing } = data;
    model.checkInputSize(preprocessing.size, preprocessing.size);
    optimizer = new SGD(model.parameters(), sgdOptions(config));
    if (checkpoint) restoreTraining(model, optimizer, checkpoint);
    const threads = options.threads ?? availableParallelism();
    engineTraining =
      engine === 'ort'
        ? await createOrtTraining(model, optimizer, { imageSize: preprocessing.size, threads })
        : await startPool(config, model, optimizer, backend);
    const engineName = engine === 'ort' ? `ort (onnxruntime-node, ${threads} threads)` : `tfjs-${backend}`;
    const loader = (dataset: ImageDataset, train: boolean) => {
      const created = new DataLoader(dataset, {
        batchSize: train ? config.batchSize : config.evalBatchSize,
        shuffle: train,
        dropLast: train && dropsLastImage(dataset.length, config.batchSize),
        pipeline: {
          ops: train && config.augment ? preprocessing.train : preprocessing.eval,
          mean: preprocessing.mean,
          std: preprocessing.std,
          size: preprocessing.size,
        },
        seed: config.seed,
        workers: config.dataWorkers ?? undefined,
      });
      loaders.push(created);
      return created;
    };
    const trainLoader = loader(data.train, true);
    const testLoader = loader(data.test, false);
    const valLoader = data.val ? loader(data.val, false) : testLoader;
    mkdirSync(runDir, { recursive: true });
    const staleFiles = await removeStaleTemporaryFiles(runDir);
    const trained = optimizer;
    return {
      config,
      model,
      optimizer: trained,
      data,
      engineName,
      workers,
      staleFiles,
      resumed: checkpoint?.state,
      run: () =>
        new Trainer({
          model,
          optimizer: trained,
          config,
          train: trainLoader,
          val: valLoader,
          test: testLoader,
          runDir,
          classNames: data.classNames,
          preprocessing,
          backend: engineName,
          signal: options.signal,
          progress: options.progress,
          resumed: checkpoint?.state,
          afterStep: options.afterStep,
          callbacks: options.callbacks,
          step: engineTraining?.step,
          pullState: engineTraining?.pull,
          evaluate: engineTraining?.evaluate,
        }).run(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
