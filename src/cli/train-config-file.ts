/**
 * `rla train --config run.json`: a JSON object whose keys are `rla train`'s option names (`batch-size`, or
 * `batchSize`) and whose values are what the options take (numbers, strings, booleans, `milestones` as a list,
 * `options` as an object). Options on the command line override the file. The same shape is what `rla train`
 * writes to `config.json` in the run directory and prints with `--print-config`, so a run's config.json starts
 * the same run again.
 */
import { readFileSync } from 'node:fs';
import type { TrainConfig } from '../train/config.js';
import { describeValue } from '../util/bounded-text.js';
import { closestMatches } from '../util/edit-distance.js';
import { type OptionSpec, UsageError } from './args.js';

/** Options that make no sense inside a config file. */
const NOT_IN_FILE = new Set(['config', 'print-config', 'resume', 'help']);

/** `batchSize` -> `batch-size` (the option spelling of a camel-case key). */
function optionName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The options a config file sets, as `parseArgs` would give them (strings for valued options, true for flags),
 * checked against `spec`: an unknown key or a value of the wrong type is an error naming the file and the key.
 */
export function readConfigFile(path: string, spec: OptionSpec): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`--config ${path}: must hold a JSON object of option names and values`);
  const known = Object.keys(spec).filter((name) => !NOT_IN_FILE.has(name) && !name.startsWith('no-'));
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = optionName(key);
    const option = spec[name];
    if (!option || NOT_IN_FILE.has(name)) {
      const near = closestMatches(name, known, 1);
      throw new UsageError(
        `--config ${path}: unknown key "${key}"${near.length > 0 ? ` (did you mean "${near[0]}"?)` : ''}`,
      );
    }
    if (value === null) continue;
    if (option.type === 'boolean') {
      if (typeof value !== 'boolean')
        throw new UsageError(`--config ${path}: "${key}" must be true or false`);
      const negated = name.startsWith('no-') ? name.slice(3) : `no-${name}`;
      // `nesterov: false` is `--no-nesterov` where the option has a negation.
      if (value) values[name] = true;
      else if (spec[negated]) values[negated] = true;
      continue;
    }
    if (typeof value === 'number' || typeof value === 'string') values[name] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'number'))
      values[name] = value.join(',');
    else if (typeof value === 'object') values[name] = JSON.stringify(value);
    else throw new UsageError(`--config ${path}: "${key}" has an unusable value ${describeValue(value)}`);
  }
  return values;
}

/** The run-level settings that are not part of a {@link TrainConfig}. */
export interface RunSettings {
  engine?: string;
  threads?: number;
  backend?: string;
}

/**
 * A config as the options that give it (the shape of `--config` files): every setting explicit, so the file does
 * not depend on a recipe. Nulls mean "the default" (e.g. `data`: the dataset's default location).
 */
export function configAsOptions(config: TrainConfig, run: RunSettings = {}): Record<string, unknown> {
  const schedule = config.schedule;
  const scheduleOptions: Record<string, unknown> = { schedule: schedule.kind };
  if (schedule.kind === 'multistep')
    Object.assign(scheduleOptions, { milestones: schedule.milestones, gamma: schedule.gamma });
  if (schedule.kind === 'step')
    Object.assign(scheduleOptions, { 'step-size': schedule.stepSize, gamma: schedule.gamma });
  if (schedule.kind === 'exponential') scheduleOptions.gamma = schedule.gamma;
  if (schedule.kind === 'cosine')
    Object.assign(scheduleOptions, {
      'warmup-epochs': schedule.warmupEpochs,
      'warmup-start-factor': schedule.warmupStartFactor,
      'min-lr': schedule.minLr,
    });
  const early = config.earlyStopping;
  const plateau = config.reduceLrOnPlateau;
  return {
    model: config.model,
    options: config.modelOptions,
    dataset: config.dataset,
    data: config.data,
    'image-size': config.imageSize,
    epochs: config.epochs,
    'batch-size': config.batchSize,
    lr: config.lr,
    momentum: config.momentum,
    'weight-decay': config.weightDecay,
    nesterov: config.nesterov,
    ...scheduleOptions,
    augment: config.augment,
    'val-size': config.valSize,
    'train-limit': config.trainLimit,
    'test-limit': config.testLimit,
    'eval-batch-size': config.evalBatchSize,
    seed: config.seed,
    'data-workers': config.dataWorkers,
    workers: config.workers ?? 1,
    'save-every': config.saveEvery ?? null,
    ...(early
      ? {
          'early-stop-monitor': early.monitor,
          'early-stop-patience': early.patience,
          'early-stop-min-delta': early.minDelta,
          'early-stop-mode': early.mode,
        }
      : {}),
    ...(plateau
      ? {
          'plateau-monitor': plateau.monitor,
          'plateau-mode': plateau.mode,
          'plateau-factor': plateau.factor,
          'plateau-patience': plateau.patience,
          'plateau-threshold': plateau.threshold,
          'plateau-threshold-mode': plateau.thresholdMode,
          'plateau-cooldown': plateau.cooldown,
          'plateau-min-lr': plateau.minLr,
        }
      : {}),
    ...Object.fromEntries(Object.entries(run).filter(([, v]) => v !== undefined)),
  };
}
