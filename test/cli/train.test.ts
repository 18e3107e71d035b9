import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { epochHistory, readMetrics } from '../../src/train/metrics-log.js';
import { readTrainingCheckpoint } from '../../src/train/training-checkpoint.js';
import { patternRgb, pngBytes, tempDir, writeCifar10 } from '../data/_files.js';
import { REPO_ROOT } from '../helpers/paths.js';

const TINY = JSON.stringify({ layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4 });

async function rla(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, lines };
}

describe('rla train / eval / predict / plot / best', () => {
  const data = tempDir('rla-cifar-');
  const runDir = join(tempDir('rla-runs-'), 'run');
  const trainArgs = [
    '--dataset',
    'cifar10',
    '--data',
    data,
    '--model',
    'rla_resnet50',
    '--options',
    TINY,
    '--batch-size',
    '8',
    '--eval-batch-size',
    '8',
    '--val-size',
    '4',
    '--lr',
    '0.01',
    '--schedule',
    'constant',
    '--backend',
    'wasm',
  ];

  before(() => {
    writeCifar10(data, 4, 6);
  });

  it('trains, keeps the best weights, evaluates them on the test split and summarises', async () => {
    const { code, lines } = await rla('train', ...trainArgs, '--epochs', '1', '--out', runDir);
    const text = lines.join('\n');
    assert.equal(code, 0, text);
    assert.match(text, /16 train \/ 4 validation \/ 6 test images, 10 classes/);
    assert.match(text, /epoch 1\/1 {2}lr 0\.0100 {2}train loss \d/);
    assert.match(text, /== summary ==/);
    assert.match(text, /test {7}top-1 \d+\.\d\d% {2}top-5/);
    for (const file of ['checkpoint.safetensors', 'best.safetensors', 'metrics.jsonl'])
      assert.ok(existsSync(join(runDir, file)), file);
  });

  it('rla best and rla plot read the run directory', async () => {
    const best = await rla('best', runDir);
    assert.equal(best.code, 0);
    assert.match(best.lines[0], /^best epoch 1 of 1: validation top-1 \d+\.\d\d% {2}top-5 \d+\.\d\d%/);
    assert.match(best.lines[1], /^test \(weights of epoch 1\): top-1/);
    const plot = await rla('plot', runDir);
    assert.equal(plot.code, 0);
    for (const name of ['accuracy.svg', 'loss.svg']) {
      const svg = readFileSync(join(runDir, name), 'utf8');
      assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), name);
      assert.match(svg, /val top-1|val loss/);
    }
    for (const name of ['accuracy.png', 'top5.png', 'loss.png', 'top5.svg'])
      assert.ok(existsSync(join(runDir, name)), name);
  });

  it('rla eval uses the dataset and preprocessing stored with the weights', async () => {
    const { code, lines } = await rla(
      'eval',
      '--weights',
      join(runDir, 'best.safetensors'),
      '--data',
      data,
      '--json',
    );
    assert.equal(code, 0, lines.join('\n'));
    const result = JSON.parse(lines.join('\n'));
    assert.equal(result.dataset, 'cifar10');
    assert.equal(result.count, 6);
    assert.ok(result.top1 >= 0 && result.top1 <= 1 && result.top5 >= result.top1);
  });

  it('rla eval --engine ort takes the ONNX Runtime session flags and agrees with TF.js', async () => {
    const weights = join(runDir, 'best.safetensors');
    const json = async (...extra: string[]) => {
      const { code, lines } = await rla('eval', '--weights', weights, '--data', data, '--json', ...extra);
      assert.equal(code, 0, lines.join('\n'));
      return JSON.parse(lines.join('\n'));
    };
    const tfjs = await json();
    const ort = await json(
      '--engine',
      'ort',
      '--threads',
      '1',
      '--execution-providers',
      'cpu',
      '--ort-log-level',
      'error',
    );
    assert.equal(ort.backend, 'onnxruntime');
    assert.equal(ort.count, tfjs.count);
    assert.equal(ort.top1, tfjs.top1);
    assert.ok(Math.abs(ort.loss - tfjs.loss) < 1e-4, `loss ${ort.loss} vs ${tfjs.loss}`);
    const bad = await rla('eval', '--weights', weights, '--engine', 'ort', '--ort-log-level', 'loud');
    assert.equal(bad.code, 2);
  });

  it('rla predict prints the top-5 classes with probabilities', async () => {
    const image = join(tempDir(), 'cat.png');
    writeFileSync(image, pngBytes(patternRgb(1, 48, 40), 48, 40));
    const { code, lines } = await rla('predict', image, '--weights', join(runDir, 'best.safetensors'));
    assert.equal(code, 0, lines.join('\n'));
    assert.equal(lines[0], `${image}:`);
    assert.equal(lines.length, 6);
    const probabilities = lines.slice(1).map((line) => Number(/([\d.]+)%/.exec(line)![1]));
    assert.ok(
      probabilities.every((p, i) => i === 0 || p <= probabilities[i - 1]),
      'sorted',
    );
    assert.match(lines[1], /% {2}(airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck) \(\d\)$/);
  });

  it('--resume continues the run (here: extended to 2 epochs); other options are refused with it', async () => {
    const refused = await rla('train', '--resume', runDir, '--lr', '0.1');
    assert.equal(refused.code, 2);
    const again = await rla('train', ...trainArgs, '--epochs', '1', '--out', runDir);
    assert.equal(again.code, 2);
    const { code, lines } = await rla('train', '--resume', runDir, '--epochs', '2', '--backend', 'wasm');
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines[0], /resuming end of epoch 1/);
    assert.deepEqual(
      epochHistory(await readMetrics(runDir)).map((r) => r.epoch),
      [1, 2],
    );
  });

  it('--workers 2 trains on a worker pool, records it in the run, and refuses models with Dropout', async () => {
    const pooled = join(tempDir('rla-runs-'), 'pooled');
    const { code, lines } = await rla(
      'train',
      ...trainArgs,
      '--epochs',
      '1',
      '--workers',
      '2',
      '--out',
      pooled,
    );
    const text = lines.join('\n');
    assert.equal(code, 0, text);
    assert.match(text, /engine {4}tfjs-wasm, 2 data-parallel workers/);
    assert.equal(
      (await readTrainingCheckpoint(join(pooled, 'checkpoint.safetensors'))).state.config.workers,
      2,
    );
    const dropout = await rla(
      'train',
      ...trainArgs,
      '--model',
      'mobilenet_v2',
      '--options',
      '{}',
      '--workers',
      '2',
    );
    assert.equal(dropout.code, 2);
    // (The message, on stderr, names the Dropout generator and suggests --workers 1.)
    assert.equal((await rla('train', '--workers', '0')).code, 2);
  });

  it('bad options are usage errors (exit 2)', async () => {
    assert.equal((await rla('train', '--recipe', 'nope')).code, 2);
    assert.equal((await rla('train', '--schedule', 'linear')).code, 2);
    assert.equal((await rla('train', '--epochs', '0')).code, 2);
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (message: unknown) => errors.push(String(message));
    try {
      assert.equal((await rla('train', '--model', 'rla_resnet5')).code, 2);
    } finally {
      console.error = consoleError;
    }
    assert.match(errors.join('\n'), /--model: unknown model "rla_resnet5"; did you mean rla_resnet50/);
  });

  it('Ctrl-C (SIGINT) saves a checkpoint mid-epoch and exits with 130', async () => {
    const interrupted = join(tempDir('rla-runs-'), 'run');
    const args = [
      join(REPO_ROOT, 'bin', 'rla.js'),
      'train',
      ...trainArgs,
      '--batch-size',
      '2',
      '--epochs',
      '3',
      '--out',
      interrupted,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const code = await new Promise<number | null>((resolve) => {
      // Progress lines (stderr) show the first step is done: interrupt mid-epoch.
      const watch = (chunk: Buffer) => {
        output += chunk.toString();
        if (/epoch 1\/3 1\/8/.test(output) && !child.killed) child.kill('SIGINT');
      };
      child.stdout.on('data', watch);
      child.stderr.on('data', watch);
      child.on('exit', (exitCode) => resolve(exitCode));
    });
    assert.equal(code, 130, output);
    assert.match(output, /interrupted: checkpoint saved \(epoch 1 after batch \d\)/);
    assert.match(output, /rla train --resume/);
    const { state } = await readTrainingCheckpoint(join(interrupted, 'checkpoint.safetensors'));
    assert.equal(state.epoch, 0);
    assert.ok(state.batch >= 1 && state.batch < 8);
  });
});
