import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  appendMetrics,
  bestEpoch,
  type EpochRecord,
  epochHistory,
  lastTest,
  readMetrics,
} from '../../src/train/metrics-log.js';
import { curveCharts, niceTicks } from '../../src/train/plot-svg.js';
import { formatDuration, ProgressReporter } from '../../src/train/progress.js';
import { tempRunDir } from './_tiny.js';

function epoch(n: number, valTop1: number, trainLoss = 1): EpochRecord {
  return {
    event: 'epoch',
    epoch: n,
    lr: 0.1,
    lr_last: 0.1,
    train_loss: trainLoss,
    train_top1: 0.5,
    train_top5: 0.9,
    val_loss: 0.8,
    val_top1: valTop1,
    val_top5: 0.95,
    best: false,
    seconds: 10,
    images_per_second: 100,
  };
}

const update = {
  done: 3,
  total: 10,
  loss: 0.51234,
  accuracy: 0.8125,
  imagesPerSecond: 42.04,
  etaSeconds: 125,
};

describe('progress, metrics log and curves', () => {
  it('draws a redrawn bar with loss, accuracy, img/s and ETA on a TTY', () => {
    const written: string[] = [];
    const progress = new ProgressReporter({ isTTY: true, columns: 120, write: (t) => written.push(t) });
    progress.update('epoch 1/2', update);
    assert.ok(written[0].startsWith('\r\x1b[2K'), 'the line is cleared and redrawn');
    assert.match(
      written[0].slice(5),
      /^epoch 1\/2 \[#+\.+\] 3\/10 {2}loss 0\.5123 {2}acc 81\.3% {2}42\.0 img\/s {2}ETA 2:05$/,
    );
    progress.line('done');
    assert.deepEqual(written.slice(1), ['\r\x1b[2K', 'done\n']);
  });

  it('with a separate printer, the bar stays on its stream (stderr) and summaries go to the printer (stdout)', () => {
    const bar: string[] = [];
    const printed: string[] = [];
    const progress = new ProgressReporter({ isTTY: true, columns: 120, write: (t) => bar.push(t) }, (t) =>
      printed.push(t),
    );
    progress.update('epoch 1/2', update);
    progress.line('epoch 1/2  lr 0.1  train loss 0.5');
    assert.equal(bar.length, 2);
    assert.equal(bar[1], '\r\x1b[2K', 'the bar is cleared before the summary is printed');
    assert.deepEqual(printed, ['epoch 1/2  lr 0.1  train loss 0.5']);
  });

  it('prints plain lines, one per tenth of the epoch, without control characters elsewhere', () => {
    const written: string[] = [];
    const progress = new ProgressReporter({ isTTY: false, write: (t) => written.push(t) });
    for (let done = 1; done <= 20; done++) progress.update('epoch 1/1', { ...update, done, total: 20 });
    assert.equal(written.length, 10);
    assert.ok(written.every((line) => !line.includes('\r') && line.endsWith('\n')));
    assert.match(written[9], /^epoch 1\/1 20\/20 {2}loss/);
    assert.deepEqual(
      [formatDuration(59.6), formatDuration(3725), formatDuration(Number.NaN)],
      ['1:00', '1:02:05', '--:--'],
    );
  });

  it('reads metrics.jsonl: last record per epoch wins (resumed runs), a torn last line is skipped', async () => {
    const dir = tempRunDir();
    await appendMetrics(dir, epoch(1, 0.5));
    await appendMetrics(dir, epoch(2, 0.7));
    await appendMetrics(dir, epoch(2, 0.6));
    await appendMetrics(dir, { event: 'test', epoch: 2, loss: 0.9, top1: 0.58, top5: 0.9, count: 10 });
    appendFileSync(join(dir, 'metrics.jsonl'), '{"event":"epo');
    const records = await readMetrics(dir);
    const history = epochHistory(records);
    assert.deepEqual(
      history.map((r) => [r.epoch, r.val_top1]),
      [
        [1, 0.5],
        [2, 0.6],
      ],
    );
    assert.equal(bestEpoch(history)?.epoch, 2);
    assert.equal(lastTest(records)?.top1, 0.58);
    assert.equal(bestEpoch([epoch(1, 0.7), epoch(2, 0.7)])?.epoch, 1, 'ties keep the first epoch');
    writeFileSync(join(dir, 'metrics.jsonl'), '');
    assert.deepEqual(await readMetrics(dir), []);
    await assert.rejects(readMetrics(join(dir, 'missing')), /no metrics\.jsonl/);
  });

  it('draws SVG accuracy and loss curves with round ticks', () => {
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0.43, 0.97), [0.5, 0.6, 0.7, 0.8, 0.9]);
    const { accuracy, loss } = curveCharts(
      [epoch(1, 0.5, 2), epoch(2, 0.6, 1.5), epoch(3, 0.65, 1.2)],
      'run & <test>',
    );
    for (const svg of [accuracy, loss]) {
      assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
      assert.ok(svg.includes('run &#38; &#60;test&#62;'), 'title escaped');
      assert.equal((svg.match(/<path /g) ?? []).length, svg === accuracy ? 3 : 2);
    }
    assert.match(accuracy, />60%</);
  });
});
