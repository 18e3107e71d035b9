import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { configAsOptions } from '../../src/cli/train-config-file.js';
import { PLATEAU_DEFAULTS } from '../../src/train/callbacks.js';
import { DEFAULT_CONFIG } from '../../src/train/config.js';
import { epochHistory, readMetrics } from '../../src/train/metrics-log.js';
import { RECIPE_NAMES, resolveConfig } from '../../src/train/recipes.js';
import { tempDir, writeCifar10 } from '../data/_files.js';
import { REPO_ROOT } from '../helpers/paths.js';

/** Runs the CLI, collecting stdout lines, console.error messages and what was written to process.stderr. */
async function rla(...argv: string[]): Promise<{ code: number; lines: string[]; err: string }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const consoleError = console.error;
  const stderrWrite = process.stderr.write;
  console.error = (message: unknown) => errors.push(String(message));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    errors.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv, (line) => lines.push(line));
    return { code, lines, err: errors.join('\n') };
  } finally {
    console.error = consoleError;
    process.stderr.write = stderrWrite;
  }
}

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

describe('rla train --config / --print-config / config.json, rla --version', () => {
  const dir = tempDir('rla-config-');
  const data = join(dir, 'cifar');
  before(() => writeCifar10(data, 4, 4));

  it('--print-config of a config file prints that file back, for every recipe (the file fixes the whole run)', async () => {
    for (const recipe of RECIPE_NAMES) {
      const config = resolveConfig(DEFAULT_CONFIG, recipe, {
        reduceLrOnPlateau: { ...PLATEAU_DEFAULTS, patience: 3, minLr: 1e-5 },
        earlyStopping: { monitor: 'val_top1', patience: 7, minDelta: 0.001, mode: 'max' },
      });
      const options = configAsOptions(config, { engine: 'tfjs' });
      const file = writeJson(dir, `${recipe}.json`, options);
      const { code, lines, err } = await rla('train', '--config', file, '--print-config');
      assert.equal(code, 0, err);
      assert.deepEqual(JSON.parse(lines.join('\n')), options, recipe);
    }
  });

  it('the command line overrides the file; camelCase keys are accepted', async () => {
    const file = writeJson(dir, 'override.json', {
      batchSize: 64,
      nesterov: false,
      schedule: 'multistep',
      milestones: [3, 6],
      engine: 'tfjs',
    });
    const { code, lines } = await rla(
      'train',
      '--config',
      file,
      '--batch-size',
      '16',
      '--nesterov',
      '--print-config',
    );
    assert.equal(code, 0);
    const printed = JSON.parse(lines.join('\n'));
    assert.equal(printed['batch-size'], 16);
    assert.equal(printed.nesterov, true);
    assert.deepEqual(printed.milestones, [3, 6]);
  });

  it('unknown keys and values of the wrong type are usage errors naming the file and the key', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ batchsize: 8 }, /bad\.json: unknown key "batchsize" \(did you mean "batch-size"\?\)/],
      [{ resume: 'runs/x' }, /unknown key "resume"/],
      [{ nesterov: 'yes' }, /"nesterov" must be true or false/],
      [{ epochs: true }, /"epochs" has an unusable value true/],
      [[1, 2], /must hold a JSON object of option names and values/],
    ];
    for (const [content, message] of cases) {
      const { code, err } = await rla(
        'train',
        '--config',
        writeJson(dir, 'bad.json', content),
        '--print-config',
      );
      assert.equal(code, 2, JSON.stringify(content));
      assert.match(err, message);
    }
    const partial = await rla('train', '--plateau-factor', '0.5', '--print-config');
    assert.equal(partial.code, 2);
    assert.match(
      partial.err,
      /--plateau-factor needs --plateau-patience N, which turns reduce-on-plateau on/,
    );
    const monitor = await rla(
      'train',
      '--early-stop-patience',
      '2',
      '--early-stop-monitor',
      'val_acc',
      '--print-config',
    );
    assert.equal(monitor.code, 2);
    assert.match(monitor.err, /early stopping monitor must be one of val_loss, .* got val_acc/);
  });

  it('rla --version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const { code, lines } = await rla('--version');
    assert.equal(code, 0);
    assert.deepEqual(lines, [`rla-net ${version}`]);
  });

  it('a run from a config file writes config.json and metrics.csv, stops early, and keeps progress on stderr', async () => {
    const runDir = join(dir, 'run');
    const file = writeJson(dir, 'run.json', {
      dataset: 'cifar10',
      data,
      model: 'rla_resnet50',
      options: { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4 },
      epochs: 4,
      'batch-size': 8,
      'eval-batch-size': 8,
      'val-size': 4,
      lr: 0.01,
      schedule: 'constant',
      engine: 'tfjs',
      backend: 'wasm',
      // Only the first epoch can improve by more than 1e9: patience 1 stops after epoch 2.
      'early-stop-patience': 1,
      'early-stop-min-delta': 1e9,
    });
    const printed = await rla('train', '--config', file, '--print-config');
    const { code, lines, err } = await rla('train', '--config', file, '--out', runDir);
    const text = lines.join('\n');
    assert.equal(code, 0, `${text}\n${err}`);
    assert.deepEqual(
      JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')),
      JSON.parse(printed.lines.join('\n')),
    );
    assert.match(text, /training {3}2 of 4 epoch\(s\)/);
    assert.match(text, /stopped {4}after epoch 2: early stopping: val_loss did not improve for 1 epoch\(s\)/);
    const history = epochHistory(await readMetrics(runDir));
    assert.equal(history.length, 2);
    const csv = readFileSync(join(runDir, 'metrics.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv.length, 3, 'a header and one row per epoch');
    assert.match(csv[0], /^epoch,lr,lr_last,train_loss,/);
    // Progress lines (partial epochs) go to stderr; epoch summaries to stdout.
    assert.match(err, /epoch 1\/4 2\/2 {2}loss \d\.\d{4} {2}acc /);
    assert.ok(!lines.some((line) => / ETA /.test(line)), 'no progress line on stdout');
    assert.match(text, /epoch 2\/4 {2}lr 0\.0100 {2}train loss/);
  });
});
