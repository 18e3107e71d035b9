/**
 * Trainer callbacks: code that runs after every step (`onBatchEnd`) and every epoch (`onEpochEnd`) and may stop the
 * run or scale its learning rate, plus the two the config can switch on:
 * - {@link EarlyStopping}: Keras' EarlyStopping (monitor, patience, min delta, mode);
 * - {@link ReduceLrOnPlateau}: PyTorch's ReduceLROnPlateau (factor, patience, threshold 'rel' 1e-4, cooldown,
 *   min lr), acting on the rate the schedule gives, so with `--schedule constant` it is exactly PyTorch's.
 * A callback that keeps state across epochs has a `name` and `getState`/`setState`: the state is saved in every
 * training checkpoint, so a resumed run decides exactly as an uninterrupted one.
 */
import type { TrainConfig } from './config.js';
import type { EpochRecord } from './metrics-log.js';
import type { StepResult } from './step.js';

/** After each applied step. `epoch` and `batch` are 0-based; `lr` is the rate the step used. */
export interface BatchEndEvent {
  epoch: number;
  batch: number;
  lr: number;
  result: StepResult;
}

/** What a callback may do to the run. */
export interface TrainingControl {
  /** Ends training once the current epoch is done (validated, checkpointed); the run then completes normally. */
  stop(reason: string): void;
  /** Multiplier on the schedule's learning rate (1 at the start), saved in checkpoints; takes effect at the next step. */
  lrScale: number;
}

/** Hooks into the epoch loop of a {@link Trainer}. */
export interface TrainerCallback {
  /** Key of the state in training checkpoints (needed with `getState`; unique among a run's callbacks). */
  name?: string;
  onBatchEnd?(event: BatchEndEvent, control: TrainingControl): void | Promise<void>;
  /** After validation and keep-best, with the epoch's metrics record (as written to metrics.jsonl). */
  onEpochEnd?(record: EpochRecord, control: TrainingControl): void | Promise<void>;
  /** JSON-serialisable state saved in the checkpoint... */
  getState?(): unknown;
  /** ...and handed back when the run resumes. */
  setState?(state: unknown): void;
}

/** Metrics of an epoch a callback can monitor (columns of metrics.jsonl). */
export const MONITORS = [
  'val_loss',
  'val_top1',
  'val_top5',
  'train_loss',
  'train_top1',
  'train_top5',
] as const;
export type Monitor = (typeof MONITORS)[number];
export type MonitorMode = 'min' | 'max' | 'auto';

/** `min` for losses, `max` for accuracies (Keras' 'auto'). */
function resolvedMode(monitor: Monitor, mode: MonitorMode): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return monitor.endsWith('loss') ? 'min' : 'max';
}

/** The monitored value of a record; an error naming the monitor when the run does not measure it. */
function monitored(record: EpochRecord, monitor: Monitor): number {
  const value = record[monitor];
  if (value === null) throw new Error(`the callback monitors ${monitor}, which this run does not measure`);
  return value;
}

/** Early stopping (`config.earlyStopping`). */
export interface EarlyStoppingOptions {
  monitor: Monitor;
  /** Epochs without improvement before stopping (0: stop at the first epoch that does not improve). */
  patience: number;
  /** Smallest change that counts as an improvement. */
  minDelta: number;
  mode: MonitorMode;
}

/** Reduce-on-plateau (`config.reduceLrOnPlateau`), PyTorch's parameters. */
export interface ReduceLrOnPlateauOptions {
  monitor: Monitor;
  mode: MonitorMode;
  /** The rate is multiplied by this (< 1) on a plateau. */
  factor: number;
  /** Epochs without improvement tolerated; the rate drops after patience + 1 such epochs. */
  patience: number;
  /** 'rel': improvement beyond best * (1 -/+ threshold); 'abs': beyond best -/+ threshold. */
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  /** Epochs after a reduction during which bad epochs are not counted. */
  cooldown: number;
  /** The rate is never reduced below this. */
  minLr: number;
}

export const EARLY_STOPPING_DEFAULTS: EarlyStoppingOptions = {
  monitor: 'val_loss',
  patience: 0,
  minDelta: 0,
  mode: 'auto',
};

/** torch.optim.lr_scheduler.ReduceLROnPlateau's defaults, monitoring the validation loss. */
export const PLATEAU_DEFAULTS: ReduceLrOnPlateauOptions = {
  monitor: 'val_loss',
  mode: 'auto',
  factor: 0.1,
  patience: 10,
  threshold: 1e-4,
  thresholdMode: 'rel',
  cooldown: 0,
  minLr: 0,
};

/** Problems with early-stopping options, as messages naming the option. */
export function earlyStoppingProblems(o: EarlyStoppingOptions): string[] {
  const problems = monitorProblems('early stopping', o.monitor, o.mode);
  if (!(Number.isInteger(o.patience) && o.patience >= 0))
    problems.push(`early stopping patience must be an integer >= 0, got ${o.patience}`);
  if (!(o.minDelta >= 0)) problems.push(`early stopping min delta must be >= 0, got ${o.minDelta}`);
  return problems;
}

