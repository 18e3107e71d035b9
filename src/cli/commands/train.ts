/**
 * `rla train`: trains a registry model with the paper's recipes (or any overrides) on a named dataset, with a
 * progress bar, a JSONL metrics log, keep-best weights, resumable checkpoints, NaN stop and clean Ctrl-C.
 * `npm start` runs `rla train --recipe demo` (the embedded Fashion-MNIST subset, a couple of minutes).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { countParams } from '../../count/count.js';
import { DATASET_NAMES } from '../../data/sources.js';
import {
  EARLY_STOPPING_DEFAULTS,
  type EarlyStoppingOptions,
  MONITORS,
  PLATEAU_DEFAULTS,
  type ReduceLrOnPlateauOptions,
} from '../../train/callbacks.js';
import { configProblems, DEFAULT_CONFIG, type TrainConfig } from '../../train/config.js';
import { TRAINING_ENGINES, type TrainingEngine } from '../../train/ort-step.js';
import { formatDuration, ProgressReporter, type ProgressStream } from '../../train/progress.js';
import { RECIPE_NAMES, RECIPES, resolveConfig } from '../../train/recipes.js';
import {
  defaultEngine,
  openTrainingRun,
  type TrainingData,
  type TrainingRun,
  TrainingSetupError,
} from '../../train/run.js';
import { describeSchedule, SCHEDULE_KINDS, type ScheduleSpec } from '../../train/schedule.js';
import { BEST_FILE, CHECKPOINT_FILE, describePosition, type TrainOutcome } from '../../train/trainer.js';
import { readTrainingCheckpoint, type TrainingState } from '../../train/training-checkpoint.js';
import { printableText } from '../../util/bounded-text.js';
import { percent } from '../../util/format.js';
import { writeFileAtomic } from '../../weights/files-node.js';
import {
  BACKEND_OPTION,
  backendOption,
  integerOption,
  type OptionSpec,
  parseCommandArgs,
  UsageError,
} from '../args.js';
import { MODEL_OPTIONS, modelOptionsFrom } from '../model-args.js';
import { configAsOptions, readConfigFile } from '../train-config-file.js';

/** The resolved config inside a run directory (the shape `--config` reads). */
export const CONFIG_FILE = 'config.json';

/** `rla train --help`. */
export const TRAIN_USAGE = `usage: rla train [--recipe NAME] [--config FILE] [options]   (rla train --resume RUN_DIR [--epochs N])
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
                         --warmup-epochs X  --warmup-start-factor X  --min-lr X (cosine)
  --augment | --no-augment  the dataset's training augmentation, or train on the evaluation transforms
                         (no random crop/flip: the demo recipe's choice for its two epochs)
  --val-size N           training images held out for validation (cifar: 5000); 0 = validate on the test split
  --train-limit N        use the first N training images; --test-limit N likewise for the test split
  --eval-batch-size N    --seed N    --data-workers N (decode threads for imagefolder)
  --workers N            model replicas training data-parallel on N threads (wasm/cpu backends; default 1).
                         BatchNorm uses each worker's shard statistics (as PyTorch DDP), so N is part of the run
  --save-every N         also checkpoint every N training steps inside an epoch (a killed run loses at most N
                         steps; resume continues exactly); may be given with --resume
  --early-stop-patience N  stop after N epochs without improvement (Keras EarlyStopping; turns it on), with
                         --early-stop-monitor M (default val_loss)  --early-stop-min-delta X (0)
                         --early-stop-mode min | max | auto (auto: min for losses, max for accuracies)
                         monitors: ${MONITORS.join(' | ')}
  --plateau-patience N   lower the lr after more than N epochs without improvement (PyTorch ReduceLROnPlateau;
                         turns it on), with --plateau-factor X (0.1)  --plateau-monitor M (val_loss)
                         --plateau-mode min | max | auto  --plateau-threshold X (1e-4)  --plateau-threshold-mode
                         rel | abs (rel)  --plateau-cooldown N (0)  --plateau-min-lr X (0)
  --config FILE          options from a JSON file ({"batch-size": 64, "milestones": [150, 225], ...}); the command
                         line overrides it; a run's config.json is such a file
  --print-config         print the resolved options as JSON (the run's config.json) and exit
  --out DIR              run directory (default runs/<recipe>-<time>): checkpoint.safetensors, best.safetensors,
                         config.json, metrics.jsonl, metrics.csv
  --resume DIR           continue the run in DIR exactly where it stopped (only --epochs, --data,
                         --data-workers, --backend, --engine, --threads, --save-every, --print-config with it)
  --engine E             ort | tfjs (default ort: the whole SGD step as one ONNX Runtime graph, evaluation on
                         ONNX Runtime too; tfjs: TF.js on --backend). Checkpoints are the same on both engines
  --threads N            ONNX Runtime threads (default: every core)
  --backend B            auto | wasm | cpu | tensorflow (TF.js engine, and the model the run keeps)
Progress goes to stderr, results to stdout. Ctrl-C stops after the current batch and saves a checkpoint; a
NaN/Inf loss stops without overwriting it.`;

