import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pngjs from 'pngjs';
import { main } from '../../src/cli/main.js';
import { appendMetrics, type EpochRecord } from '../../src/train/metrics-log.js';
import {
  bestTxt,
  curveRecordsFromOfficial,
  officialBest,
  officialLogsFromHistory,
  parseLogText,
  readOfficialLogs,
} from '../../src/train/official-logs.js';
import { pythonFixed, pythonFloatRepr } from '../../src/util/format.js';
import { type OfficialEpoch, writeOfficialLogs } from './_official-log-writer.js';
import { tempRunDir } from './_tiny.js';

async function rla(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, lines };
}

const epochs = (rows: number[][]): OfficialEpoch[] =>
  rows.map(([loss, trainAcc1, trainAcc5, valAcc1, valAcc5]) => ({
    loss,
    trainAcc1,
    trainAcc5,
    valAcc1,
    valAcc5,
  }));

/**
 * A run of 3 epochs, then one resumed at epoch 3 for 2 more (train.py's dicts restart; data_save appends only the
 * new epochs). Val top-1 peaks at 52 twice (epochs 2 and 3: best.py keeps 2); val top-5 peaks at epoch 3.
 */
function officialWorkDir(): string {
  const dir = join(tempRunDir(), 'rla_resnet50_');
  writeOfficialLogs(
    dir,
    epochs([
      [6.123456789, 5.1, 15.2, 10.5, 30.0625],
      [4.5, 30.5, 55.5, 40.25, 70],
      [3.25, 45, 70.1, 52, 76.5],
    ]),
  );
  writeOfficialLogs(
    dir,
    epochs([
      [3.1, 47, 71, 52, 78.1875],
      [3, 48, 72, 51.7, 77.3],
    ]),
    3,
  );
  return dir;
}

