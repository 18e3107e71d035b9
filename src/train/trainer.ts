/**
 * The training loop with PyTorch semantics: per epoch, SGD steps over the shuffled training set at the scheduled
 * learning rate, then validation; the weights with the best validation top-1 are kept (`best.safetensors`); every
 * epoch ends with an atomic training checkpoint and a metrics line. Faults:
 * - a NaN/Inf loss stops the run before the bad update, leaving the last good checkpoint untouched;
 * - an abort (Ctrl-C) checkpoints the exact position inside the epoch, so resuming continues bit for bit;
 *   `config.saveEvery` writes the same mid-epoch checkpoint every N steps, for runs that may be killed.
 * When the last epoch is done and a separate validation split exists, the best weights are evaluated on the test
 * split (the paper's CIFAR protocol: report the test error of the best-validation model).
 */
import { join } from 'node:path';
import type { DataLoader } from '../data/loader.js';
import type { Preprocessing } from '../data/preprocessing.js';
import type { ClassifierModel } from '../models/classifier.js';
import { percent } from '../util/format.js';
import { configCallbacks, type TrainerCallback, type TrainingControl } from './callbacks.js';
import type { TrainConfig } from './config.js';
import { type EvalResult, evaluate } from './evaluate.js';
import { appendMetrics, type EpochRecord } from './metrics-log.js';
import { formatDuration, type ProgressReporter } from './progress.js';
import { learningRate } from './schedule.js';
import type { SGD } from './sgd.js';
import { createLocalStep, type StepResult, type TrainStep } from './step.js';
import { loadTrainedWeights, saveTrainedModel } from './trained-model-file.js';
import {
  EMPTY_SUMS,
  type EpochSums,
  saveTrainingCheckpoint,
  TRAINING_FORMAT_VERSION,
  type TrainingState,
} from './training-checkpoint.js';

/** The training checkpoint inside a run directory. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
/** The best-validation weights inside a run directory. */
export const BEST_FILE = 'best.safetensors';

/** The model, optimizer, data and run directory a {@link Trainer} works with. */
export interface TrainerOptions {
  model: ClassifierModel;
  optimizer: SGD;
  config: TrainConfig;
  train: DataLoader;
  /** Validation loader (held-out training images, or the test split when `config.valSize` is 0). */
  val: DataLoader | null;
  /** Test loader for the final evaluation of the best weights (only used when it differs from `val`). */
  test: DataLoader | null;
  runDir: string;
  classNames: string[];
  preprocessing: Preprocessing;
  backend: string;
  /** The update function (default: {@link createLocalStep}). */
  step?: TrainStep;
  /**
   * For a step that trains copies of the model elsewhere (a worker pool): brings `model` and `optimizer` up to
   * date; called before every evaluation and checkpoint.
   */
  pullState?: () => Promise<void>;
  /** Evaluation of the model on a split (default: {@link evaluate} on TF.js; an engine may bring its own). */
  evaluate?: typeof evaluate;
  /** Aborting stops after the current batch with a checkpoint (wire SIGINT to it). */
  signal?: AbortSignal;
  progress?: ProgressReporter;
  /** State of a resumed run, already restored into `model` and `optimizer`. */
  resumed?: TrainingState;
  /**
   * Called after each step and each epoch, after those the config switches on (early stopping, reduce-on-plateau);
   * see callbacks.ts. Named callbacks' states are checkpointed and restored on resume.
   */
  callbacks?: TrainerCallback[];
  /** Called after each applied step (tests use it to inject faults or stop at a given position). */
  afterStep?: (epoch: number, batch: number, result: StepResult) => void | Promise<void>;
}

/** How a run ended: completed (with best/test metrics), interrupted (checkpointed) or diverged. */
export type TrainOutcome =
  | {
      status: 'completed';
      best: TrainingState['best'];
      test: EvalResult | null;
      lastVal: EvalResult | null;
      /** Set when a callback (early stopping) ended the run before `config.epochs`. */
      stopped: TrainingState['stopped'] | null;
    }
  | { status: 'interrupted'; epoch: number; batch: number; checkpoint: string }
  | { status: 'diverged'; epoch: number; batch: number; message: string };