/** The options of `rla train` (`rla study` takes the same recipe options). */
export const OPTIONS: OptionSpec = {
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
  'warmup-start-factor': { type: 'string' },
  'early-stop-patience': { type: 'string' },
  'early-stop-monitor': { type: 'string' },
  'early-stop-min-delta': { type: 'string' },
  'early-stop-mode': { type: 'string' },
  'plateau-patience': { type: 'string' },
  'plateau-factor': { type: 'string' },
  'plateau-monitor': { type: 'string' },
  'plateau-mode': { type: 'string' },
  'plateau-threshold': { type: 'string' },
  'plateau-threshold-mode': { type: 'string' },
  'plateau-cooldown': { type: 'string' },
  'plateau-min-lr': { type: 'string' },
  config: { type: 'string' },
  'print-config': { type: 'boolean' },
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
  'print-config',
]);

/** The engine --engine names; undefined lets the run choose (see `defaultEngine`). */
export function engineFrom(values: Record<string, unknown>): TrainingEngine | undefined {
  if (values.engine === undefined) return undefined;
  const engine = String(values.engine) as TrainingEngine;
  if (!TRAINING_ENGINES.includes(engine)) {
    throw new UsageError(`--engine ${engine}: choose one of ${TRAINING_ENGINES.join(', ')}`);
  }
  return engine;
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
  const touched = [
    'schedule',
    'milestones',
    'gamma',
    'step-size',
    'warmup-epochs',
    'warmup-start-factor',
    'min-lr',
  ].some((k) => values[k] !== undefined);
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
        warmupStartFactor:
          numberOption('warmup-start-factor', values['warmup-start-factor']) ??
          (same.warmupStartFactor as number | undefined) ??
          0.1,
        minLr: numberOption('min-lr', values['min-lr']) ?? (same.minLr as number | undefined) ?? 0,
      };
    default:
      throw new UsageError(`--schedule ${kind}: choose one of ${SCHEDULE_KINDS.join(', ')}`);
  }
}

/** The options of one family (`early-stop-`, `plateau-`) that were given, without the prefix. */
function givenWithPrefix(values: Record<string, unknown>, prefix: string): string[] {
  return Object.keys(values)
    .filter((k) => k.startsWith(prefix) && values[k] !== undefined)
    .map((k) => k.slice(prefix.length));
}

/** Early stopping from --early-stop-*: on when --early-stop-patience is given. */
function earlyStoppingFrom(values: Record<string, unknown>): EarlyStoppingOptions | undefined {
  const given = givenWithPrefix(values, 'early-stop-');
  if (given.length === 0) return undefined;
  if (!given.includes('patience'))
    throw new UsageError(
      `--early-stop-${given[0]} needs --early-stop-patience N, which turns early stopping on`,
    );
  const d = EARLY_STOPPING_DEFAULTS;
  return {
    monitor: (values['early-stop-monitor'] as EarlyStoppingOptions['monitor'] | undefined) ?? d.monitor,
    patience: integerOption('early-stop-patience', values['early-stop-patience'], { min: 0 }) ?? d.patience,
    minDelta: numberOption('early-stop-min-delta', values['early-stop-min-delta']) ?? d.minDelta,
    mode: (values['early-stop-mode'] as EarlyStoppingOptions['mode'] | undefined) ?? d.mode,
  };
}

