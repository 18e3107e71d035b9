/**
 * `rla train`: trains a registry model with the paper's recipes (or any overrides) on a named dataset, with a
 * progress bar, a JSONL metrics log, keep-best weights, resumable checkpoints, NaN stop and clean Ctrl-C.
 * `npm start` runs `rla train --recipe demo` (the embedded Fashion-MNIST subset, a couple of minutes).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { countParams } from '../../count/count.js';
import { firstSamples, type ImageDataset, subset, trainValSplit } from '../../data/dataset.js';
import { DataLoader } from '../../data/loader.js';
import type { Preprocessing } from '../../data/preprocessing.js';
import { DATASET_NAMES, openDataset } from '../../data/sources.js';
import { initBackend } from '../../engine/backend.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { createModel } from '../../models/index.js';
import { loadOnnxRuntime } from '../../onnx/session.js';
import { createWorkerPool } from '../../parallel/pool.js';
import { createPoolTraining, type PoolTraining } from '../../parallel/pool-step.js';
import {
  moduleRngs,
  readTrainingCheckpoint,
  restoreTraining,
  type TrainingState,
} from '../../train/checkpoint.js';
import { configProblems, DEFAULT_CONFIG, type TrainConfig } from '../../train/config.js';
import {
  createOrtTraining,
  type EngineTraining,
  TRAINING_ENGINES,
  type TrainingEngine,
} from '../../train/ort-step.js';
import { formatDuration, ProgressReporter, type ProgressStream } from '../../train/progress.js';
import { RECIPE_NAMES, RECIPES, resolveConfig } from '../../train/recipes.js';
import { describeSchedule, SCHEDULE_KINDS, type ScheduleSpec } from '../../train/schedule.js';
import { SGD } from '../../train/sgd.js';
import {
  BEST_FILE,
  CHECKPOINT_FILE,
  describePosition,
  Trainer,
  type TrainOutcome,
} from '../../train/trainer.js';
import { printableText } from '../../util/bounded-text.js';
import { percent } from '../../util/format.js';
import { removeStaleTemporaryFiles } from '../../weights/files-node.js';
import {
  BACKEND_OPTION,
  backendOption,
  integerOption,
  type OptionSpec,
  parseCommandArgs,
  UsageError,
} from '../args.js';
import { MODEL_OPTIONS, modelOptionsFrom } from '../model-args.js';

/** `rla train --help`. */
export const TRAIN_USAGE = `usage: rla train [--recipe NAME] [options]        (rla train --resume RUN_DIR [--epochs N])
  --recipe NAME          ${RECIPE_NAMES.join(' | ')} (default demo); every value below overrides it
${Object.entries(RECIPES)
  .map(([name, r]) => `                           ${name}: ${r.description}`)
  .join('\n')}
  --model NAME           registry model (rla list); --options JSON for createModel options
  --dataset NAME         (the recipe's by default) ${DATASET_NAMES.join(' | ')}
  --data DIR             dataset directory (fashion-mnist defaults to Debian's /usr/share/datasets/fashion-mnist)
  --image-size N         model input side for imagefolder (default 224: RandomResizedCrop N, resize N*256/224;
                         at most 1024); an error with other datasets, whose images have a fixed size
  --epochs N  --batch-size N  --lr X  --momentum X  --weight-decay X  --nesterov | --no-nesterov
  --schedule KIND        ${SCHEDULE_KINDS.join(' | ')}, with --milestones 150,225  --gamma X  --step-size N
                         --warmup-epochs X  --min-lr X (cosine)
  --augment | --no-augment  the dataset's training augmentation, or train on the evaluation transforms
                         (no random crop/flip: the demo recipe's choice for its two epochs)
  --val-size N           training images held out for validation (cifar: 5000); 0 = validate on the test split
  --train-limit N        use the first N training images; --test-limit N likewise for the test split
  --eval-batch-size N    --seed N    --data-workers N (decode threads for imagefolder)
  --workers N            model replicas training data-parallel on N threads (wasm/cpu backends; default 1).
                         BatchNorm uses each worker's shard statistics (as PyTorch DDP), so N is part of the run
  --save-every N         also checkpoint every N training steps inside an epoch (a killed run loses at most N
                         steps; resume continues exactly); may be given with --resume
  --out DIR              run directory (default runs/<recipe>-<time>): checkpoint.safetensors, best.safetensors,
                         metrics.jsonl
  --resume DIR           continue the run in DIR exactly where it stopped (only --epochs, --data,
                         --data-workers, --backend may be given with it)
  --engine E             ort | tfjs (default ort: the whole SGD step as one ONNX Runtime graph, evaluation on
                         ONNX Runtime too; tfjs: TF.js on --backend). Checkpoints are the same on both engines
  --threads N            ONNX Runtime threads (default: every core)
  --backend B            auto | wasm | cpu | tensorflow (TF.js engine, and the model the run keeps)
Ctrl-C stops after the current batch and saves a checkpoint; a NaN/Inf loss stops without overwriting it.`;

