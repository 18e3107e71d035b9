import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import {
  EarlyStopping,
  PLATEAU_DEFAULTS,
  ReduceLrOnPlateau,
  type TrainerCallback,
  type TrainingControl,
} from '../../src/train/callbacks.js';
import { configProblems, type TrainConfig } from '../../src/train/config.js';
import {
  CSV_COLUMNS,
  csvRow,
  type EpochRecord,
  epochHistory,
  readMetrics,
} from '../../src/train/metrics-log.js';
import type { SGD } from '../../src/train/sgd.js';
import { CHECKPOINT_FILE, Trainer, type TrainerOptions } from '../../src/train/trainer.js';
import { readTrainingCheckpoint, restoreTraining } from '../../src/train/training-checkpoint.js';
import { fixturePath } from '../helpers/paths.js';
import { snapshot, tempRunDir, tinyConfig, tinyModel, tinySgd, tinyTrainerOptions } from './_tiny.js';

interface PlateauCase {
  name: string;
  lr: number;
  options: Record<string, number | string>;
  metrics: number[];
  lrs: number[];
}

/** An epoch record carrying `value` in `monitor` and the rate the epoch ended with. */
function record(epoch: number, monitor: 'val_loss' | 'val_top1', value: number, lr: number): EpochRecord {
  return {
    event: 'epoch',
    epoch,
    lr,
    lr_last: lr,
    train_loss: 1,
    train_top1: 0.5,
    train_top5: 1,
    val_loss: monitor === 'val_loss' ? value : 1,
    val_top1: monitor === 'val_top1' ? value : 0.5,
    val_top5: 1,
    best: false,
    seconds: 1,
    images_per_second: 1,
  };
}

function fakeControl(): TrainingControl & { stops: string[] } {
  const stops: string[] = [];
  return { stops, stop: (reason) => stops.push(reason), lrScale: 1 };
}