/** Reduce-on-plateau from --plateau-*: on when --plateau-patience is given. */
function plateauFrom(values: Record<string, unknown>): ReduceLrOnPlateauOptions | undefined {
  const given = givenWithPrefix(values, 'plateau-');
  if (given.length === 0) return undefined;
  if (!given.includes('patience'))
    throw new UsageError(
      `--plateau-${given[0]} needs --plateau-patience N, which turns reduce-on-plateau on`,
    );
  const d = PLATEAU_DEFAULTS;
  const text = <T>(name: string) => values[name] as T | undefined;
  return {
    monitor: text<ReduceLrOnPlateauOptions['monitor']>('plateau-monitor') ?? d.monitor,
    mode: text<ReduceLrOnPlateauOptions['mode']>('plateau-mode') ?? d.mode,
    factor: numberOption('plateau-factor', values['plateau-factor']) ?? d.factor,
    patience: integerOption('plateau-patience', values['plateau-patience'], { min: 0 }) ?? d.patience,
    threshold: numberOption('plateau-threshold', values['plateau-threshold']) ?? d.threshold,
    thresholdMode:
      text<ReduceLrOnPlateauOptions['thresholdMode']>('plateau-threshold-mode') ?? d.thresholdMode,
    cooldown: integerOption('plateau-cooldown', values['plateau-cooldown'], { min: 0 }) ?? d.cooldown,
    minLr: numberOption('plateau-min-lr', values['plateau-min-lr']) ?? d.minLr,
  };
}

/** The run's config: defaults < recipe < options. */
export function configFrom(values: Record<string, unknown>): TrainConfig {
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
    earlyStopping: earlyStoppingFrom(values),
    reduceLrOnPlateau: plateauFrom(values),
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

/** Progress on stderr (a live bar on a terminal, plain lines in pipes); epoch summaries go to `out` (stdout). */
export function progressReporter(out: (line: string) => void): ProgressReporter {
  const stream: ProgressStream = process.stderr;
  return new ProgressReporter(stream, out);
}

/** Runs `rla train`; returns the exit code (130 after Ctrl-C, 1 after a non-finite loss). */
export async function trainCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const parsed = parseCommandArgs(argv, OPTIONS, TRAIN_USAGE).values;
  if (parsed.help) {
    out(TRAIN_USAGE);
    return 0;
  }
  // The command line overrides the file; a flag given on the command line also cancels its negation in the file.
  const fromFile = parsed.config === undefined ? {} : readConfigFile(String(parsed.config), OPTIONS);
  for (const flag of ['nesterov', 'augment']) {
    if (parsed[flag] || parsed[`no-${flag}`]) {
      delete fromFile[flag];
      delete fromFile[`no-${flag}`];
    }
  }
  const values: Record<string, unknown> = { ...fromFile, ...parsed };
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

  const threads = values.threads === undefined ? undefined : integerOption('threads', values.threads);
  const settings = {
    engine: engineFrom(values) ?? (await defaultEngine(config)),
    threads,
    backend: backendOption(values.backend),
  };
  const resolved = configAsOptions(config, settings);
  if (values['print-config']) {
    out(JSON.stringify(resolved, null, 2));
    return 0;
  }
  const controller = new AbortController();
  let run: TrainingRun;
  try {
    run = await openTrainingRun({
      config,
      runDir,
      checkpoint,
      engine: settings.engine,
      threads,
      backend: settings.backend,
      signal: controller.signal,
      progress: progressReporter(out),
    });
  } catch (error) {
    if (error instanceof TrainingSetupError) throw new UsageError(error.message);
    throw error;
  }
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
    const { data, engineName } = run;
    const params = countParams(run.model);
    printHeader(out, { config, runDir, resumed, run, params });
    await writeFileAtomic(
      join(runDir, CONFIG_FILE),
      new TextEncoder().encode(`${JSON.stringify(resolved, null, 2)}\n`),
    );
    process.on('SIGINT', onSigint);
    const started = performance.now();
    const outcome = await run.run();
    const seconds = (performance.now() - started) / 1000;
    return summarize(outcome, { out, runDir, seconds, config, data, backend: engineName, params });
  } finally {
    process.off('SIGINT', onSigint);
    await run.close();
  }
}