const OPTIONS: OptionSpec = {
  recipe: { type: 'string' },
  ...MODEL_OPTIONS,
  dataset: { type: 'string' },
  data: { type: 'string' },
  'image-size': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  nesterov: { type: 'boolean' },
  'no-nesterov': { type: 'boolean' },
  augment: { type: 'boolean' },
  'no-augment': { type: 'boolean' },
  schedule: { type: 'string' },
  milestones: { type: 'string' },
  gamma: { type: 'string' },
  'step-size': { type: 'string' },
  'warmup-epochs': { type: 'string' },
  'min-lr': { type: 'string' },
  'val-size': { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  'eval-batch-size': { type: 'string' },
  seed: { type: 'string' },
  'data-workers': { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string', short: 'o' },
  resume: { type: 'string' },
  engine: { type: 'string' },
  threads: { type: 'string' },
  'save-every': { type: 'string' },
  ...BACKEND_OPTION,
};

/** Options that may accompany --resume (they do not change what the run computes). */
const RESUME_OPTIONS = new Set([
  'resume',
  'epochs',
  'data',
  'data-workers',
  'backend',
  'engine',
  'threads',
  'save-every',
]);

/**
 * The engine --engine names; else TF.js for a run on a worker pool (--workers N > 1 trains TF.js replicas), else
 * ONNX Runtime when it loads (the fast one), else TF.js.
 */
async function engineFrom(values: Record<string, unknown>, config: TrainConfig): Promise<TrainingEngine> {
  if (values.engine !== undefined) {
    const engine = String(values.engine) as TrainingEngine;
    if (!TRAINING_ENGINES.includes(engine)) {
      throw new UsageError(`--engine ${engine}: choose one of ${TRAINING_ENGINES.join(', ')}`);
    }
    return engine;
  }
  if ((config.workers ?? 1) > 1) return 'tfjs';
  try {
    await loadOnnxRuntime();
    return 'ort';
  } catch {
    return 'tfjs';
  }
}

function numberOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new UsageError(`--${name} must be a number, got ${value}`);
  return parsed;
}

/** The schedule from --schedule and its parameters, over the recipe's schedule. */
function scheduleFrom(values: Record<string, unknown>, base: ScheduleSpec): ScheduleSpec | undefined {
  const kind = values.schedule === undefined ? base.kind : String(values.schedule);
  const touched = ['schedule', 'milestones', 'gamma', 'step-size', 'warmup-epochs', 'min-lr'].some(
    (k) => values[k] !== undefined,
  );
  if (!touched) return undefined;
  const same = kind === base.kind ? (base as Record<string, unknown>) : {};
  const gamma = numberOption('gamma', values.gamma) ?? (same.gamma as number | undefined);
  switch (kind) {
    case 'constant':
      return { kind };
    case 'multistep': {
      const milestones =
        values.milestones === undefined
          ? ((same.milestones as number[] | undefined) ?? [150, 225])
          : String(values.milestones)
              .split(',')
              .map((m) => numberOption('milestones', m.trim()) as number);
      return { kind, milestones, gamma: gamma ?? 0.1 };
    }
    case 'step':
      return {
        kind,
        stepSize:
          integerOption('step-size', values['step-size']) ?? (same.stepSize as number | undefined) ?? 30,
        gamma: gamma ?? 0.1,
      };
    case 'exponential':
      return { kind, gamma: gamma ?? 0.98 };
    case 'cosine':
      return {
        kind,
        warmupEpochs:
          numberOption('warmup-epochs', values['warmup-epochs']) ??
          (same.warmupEpochs as number | undefined) ??
          0,
        warmupStartFactor: (same.warmupStartFactor as number | undefined) ?? 0.1,
        minLr: numberOption('min-lr', values['min-lr']) ?? (same.minLr as number | undefined) ?? 0,
      };
    default:
      throw new UsageError(`--schedule ${kind}: choose one of ${SCHEDULE_KINDS.join(', ')}`);
  }
}

/** The run's config: defaults < recipe < options. */
function configFrom(values: Record<string, unknown>): TrainConfig {
  const recipe = values.recipe === undefined ? 'demo' : String(values.recipe);
  if (!RECIPES[recipe]) throw new UsageError(`--recipe ${recipe}: choose one of ${RECIPE_NAMES.join(', ')}`);
  const base = resolveConfig(DEFAULT_CONFIG, recipe, {});
  const { model, options } = modelOptionsFrom(values);
  if (options.numClasses !== undefined)
    throw new UsageError('--num-classes comes from the dataset in rla train');
  for (const flag of ['nesterov', 'augment']) {
    if (values[flag] && values[`no-${flag}`])
      throw new UsageError(`--${flag} and --no-${flag} contradict each other`);
  }
  const optional = (name: string) =>
    values[name] === undefined ? undefined : integerOption(name, values[name]);
  const config = resolveConfig(DEFAULT_CONFIG, recipe, {
    model,
    modelOptions: values.options === undefined ? undefined : options,
    dataset: values.dataset === undefined ? undefined : String(values.dataset),
    data: values.data === undefined ? undefined : String(values.data),
    imageSize: optional('image-size'),
    epochs: optional('epochs'),
    batchSize: optional('batch-size'),
    lr: numberOption('lr', values.lr),
    momentum: numberOption('momentum', values.momentum),
    weightDecay: numberOption('weight-decay', values['weight-decay']),
    nesterov: values.nesterov ? true : values['no-nesterov'] ? false : undefined,
    augment: values.augment ? true : values['no-augment'] ? false : undefined,
    schedule: scheduleFrom(values, base.schedule),
    valSize:
      values['val-size'] === undefined
        ? undefined
        : integerOption('val-size', values['val-size'], { min: 0 }),
    trainLimit: optional('train-limit'),
    testLimit: optional('test-limit'),
    evalBatchSize: optional('eval-batch-size'),
    seed: values.seed === undefined ? undefined : integerOption('seed', values.seed, { min: 0 }),
    dataWorkers: optional('data-workers'),
    workers: optional('workers'),
    saveEvery: optional('save-every'),
  });
  if (config.imageSize !== null && config.dataset !== 'imagefolder') {
    throw new UsageError(
      `--image-size only applies to --dataset imagefolder; ${config.dataset} images have a fixed size`,
    );
  }
  const problems = configProblems(config);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return config;
}

function defaultRunDir(values: Record<string, unknown>): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join('runs', `${values.recipe ?? 'demo'}-${stamp}`);
}