/** "end of epoch 3" or "epoch 4 after batch 17" (1-based, for messages). */
export function describePosition(state: Pick<TrainingState, 'epoch' | 'batch'>): string {
  return state.batch === 0
    ? `end of epoch ${state.epoch}`
    : `epoch ${state.epoch + 1} after batch ${state.batch}`;
}

/** Runs the epochs of a training run (see the module comment for its guarantees). */
export class Trainer {
  private readonly step: TrainStep;
  private state: TrainingState;
  /** Human description of the checkpoint on disk, for messages. */
  private lastSaved: string;
  /** Whether a step ran since `model` and `optimizer` were last brought up to date (see `pullState`). */
  private pullNeeded = false;
  private readonly callbacks: TrainerCallback[];
  private readonly control: TrainingControl;
  /** Why a callback asked to stop (acted on at the end of the epoch). */
  private stopReason: string | null = null;

  constructor(private readonly o: TrainerOptions) {
    this.step = o.step ?? createLocalStep(o.model, o.optimizer);
    this.state = o.resumed
      ? structuredClone(o.resumed)
      : {
          version: TRAINING_FORMAT_VERSION,
          config: o.config,
          epoch: 0,
          batch: 0,
          sums: { ...EMPTY_SUMS },
          best: null,
          classNames: o.classNames,
        };
    // Epochs may be extended on resume; everything else comes from the checkpoint.
    this.state.config = o.config;
    this.lastSaved = o.resumed ? describePosition(o.resumed) : 'none yet';
    this.callbacks = [...configCallbacks(o.config), ...(o.callbacks ?? [])];
    const names = this.callbacks.flatMap((c) => (c.name === undefined ? [] : [c.name]));
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated !== undefined) throw new Error(`two trainer callbacks are named "${repeated}"`);
    for (const callback of this.callbacks) {
      const saved = callback.name === undefined ? undefined : this.state.callbacks?.[callback.name];
      if (saved !== undefined) callback.setState?.(saved);
    }
    const state = () => this.state;
    this.control = {
      stop: (reason) => {
        this.stopReason ??= reason;
      },
      get lrScale() {
        return state().lrScale ?? 1;
      },
      set lrScale(value: number) {
        if (!(Number.isFinite(value) && value > 0))
          throw new Error(
            `a callback set the learning-rate scale to ${value}; it must be a finite number > 0`,
          );
        state().lrScale = value;
      },
    };
  }

  /** The learning rate of a step: the schedule's, times the scale callbacks set (reduce-on-plateau). */
  private learningRate(epoch: number, batch: number): number {
    const { config } = this.o;
    const scheduled = learningRate(config.schedule, config.lr, {
      epoch,
      batch,
      batchesPerEpoch: this.o.train.batchesPerEpoch,
      epochs: config.epochs,
    });
    return scheduled * (this.state.lrScale ?? 1);
  }

  get checkpointPath(): string {
    return join(this.o.runDir, CHECKPOINT_FILE);
  }

  get bestPath(): string {
    return join(this.o.runDir, BEST_FILE);
  }

  /** Trains until `config.epochs` epochs are done, an abort, or a non-finite loss. */
  async run(): Promise<TrainOutcome> {
    const { config } = this.o;
    await appendMetrics(this.o.runDir, {
      event: 'start',
      time: new Date().toISOString(),
      resumed_from_epoch: this.o.resumed ? this.o.resumed.epoch : null,
      backend: this.o.backend,
      config,
    });
    let lastVal: EvalResult | null = null;
    if (this.state.stopped)
      this.o.progress?.line(
        `the run was stopped at epoch ${this.state.stopped.epoch}: ${this.state.stopped.reason}`,
      );
    while (this.state.epoch < config.epochs && !this.state.stopped) {
      if (this.o.signal?.aborted) return this.interrupt();
      const outcome = await this.trainEpoch();
      if (outcome) return outcome;
      lastVal = await this.endEpoch();
      if (this.state.stopped) await this.logStop(this.state.stopped);
    }
    const test = await this.finalTest();
    return { status: 'completed', best: this.state.best, test, lastVal, stopped: this.state.stopped ?? null };
  }

  /** One epoch of steps from the saved position; returns an outcome when the run must stop. */
  private async trainEpoch(): Promise<TrainOutcome | null> {
    const { config, train, progress } = this.o;
    const epoch = this.state.epoch;
    const total = train.batchesPerEpoch;
    const sums: EpochSums = this.state.sums;
    const label = `epoch ${epoch + 1}/${config.epochs}`;
    let clock = performance.now();
    for await (const batch of train.epoch(epoch, this.state.batch)) {
      const lr = this.learningRate(epoch, batch.index);
      const result = await this.step(batch, lr);
      this.pullNeeded = true;
      if (!Number.isFinite(result.loss)) return this.diverge(epoch, batch.index, lr, result.loss);
      sums.lossSum += result.loss * result.count;
      sums.correct1 += result.correct1;
      sums.correct5 += result.correct5;
      sums.count += result.count;
      const now = performance.now();
      sums.seconds += (now - clock) / 1000;
      clock = now;
      this.state.batch = batch.index + 1;
      await this.o.afterStep?.(epoch, batch.index, result);
      for (const callback of this.callbacks)
        await callback.onBatchEnd?.({ epoch, batch: batch.index, lr, result }, this.control);
      const imagesPerSecond = sums.count / Math.max(sums.seconds, 1e-9);
      const remaining = train.length - Math.min(train.length, (batch.index + 1) * config.batchSize);
      progress?.update(label, {
        done: batch.index + 1,
        total,
        loss: sums.lossSum / sums.count,
        accuracy: sums.correct1 / sums.count,
        imagesPerSecond,
        etaSeconds: remaining / imagesPerSecond,
      });
      if (this.o.signal?.aborted && batch.index + 1 < total) return this.interrupt();
      // A periodic mid-epoch checkpoint is the one Ctrl-C writes: resuming from it is exact the same way.
      const every = config.saveEvery ?? null;
      if (every !== null && this.state.batch % every === 0 && this.state.batch < total) await this.save();
    }
    return null;
  }

  /** Validation, keep-best, metrics line and checkpoint at the end of an epoch. */
  private async endEpoch(): Promise<EvalResult | null> {
    const { config, progress, val } = this.o;
    const epoch = this.state.epoch;
    const sums = this.state.sums;
    const firstLr = this.learningRate(epoch, 0);
    const lastLr = this.learningRate(epoch, this.o.train.batchesPerEpoch - 1);
    await this.pullState();
    const result = val
      ? await (this.o.evaluate ?? evaluate)(this.o.model, val, (done, total) =>
          progress?.phase(`validate ${epoch + 1}/${config.epochs}`, done, total),
        )
      : null;
    const isBest = result !== null && (this.state.best === null || result.top1 > this.state.best.top1);
    if (isBest && result) {
      this.state.best = { top1: result.top1, epoch: epoch + 1 };
      await saveTrainedModel(this.bestPath, this.o.model, {
        preprocessing: this.o.preprocessing,
        classNames: this.o.classNames,
        epoch: epoch + 1,
        valTop1: result.top1,
        dataset: config.dataset,
      });
    }
    const record: EpochRecord = {
      event: 'epoch',
      epoch: epoch + 1,
      lr: firstLr,
      lr_last: lastLr,
      train_loss: sums.lossSum / sums.count,
      train_top1: sums.correct1 / sums.count,
      train_top5: sums.correct5 / sums.count,
      val_loss: result?.loss ?? null,
      val_top1: result?.top1 ?? null,
      val_top5: result?.top5 ?? null,
      best: isBest,
      seconds: sums.seconds,
      images_per_second: sums.count / Math.max(sums.seconds, 1e-9),
    };
    await appendMetrics(this.o.runDir, record);
    progress?.line(
      `epoch ${epoch + 1}/${config.epochs}  lr ${firstLr.toPrecision(3)}${lastLr !== firstLr ? `..${lastLr.toPrecision(3)}` : ''}  train loss ${record.train_loss.toFixed(4)} ` +
        `top-1 ${percent(record.train_top1)}  |  val loss ${result ? result.loss.toFixed(4) : '-'} ` +
        `top-1 ${percent(record.val_top1)} top-5 ${percent(record.val_top5)}  ` +
        `(${formatDuration(sums.seconds)}, ${record.images_per_second.toFixed(1)} img/s)${isBest ? '  * best' : ''}`,
    );
    for (const callback of this.callbacks) await callback.onEpochEnd?.(record, this.control);
    if (this.stopReason !== null) this.state.stopped = { epoch: epoch + 1, reason: this.stopReason };
    this.state.epoch = epoch + 1;
    this.state.batch = 0;
    this.state.sums = { ...EMPTY_SUMS };
    await this.save();
    return result;
  }

  /** Logs that a callback ended the run (its checkpoint is already saved). */
  private async logStop(stopped: NonNullable<TrainingState['stopped']>): Promise<void> {
    const message = `stopped after epoch ${stopped.epoch} of ${this.o.config.epochs}: ${stopped.reason}`;
    await appendMetrics(this.o.runDir, {
      event: 'stopped',
      reason: 'callback',
      epoch: stopped.epoch,
      batch: 0,
      message,
    });
    this.o.progress?.line(message);
  }

  /** Evaluates the best weights on the test split when validation used held-out training images. */
  private async finalTest(): Promise<EvalResult | null> {
    const { test, val, progress } = this.o;
    if (!test || test === val || this.state.best === null) return null;
    await loadTrainedWeights(this.bestPath, this.o.model);
    const result = await (this.o.evaluate ?? evaluate)(this.o.model, test);
    await appendMetrics(this.o.runDir, {
      event: 'test',
      epoch: this.state.best.epoch,
      loss: result.loss,
      top1: result.top1,
      top5: result.top5,
      count: result.count,
    });
    progress?.line(
      `test (best epoch ${this.state.best.epoch}): loss ${result.loss.toFixed(4)} top-1 ${percent(result.top1)} top-5 ${percent(result.top5)}`,
    );
    return result;
  }

  /** Brings the main-thread model and optimizer up to date with the step's copies, once per run of steps. */
  private async pullState(): Promise<void> {
    if (!this.pullNeeded) return;
    await this.o.pullState?.();
    this.pullNeeded = false;
  }

  private async save(): Promise<void> {
    await this.pullState();
    const named = this.callbacks.filter((c) => c.name !== undefined && c.getState !== undefined);
    if (named.length > 0)
      this.state.callbacks = Object.fromEntries(named.map((c) => [c.name, c.getState?.()]));
    await saveTrainingCheckpoint(this.checkpointPath, this.o.model, this.o.optimizer, this.state);
    this.lastSaved = describePosition(this.state);
  }

  private async interrupt(): Promise<TrainOutcome> {
    await this.save();
    const message = `interrupted: checkpoint saved (${describePosition(this.state)}) in ${this.checkpointPath}`;
    await appendMetrics(this.o.runDir, {
      event: 'stopped',
      reason: 'interrupted',
      epoch: this.state.epoch,
      batch: this.state.batch,
      message,
    });
    this.o.progress?.line(message);
    return {
      status: 'interrupted',
      epoch: this.state.epoch,
      batch: this.state.batch,
      checkpoint: this.checkpointPath,
    };
  }

  private async diverge(epoch: number, batch: number, lr: number, loss: number): Promise<TrainOutcome> {
    const message =
      `loss is ${loss} at epoch ${epoch + 1}, batch ${batch + 1} (lr ${lr.toPrecision(3)}): training stopped before ` +
      `applying that update. The last good checkpoint (${this.lastSaved}) is kept unchanged in ${this.checkpointPath}; ` +
      'resume from it with a lower --lr, or check the data.';
    await appendMetrics(this.o.runDir, { event: 'stopped', reason: 'diverged', epoch, batch, message });
    this.o.progress?.line(message);
    return { status: 'diverged', epoch, batch, message };
  }
}