describe('trainer callbacks: reduce-on-plateau and early stopping', () => {
  it('ReduceLROnPlateau gives the learning rates of torch 1.13 (min/rel, max/abs, defaults)', () => {
    const reference = JSON.parse(readFileSync(fixturePath('plateau', 'reference.json'), 'utf8')) as {
      cases: PlateauCase[];
    };
    assert.equal(reference.cases.length, 3);
    for (const c of reference.cases) {
      const o = c.options;
      const mode = (o.mode as 'min' | 'max' | undefined) ?? 'min';
      const monitor = mode === 'min' ? 'val_loss' : 'val_top1';
      const plateau = new ReduceLrOnPlateau({
        monitor,
        mode,
        factor: (o.factor as number | undefined) ?? PLATEAU_DEFAULTS.factor,
        patience: (o.patience as number | undefined) ?? PLATEAU_DEFAULTS.patience,
        cooldown: (o.cooldown as number | undefined) ?? PLATEAU_DEFAULTS.cooldown,
        minLr: (o.min_lr as number | undefined) ?? PLATEAU_DEFAULTS.minLr,
        threshold: (o.threshold as number | undefined) ?? PLATEAU_DEFAULTS.threshold,
        thresholdMode: (o.threshold_mode as 'rel' | 'abs' | undefined) ?? PLATEAU_DEFAULTS.thresholdMode,
      });
      const control = fakeControl();
      const lrs = c.metrics.map((metric, i) => {
        plateau.onEpochEnd(record(i + 1, monitor, metric, c.lr * control.lrScale), control);
        return c.lr * control.lrScale;
      });
      for (const [i, lr] of lrs.entries()) {
        assert.ok(
          Math.abs(lr - c.lrs[i]) <= 1e-15 * c.lrs[i],
          `${c.name}: epoch ${i + 1}: ${lr} vs ${c.lrs[i]}`,
        );
      }
      assert.ok(
        new Set(c.lrs).size > 1,
        `${c.name}: the reference lowers the rate at least once (a test that cannot fail is no test)`,
      );
    }
  });

  it("EarlyStopping stops after `patience` epochs without an improvement larger than min delta (Keras' rule)", () => {
    const stopEpoch = (values: number[], patience: number, minDelta: number) => {
      const early = new EarlyStopping({ monitor: 'val_loss', patience, minDelta, mode: 'auto' });
      const control = fakeControl();
      for (const [i, v] of values.entries()) {
        early.onEpochEnd(record(i + 1, 'val_loss', v, 0.1), control);
        if (control.stops.length > 0) return { epoch: i + 1, reason: control.stops[0] };
      }
      return null;
    };
    // 0.95 improves on 1.0 by 0.05 > 0.01; 0.945 by only 0.005: not an improvement.
    assert.deepEqual(stopEpoch([1.0, 0.95, 0.945, 0.944, 0.5], 2, 0.01)?.epoch, 4);
    assert.match(
      stopEpoch([1.0, 0.95, 0.945, 0.944], 2, 0.01)?.reason ?? '',
      /val_loss did not improve for 2 epoch\(s\) \(best 0\.95 at epoch 2\)/,
    );
    assert.equal(stopEpoch([1.0, 0.95, 0.945, 0.944], 2, 0)?.epoch, undefined, 'every epoch improves');
    assert.equal(stopEpoch([1.0, 1.0], 0, 0)?.epoch, 2, 'patience 0: the first epoch without improvement');
    // A saved state continues the count exactly.
    const early = new EarlyStopping({ monitor: 'val_top1', patience: 2, minDelta: 0, mode: 'auto' });
    const control = fakeControl();
    early.onEpochEnd(record(1, 'val_top1', 0.5, 0.1), control);
    early.onEpochEnd(record(2, 'val_top1', 0.4, 0.1), control);
    const restored = new EarlyStopping({ monitor: 'val_top1', patience: 2, minDelta: 0, mode: 'auto' });
    restored.setState(JSON.parse(JSON.stringify(early.getState())));
    restored.onEpochEnd(record(3, 'val_top1', 0.45, 0.1), control);
    assert.equal(control.stops.length, 1, 'max mode (auto for accuracy): two epochs below 0.5 stop');
  });

  it('bad callback settings are config problems naming the setting', () => {
    const problems = configProblems(
      tinyConfig({
        earlyStopping: { monitor: 'val_acc' as never, patience: -1, minDelta: 0, mode: 'auto' },
        reduceLrOnPlateau: { ...PLATEAU_DEFAULTS, factor: 1.5, thresholdMode: 'relative' as never },
      }),
    );
    assert.deepEqual(problems, [
      'early stopping monitor must be one of val_loss, val_top1, val_top5, train_loss, train_top1, train_top5, got val_acc',
      'early stopping patience must be an integer >= 0, got -1',
      'plateau factor must be in (0, 1), got 1.5',
      'plateau threshold mode must be rel or abs, got relative',
    ]);
  });

  describe('in the trainer', () => {
    const disposables: Array<{ dispose(): void }> = [];
    before(() => initBackend({ backend: 'wasm' }));
    after(() => {
      for (const d of disposables) d.dispose();
    });

    function setup(config: TrainConfig, runDir: string, seed: number, extra: Partial<TrainerOptions> = {}) {
      const model = tinyModel(seed);
      const optimizer = tinySgd(model, config);
      disposables.push(model, optimizer);
      return {
        model,
        optimizer,
        options: { ...tinyTrainerOptions(model, optimizer, config, runDir, tf.getBackend()), ...extra },
      };
    }

    /** A user callback with state: counts steps and records every rate it sees. */
    class StepCounter implements TrainerCallback {
      readonly name = 'step_counter';
      steps = 0;
      lrs: number[] = [];
      onBatchEnd(event: { lr: number }): void {
        this.steps += 1;
        this.lrs.push(event.lr);
      }
      getState(): unknown {
        return { steps: this.steps };
      }
      setState(state: unknown): void {
        this.steps = (state as { steps: number }).steps;
      }
    }

    // A threshold of 10 (rel) makes no epoch an improvement: with patience 0 the rate halves after every epoch.
    const plateauConfig = () =>
      tinyConfig({
        epochs: 3,
        schedule: { kind: 'constant' },
        reduceLrOnPlateau: { ...PLATEAU_DEFAULTS, factor: 0.5, patience: 0, threshold: 10 },
      });

    let reference: { model: ClassifierModel; optimizer: SGD; runDir: string; counter: StepCounter };
    before(async () => {
      const runDir = tempRunDir();
      const counter = new StepCounter();
      const { model, optimizer, options } = setup(plateauConfig(), runDir, 1, { callbacks: [counter] });
      const outcome = await new Trainer(options).run();
      assert.equal(outcome.status, 'completed');
      reference = { model, optimizer, runDir, counter };
    });

    it('reduce-on-plateau lowers the rate of the following epochs; onBatchEnd sees every step and its rate', async () => {
      const history = epochHistory(await readMetrics(reference.runDir));
      assert.deepEqual(
        history.map((r) => r.lr),
        [0.05, 0.025, 0.0125],
      );
      assert.equal(reference.counter.steps, 9, '3 epochs of 3 steps');
      assert.deepEqual(
        reference.counter.lrs,
        [0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125],
      );
    });

    it('metrics.csv holds the epoch rows of metrics.jsonl', async () => {
      const history = epochHistory(await readMetrics(reference.runDir));
      const lines = readFileSync(join(reference.runDir, 'metrics.csv'), 'utf8').trimEnd().split('\n');
      assert.equal(lines[0], CSV_COLUMNS.join(','));
      assert.deepEqual(lines.slice(1), history.map(csvRow));
      const [first] = lines.slice(1).map((line) => line.split(','));
      assert.equal(Number(first[CSV_COLUMNS.indexOf('train_loss')]), history[0].train_loss);
    });

    it('a run interrupted mid-epoch with callbacks present resumes to exactly the uninterrupted weights', async () => {
      const config = plateauConfig();
      const runDir = tempRunDir();
      const controller = new AbortController();
      const { options } = setup(config, runDir, 1, {
        signal: controller.signal,
        callbacks: [new StepCounter()],
        afterStep: (epoch, batch) => {
          if (epoch === 1 && batch === 0) controller.abort();
        },
      });
      assert.equal((await new Trainer(options).run()).status, 'interrupted');
      const checkpoint = await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE));
      assert.equal(checkpoint.state.lrScale, 0.5);
      assert.deepEqual(checkpoint.state.callbacks?.step_counter, { steps: 4 });
      const counter = new StepCounter();
      const resumed = setup(config, runDir, 999, { callbacks: [counter] });
      restoreTraining(resumed.model, resumed.optimizer, checkpoint);
      const outcome = await new Trainer({ ...resumed.options, resumed: checkpoint.state }).run();
      assert.equal(outcome.status, 'completed');
      const expected = snapshot(reference.model);
      for (const [key, values] of snapshot(resumed.model))
        assert.deepEqual(values, expected.get(key), `${key} differs`);
      assert.equal(counter.steps, 9, 'the counter continued from its checkpointed state');
      const lrs = (dir: string) =>
        readMetrics(dir).then((r) => epochHistory(r).map((e) => [e.lr, e.train_loss]));
      assert.deepEqual(await lrs(runDir), await lrs(reference.runDir));
    });

    it('early stopping ends the run before its last epoch, logs why, and a resumed stopped run trains no more', async () => {
      // min delta 1e9: only the first epoch counts as an improvement; patience 1 stops after epoch 2 of 4.
      const config = tinyConfig({
        epochs: 4,
        earlyStopping: { monitor: 'val_loss', patience: 1, minDelta: 1e9, mode: 'auto' },
      });
      const runDir = tempRunDir();
      const { options } = setup(config, runDir, 1);
      const outcome = await new Trainer(options).run();
      assert.equal(outcome.status, 'completed');
      assert.ok(outcome.status === 'completed');
      assert.equal(outcome.stopped?.epoch, 2);
      assert.match(
        outcome.stopped?.reason ?? '',
        /early stopping: val_loss did not improve for 1 epoch\(s\) \(best .* at epoch 1\)/,
      );
      const records = await readMetrics(runDir);
      assert.deepEqual(
        epochHistory(records).map((r) => r.epoch),
        [1, 2],
      );
      assert.match(JSON.stringify(records.at(-1)), /"event":"stopped","reason":"callback","epoch":2/);
      const checkpoint = await readTrainingCheckpoint(join(runDir, CHECKPOINT_FILE));
      assert.deepEqual(checkpoint.state.stopped?.epoch, 2);
      const resumed = setup(config, runDir, 999);
      restoreTraining(resumed.model, resumed.optimizer, checkpoint);
      const again = await new Trainer({ ...resumed.options, resumed: checkpoint.state }).run();
      assert.ok(again.status === 'completed' && again.stopped?.epoch === 2);
      assert.equal(epochHistory(await readMetrics(runDir)).length, 2, 'no epoch was trained after the stop');
    });
  });
});
