/**
 * `rla study` through the command line: a study SIGKILLed between two cells and again in the middle of a cell,
 * then rerun, ends with the table of an uninterrupted study (seeded runs and exact resume make the accuracies
 * equal, not just close); the table keeps its format; a rerun with another recipe is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { StudyTable } from '../../src/study/table.js';
import { readTrainingCheckpoint } from '../../src/train/training-checkpoint.js';
import { tempDir, writeCifar10 } from '../data/_files.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SMALL = '{"layers":[1,1,1,1],"widthPerGroup":2}';

async function rla(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

/** Runs the CLI in a child process and SIGKILLs it as soon as `when()` holds (checked every 20 ms). */
async function killWhen(argv: string[], when: () => boolean): Promise<string> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rla.js'), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setInterval(() => {
    if (when()) child.kill('SIGKILL');
  }, 20);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_, s) => resolve(s)),
  );
  clearInterval(timer);
  assert.equal(signal, 'SIGKILL', `the study ended before it was killed:\n${output}`);
  return output;
}

/** The table without the timing fields, which differ from run to run. */
function withoutTimings(table: StudyTable): unknown {
  return {
    reference: table.reference,
    groups: table.groups.map(({ imagesPerSecond, wallSeconds, ...rest }) => rest),
    cells: table.cells.map(({ imagesPerSecond, trainSeconds, wallSeconds, resumed, ...rest }) => rest),
  };
}

describe('rla study', () => {
  const data = tempDir('rla-cifar-');
  const root = tempDir('rla-study-');
  const args = (out: string) => [
    'study',
    '--out',
    out,
    '--model',
    `ResNet=resnet50${SMALL}`,
    '--model',
    `RLA=rla_resnet50${SMALL}`,
    '--rla-channels',
    '4',
    '--seeds',
    '0,1',
    '--dataset',
    'cifar10',
    '--data',
    data,
    '--val-size',
    '0',
    '--epochs',
    '2',
    '--batch-size',
    '4',
    '--eval-batch-size',
    '8',
    '--lr',
    '0.02',
    '--save-every',
    '3',
  ];
  const cells = ['ResNet-s0', 'RLA-k4-s0', 'ResNet-s1', 'RLA-k4-s1'];
  const done = (dir: string, cell: string) => existsSync(join(dir, 'cells', cell, 'result.json'));
  const readTable = (dir: string) =>
    JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as StudyTable;

  before(() => {
    writeCifar10(data, 6, 8);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('killed between cells and in the middle of a cell, then rerun, ends with the uninterrupted table', async () => {
    const whole = join(root, 'whole');
    const first = await rla(...args(whole));
    assert.equal(first.code, 0, first.text);
    const reference = readTable(whole);
    assert.deepEqual(
      reference.cells.map((c) => c.id),
      cells,
    );
    assert.deepEqual(
      reference.groups.map((g) => g.group),
      ['ResNet', 'RLA k=4'],
    );

    const cut = join(root, 'cut');
    // Between cells: killed as soon as the first cell's result is recorded.
    await killWhen(args(cut), () => done(cut, cells[0] as string));
    assert.deepEqual(
      cells.map((cell) => done(cut, cell)),
      [true, false, false, false],
    );
    // Mid-cell: killed once the third cell has a checkpoint but no result.
    const third = join(cut, 'cells', cells[2] as string);
    await killWhen(
      args(cut),
      () => existsSync(join(third, 'checkpoint.safetensors')) && !done(cut, cells[2] as string),
    );
    assert.deepEqual(
      cells.map((cell) => done(cut, cell)),
      [true, true, false, false],
    );
    const { state } = await readTrainingCheckpoint(join(third, 'checkpoint.safetensors'));
    assert.ok(
      state.epoch < 2,
      `the third cell's checkpoint is at epoch ${state.epoch}, batch ${state.batch}`,
    );

    const rerun = await rla(...args(cut));
    assert.equal(rerun.code, 0, rerun.text);
    const resumed = readTable(cut);
    assert.deepEqual(withoutTimings(resumed), withoutTimings(reference));
    assert.deepEqual(
      resumed.cells.map((c) => c.resumed),
      [false, false, true, false],
    );
    // The markdown table has the same rows up to the timing columns.
    const accuracyColumns = (dir: string) =>
      readFileSync(join(dir, 'results.md'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => line.split('|').slice(0, 8).join('|'));
    assert.deepEqual(accuracyColumns(cut), accuracyColumns(whole));
    assert.match(readFileSync(join(cut, 'top1.svg'), 'utf8'), /^<svg /);
    assert.deepEqual(readdirSync(join(cut, 'cells')).sort(), [...cells].sort());
  });

  it('a finished study reruns without training (another --save-every is no other recipe)', async () => {
    const whole = join(root, 'whole');
    const again = await rla(...args(whole).map((a) => (a === '3' ? '5' : a)));
    assert.equal(again.code, 0, again.text);
    assert.doesNotMatch(again.text, /cell \d\/4:/);
    assert.match(again.text, /\| model \| k \| params \| MACs \| test top-1 % \(mean ± std\) \|/);
    assert.match(again.text, /\| RLA \| 4 \| /);
  });

  it('usage errors name the option at fault (exit 2, nothing trained)', async () => {
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    const out = join(root, 'usage');
    try {
      assert.equal((await rla('study', '--out', out)).code, 2);
      assert.equal((await rla('study', '--model', 'resnet50')).code, 2);
      assert.equal((await rla('study', '--out', out, '--model', 'resnet50', '--seeds', '0,,1')).code, 2);
      assert.equal((await rla('study', '--out', out, '--model', 'resnet5')).code, 2);
      const twice = ['--model', 'rla_resnet50{"rlaChannel":4}', '--rla-channels', '8'];
      assert.equal((await rla('study', '--out', out, ...twice)).code, 2);
      assert.equal((await rla('study', '--out', out, '--model', 'resnet50', '--lr=-1')).code, 2);
    } finally {
      console.error = consoleError;
    }
    const text = errors.join('\n');
    assert.match(text, /at least one --model is required/);
    assert.match(text, /--out DIR is required/);
    assert.match(text, /--seeds 0,,1: expected comma-separated integers/);
    assert.match(text, /unknown model "resnet5"; did you mean resnet50/);
    assert.match(text, /rla_resnet50: rlaChannel is set in its options and by the grid's k values/);
    assert.match(text, /lr must be > 0, got -1/);
    assert.equal(existsSync(out), false);
  });

  it('refuses to continue a study with another recipe, naming the cell and the setting', async () => {
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const changed = args(join(root, 'whole')).map((a) => (a === '0.02' ? '0.03' : a));
      assert.equal((await rla(...changed)).code, 2);
    } finally {
      console.error = consoleError;
    }
    assert.match(
      errors.join('\n'),
      /cells\/ResNet-s0\/result\.json was made with another config .*differs in: lr/,
    );
  });
});