/** A last training batch of a single image is dropped: BatchNorm cannot train on it (PyTorch raises too). */
function dropsLastImage(images: number, batchSize: number): boolean {
  return images % batchSize === 1;
}

interface Splits {
  train: ImageDataset;
  val: ImageDataset | null;
  test: ImageDataset;
  classNames: string[];
  preprocessing: Preprocessing;
  source: string;
}

/** Opens the dataset and cuts the train/validation split the config asks for. */
async function openSplits(config: TrainConfig): Promise<Splits> {
  const opened = await openDataset(config.dataset, { data: config.data, imageSize: config.imageSize });
  let train = firstSamples(opened.train, config.trainLimit ?? undefined);
  const test = firstSamples(opened.test, config.testLimit ?? undefined);
  let val: ImageDataset | null = null;
  if (config.valSize > 0) {
    if (config.valSize >= train.length) {
      throw new UsageError(
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
    throw new UsageError(
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

/** Where progress goes: the live terminal, or `out` line by line (pipes, tests). */
function progressStream(out: (line: string) => void): ProgressStream {
  if (process.stdout.isTTY) return process.stdout;
  return { isTTY: false, write: (text: string) => out(text.replace(/\n$/, '')) };
}

/** Training on a worker pool, and the way to stop its threads. */
type RunningPool = PoolTraining & { close(): Promise<void> };

/**
 * With `config.workers` > 1, a worker pool whose replicas start from `model` and `optimizer` (fresh or resumed),
 * or null for training on this thread.
 */
async function startPool(
  config: TrainConfig,
  model: ClassifierModel,
  optimizer: SGD,
  backend: string,
): Promise<RunningPool | null> {
  const workers = config.workers ?? 1;
  if (workers === 1) return null;
  if (backend !== 'wasm' && backend !== 'cpu') {
    throw new UsageError(
      `--workers ${workers} needs the wasm or cpu backend, not ${backend} (which already uses every core)`,
    );
  }
  const generators = [...moduleRngs(model).keys()];
  if (generators.length > 0) {
    throw new UsageError(
      `--workers ${workers}: ${config.model} draws random numbers while training (${generators.join(', ')}), ` +
        'which replicas on several threads cannot reproduce or checkpoint; train it with --workers 1',
    );
  }
  const pool = await createWorkerPool({
    model: config.model,
    options: { ...config.modelOptions, numClasses: model.numClasses, seed: config.seed },
    workers,
    backend,
    optimizer: {
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      nesterov: config.nesterov,
    },
  });
  try {
    const training = createPoolTraining(pool, model, optimizer);
    await training.push();
    return { ...training, close: () => pool.close() };
  } catch (error) {
    await pool.close();
    throw error;
  }
}

/** Runs `rla train`; returns the exit code (130 after Ctrl-C, 1 after a non-finite loss). */
export async function trainCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, TRAIN_USAGE);
  if (values.help) {
    out(TRAIN_USAGE);
    return 0;
  }
  let config: TrainConfig;
  let resumed: TrainingState | undefined;
  let runDir: string;
  let checkpoint: Awaited<ReturnType<typeof readTrainingCheckpoint>> | undefined;
  if (values.resume !== undefined) {
    const extra = Object.keys(values).filter((k) => values[k] !== undefined && !RESUME_OPTIONS.has(k));
    if (extra.length > 0) {
      throw new UsageError(
        `--resume takes the run's settings from its checkpoint; remove --${extra.join(', --')}`,
      );
    }
    runDir = String(values.resume);
    checkpoint = await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE));
    resumed = checkpoint.state;
    config = {
      ...resumed.config,
      epochs: integerOption('epochs', values.epochs) ?? resumed.config.epochs,
      data: values.data === undefined ? resumed.config.data : String(values.data),
      dataWorkers: integerOption('data-workers', values['data-workers']) ?? resumed.config.dataWorkers,
      saveEvery: integerOption('save-every', values['save-every']) ?? resumed.config.saveEvery ?? null,
    };
  } else {
    config = configFrom(values);
    runDir = values.out === undefined ? defaultRunDir(values) : String(values.out);
    if (existsSync(join(runDir, CHECKPOINT_FILE))) {
      throw new UsageError(
        `${runDir} already holds a run: continue it with --resume ${runDir}, or choose another --out`,
      );
    }
  }

  const engine = await engineFrom(values, config);
  const threads = values.threads === undefined ? undefined : integerOption('threads', values.threads);
  if (engine === 'ort' && (config.workers ?? 1) > 1) {
    throw new UsageError(
      `--workers ${config.workers} trains TF.js replicas; the ort engine already uses every core (--threads)`,
    );
  }
  const backend = await initBackend({ backend: backendOption(values.backend) });
  const splits = await openSplits(config);
  const model: ClassifierModel = createModel(config.model, {
    ...config.modelOptions,
    numClasses: splits.classNames.length,
    seed: config.seed,
  });
  const loaders: DataLoader[] = [];
  let pool: RunningPool | null = null;
  let engineTraining: EngineTraining | null = null;
  const controller = new AbortController();
  // First Ctrl-C: finish the batch and checkpoint (the trainer watches the signal); second: leave at once.
  const onSigint = () => {
    if (controller.signal.aborted) {
      process.stderr.write('\nsecond Ctrl-C: exiting without waiting for the checkpoint\n');
      process.exit(130);
    }
    controller.abort();
    process.stderr.write(
      '\nCtrl-C: stopping after this batch and saving a checkpoint (Ctrl-C again to quit now)\n',
    );
  };
  try {
    model.checkInputSize(splits.preprocessing.size, splits.preprocessing.size);
    const optimizer = new SGD(model.parameters(), {
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      nesterov: config.nesterov,
    });
    if (checkpoint) restoreTraining(model, optimizer, checkpoint);
    if (engine === 'ort') {
      engineTraining = await createOrtTraining(model, optimizer, {
        imageSize: splits.preprocessing.size,
        threads: threads ?? availableParallelism(),
      });
    } else pool = await startPool(config, model, optimizer, backend);
    const engineName =
      engine === 'ort'
        ? `ort (onnxruntime-node, ${threads ?? availableParallelism()} threads)`
        : `tfjs-${backend}`;
    const { preprocessing } = splits;
    const pipeline = (train: boolean) => ({
      ops: train && config.augment ? preprocessing.train : preprocessing.eval,
      mean: preprocessing.mean,
      std: preprocessing.std,
      size: preprocessing.size,
    });
    const workers = config.dataWorkers ?? undefined;
    const loader = (dataset: ImageDataset, train: boolean) => {
      const created = new DataLoader(dataset, {
        batchSize: train ? config.batchSize : config.evalBatchSize,
        shuffle: train,
        dropLast: train && dropsLastImage(dataset.length, config.batchSize),
        pipeline: pipeline(train),
        seed: config.seed,
        workers,
      });
      loaders.push(created);
      return created;
    };
    const trainLoader = loader(splits.train, true);
    const testLoader = loader(splits.test, false);
    const valLoader = splits.val ? loader(splits.val, false) : testLoader;

    mkdirSync(runDir, { recursive: true });
    const stale = await removeStaleTemporaryFiles(runDir);
    const params = countParams(model);
    out(`rla train ${resumed ? `(resuming ${describePosition(resumed)})` : ''}`.trimEnd());
    out(
      `  model     ${config.model} ${JSON.stringify(config.modelOptions)}: ${params.toLocaleString('en-US')} parameters`,
    );
    out(
      `  data      ${config.dataset} (${splits.source}): ${splits.train.length} train / ` +
        `${splits.val ? `${splits.val.length} validation / ` : ''}${splits.test.length} test images, ` +
        `${splits.classNames.length} classes, input ${preprocessing.size}x${preprocessing.size}`,
    );
    out(
      `  optimizer SGD lr ${config.lr} momentum ${config.momentum}${config.nesterov ? ' (Nesterov)' : ''} ` +
        `weight decay ${config.weightDecay}, batch ${config.batchSize}, ${config.epochs} epochs, ` +
        `schedule ${describeSchedule(config.schedule)}, seed ${config.seed}`,
    );
    out(
      `  engine    ${engineName}${pool ? `, ${config.workers} data-parallel workers` : ''}; run directory ${runDir}`,
    );
    if (stale.length > 0) {
      out(
        `  removed   ${stale.length} temporary file(s) left by an interrupted write: ${stale.map((n) => printableText(n)).join(', ')}`,
      );
    }

    process.on('SIGINT', onSigint);
    const started = performance.now();
    const trainer = new Trainer({
      model,
      optimizer,
      config,
      train: trainLoader,
      val: valLoader,
      test: testLoader,
      runDir,
      classNames: splits.classNames,
      preprocessing,
      backend: engineName,
      signal: controller.signal,
      progress: new ProgressReporter(progressStream(out)),
      resumed,
      step: engineTraining?.step ?? pool?.step,
      pullState: engineTraining?.pull ?? pool?.pull,
      evaluate: engineTraining?.evaluate,
    });
    const outcome = await trainer.run();
    const seconds = (performance.now() - started) / 1000;
    optimizer.dispose();
    return summarize(outcome, { out, runDir, seconds, config, splits, backend: engineName, params });
  } finally {
    process.off('SIGINT', onSigint);
    await pool?.close();
    await engineTraining?.release();
    await Promise.all(loaders.map((l) => l.close()));
    model.dispose();
  }
}

function summarize(
  outcome: TrainOutcome,
  c: {
    out: (line: string) => void;
    runDir: string;
    seconds: number;
    config: TrainConfig;
    splits: Splits;
    backend: string;
    params: number;
  },
): number {
  const { out, runDir, config, splits } = c;
  if (outcome.status === 'interrupted') {
    out(`stopped by Ctrl-C; continue with: rla train --resume ${runDir}`);
    return 130;
  }
  if (outcome.status === 'diverged') {
    out(`error: ${outcome.message}`);
    return 1;
  }
  const chance = 1 / splits.classNames.length;
  out('');
  out('== summary ==');
  out(
    `  model      ${config.model} ${JSON.stringify(config.modelOptions)} (${c.params.toLocaleString('en-US')} parameters)`,
  );
  out(
    `  data       ${config.dataset}: ${splits.train.length} train${splits.val ? ` / ${splits.val.length} validation` : ''} / ` +
      `${splits.test.length} test images, ${splits.classNames.length} classes (chance ${percent(chance)})`,
  );
  out(`  training   ${config.epochs} epoch(s), ${formatDuration(c.seconds)} wall time on ${c.backend}`);
  if (outcome.best) {
    const source = splits.val ? 'validation' : 'test';
    out(`  best       epoch ${outcome.best.epoch}: ${source} top-1 ${percent(outcome.best.top1)}`);
  }
  if (outcome.test) {
    out(
      `  test       top-1 ${percent(outcome.test.top1)}  top-5 ${percent(outcome.test.top5)}  ` +
        `(best-validation weights, ${outcome.test.count} images; chance ${percent(chance)})`,
    );
  } else if (outcome.lastVal) {
    out(
      `  last eval  top-1 ${percent(outcome.lastVal.top1)}  top-5 ${percent(outcome.lastVal.top5)} (${outcome.lastVal.count} images)`,
    );
  }
  out(
    `  files      ${join(runDir, BEST_FILE)}, ${join(runDir, CHECKPOINT_FILE)}, ${join(runDir, 'metrics.jsonl')}`,
  );
  out(
    `  next       rla best ${runDir}  |  rla plot ${runDir}  |  rla eval --weights ${join(runDir, BEST_FILE)}`,
  );
  return 0;
}
