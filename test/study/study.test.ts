/**
 * The study's grid, statistics, table and chart, without training: cells seed-major with k only on RLA models,
 * mean/std and Welch's t against hand-computed values, the markdown table's format and the chart's marks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseStudyModel } from '../../src/cli/commands/study.js';
import { expandGrid, type StudyGrid } from '../../src/study/grid.js';
import { studyChartSvg } from '../../src/study/plot-svg.js';
import { type CellResult, runNumbers } from '../../src/study/runner.js';
import { meanStd, studyMarkdown, summarizeStudy, welch } from '../../src/study/table.js';
import { DEFAULT_CONFIG } from '../../src/train/config.js';

const SMALL = { layers: [1, 1, 1, 1], widthPerGroup: 2 };

const configFor = (model: string, options: object, seed: number) => ({
  ...DEFAULT_CONFIG,
  model,
  modelOptions: options,
  seed,
});

function result(group: string, label: string, seed: number, top1: number, k: number | null): CellResult {
  return {
    id: `${group}-s${seed}`,
    group,
    label,
    model: k === null ? 'resnet50' : 'rla_resnet50',
    options: SMALL,
    rlaChannel: k,
    seed,
    top1,
    top5: 0.99,
    testImages: 100,
    params: k === null ? 2_000_000 : 2_100_000,
    macs: 10_500_000,
    imagesPerSecond: 200,
    trainSeconds: 10,
    wallSeconds: 12,
    resumed: false,
    engine: 'ort',
    config: configFor('resnet50', SMALL, seed),
  };
}

describe('study grid', () => {
  const grid: StudyGrid = {
    models: [
      { label: 'ResNet', model: 'resnet50', options: SMALL },
      { label: 'RLA-ResNet', model: 'rla_resnet50', options: SMALL },
    ],
    seeds: [0, 1],
    rlaChannels: [8, 16],
  };

  it('is seed-major, with every k for RLA models only, and one config per cell', () => {
    const cells = expandGrid(grid, configFor);
    assert.deepEqual(
      cells.map((c) => c.id),
      [
        'ResNet-s0',
        'RLA-ResNet-k8-s0',
        'RLA-ResNet-k16-s0',
        'ResNet-s1',
        'RLA-ResNet-k8-s1',
        'RLA-ResNet-k16-s1',
      ],
    );
    assert.deepEqual(
      cells.map((c) => c.group),
      ['ResNet', 'RLA-ResNet k=8', 'RLA-ResNet k=16', 'ResNet', 'RLA-ResNet k=8', 'RLA-ResNet k=16'],
    );
    const k16 = cells[2];
    assert.deepEqual(k16?.config.modelOptions, { ...SMALL, rlaChannel: 16 });
    assert.equal(k16?.config.seed, 0);
    assert.equal(k16?.rlaChannel, 16);
    assert.deepEqual(cells[0]?.config.modelOptions, SMALL);
    assert.equal(cells[0]?.rlaChannel, null);
  });

  it("keeps an RLA model's own k without grid k values, and refuses k given twice", () => {
    const own = expandGrid(
      {
        ...grid,
        rlaChannels: [],
        models: [{ label: 'R', model: 'rla_resnet50', options: { rlaChannel: 4 } }],
      },
      configFor,
    );
    assert.deepEqual(
      own.map((c) => [c.id, c.rlaChannel]),
      [
        ['R-s0', 4],
        ['R-s1', 4],
      ],
    );
    assert.throws(
      () =>
        expandGrid(
          { ...grid, models: [{ label: 'R', model: 'rla_resnet50', options: { rlaChannel: 4 } }] },
          configFor,
        ),
      /R: rlaChannel is set in its options and by the grid's k values/,
    );
  });

  it('refuses labels that name the same directory, repeated seeds, an empty grid', () => {
    const models = [
      { label: 'a b', model: 'resnet50', options: {} },
      { label: 'a/b', model: 'resnet50', options: {} },
    ];
    assert.throws(
      () => expandGrid({ ...grid, models }, configFor),
      /models "a b" and "a\/b" need different labels/,
    );
    assert.throws(() => expandGrid({ ...grid, seeds: [1, 1] }, configFor), /repeats a cell/);
    assert.throws(() => expandGrid({ ...grid, models: [] }, configFor), /at least one model/);
  });

  it('parses --model [LABEL=]NAME[JSON]', () => {
    assert.deepEqual(parseStudyModel('ResNet=resnet50{"layers":[1,1,3,1]}'), {
      label: 'ResNet',
      model: 'resnet50',
      options: { layers: [1, 1, 3, 1] },
    });
    assert.deepEqual(parseStudyModel('resnet50'), { label: 'resnet50', model: 'resnet50', options: {} });
    assert.throws(
      () => parseStudyModel('x=resnet50{layers}'),
      /--model x=resnet50\{layers\}: the options are not valid JSON/,
    );
    assert.throws(() => parseStudyModel('=resnet50'), /expected \[LABEL=\]NAME\[JSON\]/);
  });
});

describe('study statistics and table', () => {
  it('mean and sample standard deviation', () => {
    const s = meanStd([0.9, 0.92, 0.94]);
    assert.ok(Math.abs(s.mean - 0.92) < 1e-12);
    assert.ok(Math.abs(s.std - 0.02) < 1e-12);
    assert.deepEqual(meanStd([0.5]), { mean: 0.5, std: 0 });
  });

  it("Welch's t and degrees of freedom match the textbook formulas", () => {
    // a: mean 2, var 1; b: mean 0, var 4 (n = 3 each): se = sqrt(1/3 + 4/3), t = 2 / sqrt(5/3) = 1.5492,
    // df = (5/3)^2 / ((1/3)^2 / 2 + (4/3)^2 / 2) = 2.7778 / 0.9444 = 2.9412.
    const c = welch([1, 2, 3], [-2, 0, 2]);
    assert.ok(c);
    assert.ok(Math.abs(c.difference - 2) < 1e-12);
    assert.ok(Math.abs(c.t - 2 / Math.sqrt(5 / 3)) < 1e-12);
    assert.ok(Math.abs(c.df - 25 / 9 / (17 / 18)) < 1e-12);
    assert.equal(welch([1], [1, 2]), null);
    assert.deepEqual(welch([1, 1], [1, 1]), { difference: 0, t: 0, df: 2 });
  });

  const results = [
    result('ResNet', 'ResNet', 0, 0.8, null),
    result('RLA k=8', 'RLA', 0, 0.82, 8),
    result('ResNet', 'ResNet', 1, 0.84, null),
    result('RLA k=8', 'RLA', 1, 0.86, 8),
  ];

  it('groups in first-appearance order with mean, std and the comparison to the first group', () => {
    const table = summarizeStudy(results);
    assert.equal(table.reference, 'ResNet');
    assert.deepEqual(
      table.groups.map((g) => [g.group, g.seeds, g.params]),
      [
        ['ResNet', [0, 1], 2_000_000],
        ['RLA k=8', [0, 1], 2_100_000],
      ],
    );
    assert.ok(Math.abs((table.groups[0]?.top1.mean ?? 0) - 0.82) < 1e-12);
    assert.equal(table.groups[0]?.vsReference, null);
    const vs = table.groups[1]?.vsReference;
    assert.ok(vs && Math.abs(vs.difference - 0.02) < 1e-12);
    assert.equal(table.cells.length, 4);
  });

  it('writes the markdown table: header, alignment row, one row per group', () => {
    const lines = studyMarkdown(summarizeStudy(results)).trimEnd().split('\n');
    assert.equal(
      lines[0],
      '| model | k | params | MACs | test top-1 % (mean ± std) | test top-5 % (mean ± std) | top-1 vs ResNet (Welch) | train img/s | wall s / cell | seeds |',
    );
    assert.equal(lines.length, 4);
    assert.equal(
      lines[2],
      '| ResNet | - | 2,000,000 | 10.50M | 82.00 ± 2.83 | 99.00 ± 0.00 | - | 200.0 | 12 | 0, 1 |',
    );
    assert.equal(
      lines[3],
      '| RLA | 8 | 2,100,000 | 10.50M | 84.00 ± 2.83 | 99.00 ± 0.00 | +2.00 (t = 0.71, df = 2.0) | 200.0 | 12 | 0, 1 |',
    );
  });

  it('draws one dot per cell and one mean ± std bar per group', () => {
    const svg = studyChartSvg(summarizeStudy(results), 'study <1>');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(svg.match(/<circle /g)?.length, 4);
    assert.equal(svg.match(/<rect x="[^"]*" y="[^"]*" width="8" height="8"/g)?.length, 2);
    assert.match(svg, /study &#60;1&#62;/);
    assert.match(svg, />k = 8</);
  });
});

describe("a cell's numbers from its metrics log", () => {
  const epoch = (n: number, valTop1: number, seconds: number, ips: number) => ({
    event: 'epoch',
    epoch: n,
    lr: 0.1,
    lr_last: 0.1,
    train_loss: 1,
    train_top1: 0.5,
    train_top5: 0.9,
    val_loss: 1,
    val_top1: valTop1,
    val_top5: valTop1 + 0.1,
    best: true,
    seconds,
    images_per_second: ips,
  });
  const cell = (valSize: number) =>
    expandGrid(
      { models: [{ label: 'R', model: 'resnet50', options: {} }], seeds: [0], rlaChannels: [] },
      (model, options, seed) => ({
        ...DEFAULT_CONFIG,
        model,
        modelOptions: options,
        seed,
        epochs: 2,
        valSize,
      }),
    )[0] as Parameters<typeof runNumbers>[1];

  it('without a validation split: the last epoch (its last record), not the best; speed over every epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rla-study-metrics-'));
    try {
      // Epoch 2 was repeated after a resume from an older checkpoint: its last record counts.
      const records = [epoch(1, 0.8, 10, 100), epoch(2, 0.6, 30, 50), epoch(2, 0.7, 20, 150)];
      writeFileSync(join(dir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
      const n = await runNumbers(dir, cell(0));
      assert.equal(n.top1, 0.7);
      assert.ok(Math.abs(n.top5 - 0.8) < 1e-12);
      assert.equal(n.trainSeconds, 30);
      assert.equal(n.imagesPerSecond, (10 * 100 + 20 * 150) / 30);
      await assert.rejects(
        runNumbers(dir, { ...cell(0), config: { ...cell(0).config, epochs: 3 } }),
        /no record of epoch 3/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a validation split: the test record of the best-validation weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rla-study-metrics-'));
    try {
      const test = { event: 'test', epoch: 1, loss: 1, top1: 0.75, top5: 0.97, count: 100 };
      const records = [epoch(1, 0.8, 10, 100), epoch(2, 0.6, 10, 100), test];
      writeFileSync(join(dir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
      const n = await runNumbers(dir, cell(500));
      assert.deepEqual([n.top1, n.top5], [0.75, 0.97]);
      writeFileSync(
        join(dir, 'metrics.jsonl'),
        records
          .slice(0, 2)
          .map((r) => JSON.stringify(r))
          .join('\n'),
      );
      await assert.rejects(runNumbers(dir, cell(500)), /no test result/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
