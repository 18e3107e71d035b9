import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { learningRate, type ScheduleSpec, scheduleProblems } from '../../src/train/schedule.js';

/** Expected values: PyTorch's closed forms evaluated in Python (float64), e.g. `0.1 * 0.1 ** bisect_right(m, e)`. */
function at(
  spec: ScheduleSpec,
  lr: number,
  epoch: number,
  batch = 0,
  batchesPerEpoch = 1,
  epochs = 1,
): number {
  return learningRate(spec, lr, { epoch, batch, batchesPerEpoch, epochs });
}

describe('learning-rate schedules (PyTorch formulas)', () => {
  it('MultiStepLR([150, 225], 0.1) of the CIFAR recipe', () => {
    const spec: ScheduleSpec = { kind: 'multistep', milestones: [150, 225], gamma: 0.1 };
    const epochs = [0, 149, 150, 224, 225, 299];
    const expected = [
      0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002,
    ];
    assert.deepEqual(
      epochs.map((e) => at(spec, 0.1, e)),
      expected,
    );
  });

  it('StepLR(30, 0.1) of the ImageNet recipe', () => {
    const spec: ScheduleSpec = { kind: 'step', stepSize: 30, gamma: 0.1 };
    const expected = [
      0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.00010000000000000003,
    ];
    assert.deepEqual(
      [0, 29, 30, 59, 60, 119].map((e) => at(spec, 0.1, e)),
      expected,
    );
  });

  it('x0.98 per epoch (ExponentialLR) of the MobileNetV2 recipe', () => {
    const spec: ScheduleSpec = { kind: 'exponential', gamma: 0.98 };
    const expected = [0.045, 0.0441, 0.04321799999999999, 0.0367682763099396, 1.420419791964997e-5];
    const actual = [0, 1, 2, 10, 399].map((e) => at(spec, 0.045, e));
    for (const [i, v] of actual.entries()) {
      assert.ok(Math.abs(v - expected[i]) <= 1e-15 * expected[i], `epoch value ${v} vs ${expected[i]}`);
    }
  });

  it('cosine with linear warm-up, per iteration (LinearLR then CosineAnnealingLR)', () => {
    const spec: ScheduleSpec = { kind: 'cosine', warmupEpochs: 2, warmupStartFactor: 0.1, minLr: 1e-3 };
    // 10 epochs x 5 batches: warm-up over iterations 0..9, cosine over 10..49.
    const iterations = [0, 5, 9, 10, 30, 49];
    const expected = [0.010000000000000002, 0.05500000000000001, 0.091, 0.1, 0.0505, 0.0011525919802101658];
    iterations.forEach((t, i) => {
      const value = at(spec, 0.1, Math.floor(t / 5), t % 5, 5, 10);
      assert.ok(Math.abs(value - expected[i]) < 1e-15, `iteration ${t}: ${value} vs ${expected[i]}`);
    });
  });

  it('rejects invalid parameters', () => {
    assert.deepEqual(scheduleProblems({ kind: 'multistep', milestones: [225, 150], gamma: 0.1 }), [
      'milestones must be increasing positive integers, got [225,150]',
    ]);
    assert.equal(scheduleProblems({ kind: 'step', stepSize: 0, gamma: 0 }).length, 2);
  });
});