/** What `rla train` prints before the first epoch: model, data, optimizer, engine and run directory. */
function printHeader(
  out: (line: string) => void,
  c: { config: TrainConfig; runDir: string; resumed?: TrainingState; run: TrainingRun; params: number },
): void {
  const { config, run } = c;
  const { data } = run;
  const size = data.preprocessing.size;
  out(`rla train ${c.resumed ? `(resuming ${describePosition(c.resumed)})` : ''}`.trimEnd());
  out(
    `  model     ${config.model} ${JSON.stringify(config.modelOptions)}: ${c.params.toLocaleString('en-US')} parameters`,
  );
  out(
    `  data      ${config.dataset} (${data.source}): ${data.train.length} train / ` +
      `${data.val ? `${data.val.length} validation / ` : ''}${data.test.length} test images, ` +
      `${data.classNames.length} classes, input ${size}x${size}`,
  );
  out(
    `  optimizer SGD lr ${config.lr} momentum ${config.momentum}${config.nesterov ? ' (Nesterov)' : ''} ` +
      `weight decay ${config.weightDecay}, batch ${config.batchSize}, ${config.epochs} epochs, ` +
      `schedule ${describeSchedule(config.schedule)}, seed ${config.seed}`,
  );
  out(
    `  engine    ${run.engineName}${run.workers > 1 ? `, ${run.workers} data-parallel workers` : ''}; run directory ${c.runDir}`,
  );
  if (run.staleFiles.length > 0) {
    out(
      `  removed   ${run.staleFiles.length} temporary file(s) left by an interrupted write: ${run.staleFiles.map((n) => printableText(n)).join(', ')}`,
    );
  }
}

function summarize(
  outcome: TrainOutcome,
  c: {
    out: (line: string) => void;
    runDir: string;
    seconds: number;
    config: TrainConfig;
    data: TrainingData;
    backend: string;
    params: number;
  },
): number {
  const { out, runDir, config, data } = c;
  if (outcome.status === 'interrupted') {
    out(`stopped by Ctrl-C; continue with: rla train --resume ${runDir}`);
    return 130;
  }
  if (outcome.status === 'diverged') {
    out(`error: ${outcome.message}`);
    return 1;
  }
  const chance = 1 / data.classNames.length;
  out('');
  out('== summary ==');
  out(
    `  model      ${config.model} ${JSON.stringify(config.modelOptions)} (${c.params.toLocaleString('en-US')} parameters)`,
  );
  out(
    `  data       ${config.dataset}: ${data.train.length} train${data.val ? ` / ${data.val.length} validation` : ''} / ` +
      `${data.test.length} test images, ${data.classNames.length} classes (chance ${percent(chance)})`,
  );
  const epochs = outcome.stopped ? `${outcome.stopped.epoch} of ${config.epochs}` : `${config.epochs}`;
  out(`  training   ${epochs} epoch(s), ${formatDuration(c.seconds)} wall time on ${c.backend}`);
  if (outcome.stopped) out(`  stopped    after epoch ${outcome.stopped.epoch}: ${outcome.stopped.reason}`);
  if (outcome.best) {
    const source = data.val ? 'validation' : 'test';
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
    `  files      ${join(runDir, BEST_FILE)}, ${join(runDir, CHECKPOINT_FILE)}, ${join(runDir, CONFIG_FILE)}, ` +
      `${join(runDir, 'metrics.jsonl')}, ${join(runDir, 'metrics.csv')}`,
  );
  out(
    `  next       rla best ${runDir}  |  rla plot ${runDir}  |  rla eval --weights ${join(runDir, BEST_FILE)}`,
  );
  return 0;
}