describe("the official train.py logs and best.py's summary", () => {
  it('reads the five logs as train.py wrote them, across a resume', async () => {
    const dir = officialWorkDir();
    assert.match(readFileSync(join(dir, 'val_acc5.txt'), 'utf8'), /^1 tensor\(70\., device='cuda:0'\)$/m);
    const logs = await readOfficialLogs(dir);
    assert.deepEqual(
      logs.valAcc1.map((p) => [p.epoch, p.value]),
      [
        [0, 10.5],
        [1, 40.25],
        [2, 52],
        [3, 52],
        [4, 51.7],
      ],
    );
    assert.deepEqual(
      logs.loss.map((p) => p.value),
      [6.123456789, 4.5, 3.25, 3.1, 3],
    );
    assert.deepEqual(
      logs.trainAcc5.map((p) => p.value),
      [15.2, 55.5, 70.1, 71, 72],
    );
    const curves = curveRecordsFromOfficial(logs);
    assert.equal(curves.length, 5);
    assert.deepEqual(curves[1], {
      epoch: 1,
      train_loss: 4.5,
      train_top1: 0.305,
      train_top5: 0.555,
      val_loss: null,
      val_top1: 0.4025,
      val_top5: 0.7,
    });
  });

  it('names the file and line of a line train.py would not have written', () => {
    assert.throws(
      () => parseLogText('0 tensor(1.0)\n1 tensor(x)\n', 'val_acc1.txt'),
      /val_acc1\.txt:2: expected/,
    );
    assert.throws(() => parseLogText('-1 2.0\n', 'loss_plot.txt'), /loss_plot\.txt:1/);
    // A CPU tensor (no device) and a plain number are read too.
    assert.deepEqual(parseLogText('0 tensor(12.5000)\n1 13\n', 'f'), [
      { epoch: 0, value: 12.5 },
      { epoch: 1, value: 13 },
    ]);
  });

  it('rla best --official prints and writes exactly what best.py does (top-5 chosen on its own)', async () => {
    const dir = officialWorkDir();
    const { code, lines } = await rla('best', dir, '--official');
    assert.equal(code, 0, lines.join('\n'));
    // The expected text is best.py's own output on these files (python3 best.py, numpy 1.x).
    assert.equal(
      readFileSync(join(dir, 'best.txt'), 'utf8'),
      'Acc@1:52.0 epoch:2\nAcc@5:78.1875 epoch:3\nErr@1:48.0\nErr@5:21.8125',
    );
    const rule = '-'.repeat(80);
    assert.deepEqual(lines, [
      rule,
      '* best Acc@1: 52.000 at epoch 2, Err@1: 48.000',
      rule,
      '* best Acc@5: 78.188 at epoch 3, Err@5: 21.812',
      rule,
    ]);
  });

  it("rla best reads train.py's logs too: best val top-1 and the top-5 of that epoch", async () => {
    const dir = officialWorkDir();
    const { code, lines } = await rla('best', dir);
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(lines, ['best epoch 2 of 5: validation top-1 52.00%  top-5 76.50%  loss -']);
  });

  it('rla best --official on an rla-net run numbers epochs from 0 like train.py', async () => {
    const dir = tempRunDir();
    const record = (epoch: number, top1: number, top5: number): EpochRecord => ({
      event: 'epoch',
      epoch,
      lr: 0.1,
      lr_last: 0.1,
      train_loss: 1,
      train_top1: 0.5,
      train_top5: 0.8,
      val_loss: 1,
      val_top1: top1,
      val_top5: top5,
      best: false,
      seconds: 1,
      images_per_second: 1,
    });
    await appendMetrics(dir, record(1, 0.25, 0.9));
    await appendMetrics(dir, record(2, 0.5, 0.75));
    const { code } = await rla('best', dir, '--official');
    assert.equal(code, 0);
    assert.equal(
      readFileSync(join(dir, 'best.txt'), 'utf8'),
      'Acc@1:50.0 epoch:1\nAcc@5:90.0 epoch:0\nErr@1:50.0\nErr@5:10.0',
    );
    assert.deepEqual(
      officialLogsFromHistory([record(3, 0.123456789, 0.5)]).valAcc1,
      [{ epoch: 2, value: 12.3457 }],
      'percent, rounded to the 4 decimals a printed tensor has',
    );
  });

  it("best.py's selection and number formats", () => {
    const best = officialBest({
      trainAcc1: [],
      trainAcc5: [],
      loss: [],
      valAcc1: [
        { epoch: 0, value: 1e-5 },
        { epoch: 1, value: 1e-5 },
      ],
      valAcc5: [{ epoch: 7, value: 99.9 }],
    });
    assert.deepEqual(best, { acc1: 1e-5, epoch1: 0, acc5: 99.9, epoch5: 7 });
    assert.match(
      bestTxt(best),
      /^Acc@1:1e-05 epoch:0\nAcc@5:99\.9 epoch:7\nErr@1:99\.99999\nErr@5:0\.09999999999999432$/,
    );
    assert.deepEqual([1, 0.5, 1e16, 1.5e-7, -2, 123.456].map(pythonFloatRepr), [
      '1.0',
      '0.5',
      '1e+16',
      '1.5e-07',
      '-2.0',
      '123.456',
    ]);
    assert.deepEqual(
      [pythonFixed(0.0625, 3), pythonFixed(0.1875, 3), pythonFixed(2.5, 0), pythonFixed(1.23456, 3)],
      ['0.062', '0.188', '2', '1.235'],
    );
    assert.throws(
      () => officialBest({ trainAcc1: [], trainAcc5: [], loss: [], valAcc1: [], valAcc5: [] }),
      /val_acc1\.txt has no epoch/,
    );
  });

  it('rla plot draws the official logs as SVG and PNG (accuracy, top-5 with train top-5, loss)', async () => {
    const dir = officialWorkDir();
    const { code, lines } = await rla('plot', dir);
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines[0], /^5 epoch\(s\) plotted/);
    const top5 = readFileSync(join(dir, 'top5.svg'), 'utf8');
    assert.match(top5, /train top-5/);
    assert.equal((top5.match(/<path /g) ?? []).length, 2);
    const loss = readFileSync(join(dir, 'loss.svg'), 'utf8');
    assert.equal((loss.match(/<path /g) ?? []).length, 1, 'train.py logs no validation loss');
    for (const name of ['accuracy', 'top5', 'loss']) {
      const png = pngjs.PNG.sync.read(readFileSync(join(dir, `${name}.png`)));
      assert.deepEqual([png.width, png.height], [640, 400], name);
    }
    // Both top-5 curves are drawn in their colour (#2ca02c) inside the plot frame, and the title in black.
    const png = pngjs.PNG.sync.read(readFileSync(join(dir, 'top5.png')));
    const count = (match: (r: number, g: number, b: number) => boolean, y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++)
        for (let x = 64; x < 624; x++) {
          const i = 4 * (y * png.width + x);
          if (match(png.data[i], png.data[i + 1], png.data[i + 2])) n++;
        }
      return n;
    };
    assert.ok(count((r, g, b) => r === 0x2c && g === 0xa0 && b === 0x2c, 57, 352) > 500);
    assert.ok(count((r, g, b) => r + g + b === 0, 0, 30) > 100, 'title');
    // The same logs draw the same bytes.
    const first = readFileSync(join(dir, 'top5.png'));
    assert.equal((await rla('plot', dir)).code, 0);
    assert.ok(first.equals(readFileSync(join(dir, 'top5.png'))));
  });

  it('rla plot refuses a directory with neither kind of log', async () => {
    const dir = tempRunDir();
    writeFileSync(join(dir, 'notes.txt'), '');
    const { code } = await rla('plot', dir);
    assert.equal(code, 1);
  });
});