/** Problems with reduce-on-plateau options, as messages naming the option. */
export function plateauProblems(o: ReduceLrOnPlateauOptions): string[] {
  const problems = monitorProblems('plateau', o.monitor, o.mode);
  if (!(o.factor > 0 && o.factor < 1)) problems.push(`plateau factor must be in (0, 1), got ${o.factor}`);
  if (!(Number.isInteger(o.patience) && o.patience >= 0))
    problems.push(`plateau patience must be an integer >= 0, got ${o.patience}`);
  if (!(Number.isInteger(o.cooldown) && o.cooldown >= 0))
    problems.push(`plateau cooldown must be an integer >= 0, got ${o.cooldown}`);
  if (!(o.threshold >= 0)) problems.push(`plateau threshold must be >= 0, got ${o.threshold}`);
  if (o.thresholdMode !== 'rel' && o.thresholdMode !== 'abs')
    problems.push(`plateau threshold mode must be rel or abs, got ${o.thresholdMode}`);
  if (!(o.minLr >= 0)) problems.push(`plateau min lr must be >= 0, got ${o.minLr}`);
  return problems;
}

function monitorProblems(what: string, monitor: string, mode: string): string[] {
  const problems: string[] = [];
  if (!(MONITORS as readonly string[]).includes(monitor))
    problems.push(`${what} monitor must be one of ${MONITORS.join(', ')}, got ${monitor}`);
  if (!['min', 'max', 'auto'].includes(mode))
    problems.push(`${what} mode must be min, max or auto, got ${mode}`);
  return problems;
}

/** Stops the run when the monitored metric has not improved for `patience` epochs (Keras' EarlyStopping). */
export class EarlyStopping implements TrainerCallback {
  readonly name = 'early_stopping';
  private readonly mode: 'min' | 'max';
  private best: number;
  private bestEpoch = 0;
  private wait = 0;

  constructor(private readonly o: EarlyStoppingOptions) {
    this.mode = resolvedMode(o.monitor, o.mode);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(record: EpochRecord, control: TrainingControl): void {
    const current = monitored(record, this.o.monitor);
    const improved =
      this.mode === 'min' ? current + this.o.minDelta < this.best : current - this.o.minDelta > this.best;
    if (improved) {
      this.best = current;
      this.bestEpoch = record.epoch;
      this.wait = 0;
      return;
    }
    this.wait += 1;
    if (this.wait >= this.o.patience) {
      control.stop(
        `early stopping: ${this.o.monitor} did not improve for ${this.wait} epoch(s) ` +
          `(best ${this.best} at epoch ${this.bestEpoch})`,
      );
    }
  }

  getState(): unknown {
    return { best: this.best, bestEpoch: this.bestEpoch, wait: this.wait };
  }

  setState(state: unknown): void {
    const s = state as { best: number | null; bestEpoch: number; wait: number };
    // JSON writes Infinity as null: a run that has not measured anything yet.
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.bestEpoch = s.bestEpoch;
    this.wait = s.wait;
  }
}

/** Lowers the learning rate when the monitored metric stops improving (PyTorch's ReduceLROnPlateau). */
export class ReduceLrOnPlateau implements TrainerCallback {
  readonly name = 'reduce_lr_on_plateau';
  private readonly mode: 'min' | 'max';
  private best: number;
  private badEpochs = 0;
  private cooldownLeft = 0;

  constructor(private readonly o: ReduceLrOnPlateauOptions) {
    this.mode = resolvedMode(o.monitor, o.mode);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number): boolean {
    const { threshold, thresholdMode } = this.o;
    if (this.mode === 'min') {
      return thresholdMode === 'rel' ? a < this.best * (1 - threshold) : a < this.best - threshold;
    }
    return thresholdMode === 'rel' ? a > this.best * (threshold + 1) : a > this.best + threshold;
  }

  onEpochEnd(record: EpochRecord, control: TrainingControl): void {
    const current = monitored(record, this.o.monitor);
    if (this.isBetter(current)) {
      this.best = current;
      this.badEpochs = 0;
    } else {
      this.badEpochs += 1;
    }
    if (this.cooldownLeft > 0) {
      this.cooldownLeft -= 1;
      this.badEpochs = 0;
    }
    if (this.badEpochs > this.o.patience) {
      // PyTorch: new_lr = max(old_lr * factor, min_lr), applied only when it lowers the rate by more than 1e-8.
      const oldLr = record.lr_last;
      const newLr = Math.max(oldLr * this.o.factor, this.o.minLr);
      if (oldLr - newLr > 1e-8) control.lrScale *= newLr / oldLr;
      this.cooldownLeft = this.o.cooldown;
      this.badEpochs = 0;
    }
  }

  getState(): unknown {
    return { best: this.best, badEpochs: this.badEpochs, cooldownLeft: this.cooldownLeft };
  }

  setState(state: unknown): void {
    const s = state as { best: number | null; badEpochs: number; cooldownLeft: number };
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.badEpochs = s.badEpochs;
    this.cooldownLeft = s.cooldownLeft;
  }
}

/** The callbacks a config switches on (early stopping, reduce-on-plateau), in that order. */
export function configCallbacks(config: TrainConfig): TrainerCallback[] {
  const callbacks: TrainerCallback[] = [];
  if (config.earlyStopping) callbacks.push(new EarlyStopping(config.earlyStopping));
  if (config.reduceLrOnPlateau) callbacks.push(new ReduceLrOnPlateau(config.reduceLrOnPlateau));
  return callbacks;
}
