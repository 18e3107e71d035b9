/**
 * Runs a study's cells one after another, each an ordinary training run in `<dir>/cells/<id>/`, and records each
 * finished cell atomically in its `result.json`. Rerunning continues where a killed study stopped: finished cells
 * are read back, a cell cut short resumes from its own training checkpoint (exactly: see src/train/trainer.ts),
 * and a cell never started starts. A cell whose stored config differs from the grid's is an error, so one study
 * directory never mixes two recipes.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { countMacs, countParams } from '../count/count.js';
import type { BackendChoice } from '../engine/backend.js';
import type { ModelOptions } from '../models/registry.js';
import { epochHistory, lastTest, readMetrics } from '../train/metrics-log.js';
import type { TrainingEngine } from '../train/ort-step.js';
import { formatDuration, type ProgressReporter } from '../train/progress.js';
import { openTrainingRun } from '../train/run.js';
import { CHECKPOINT_FILE } from '../train/trainer.js';
import { readTrainingCheckpoint, type TrainingCheckpoint } from '../train/training-checkpoint.js';
import { percent } from '../util/format.js';
import { writeFileAtomic } from '../weights/files-node.js';
import type { StudyCell } from './grid.js';

/** A finished cell's numbers, stored in `cells/<id>/result.json`. */
export interface CellResult {
  id: string;
  group: string;
  label: string;
  model: string;
  options: ModelOptions;
  rlaChannel: number | null;
  seed: number;
  /** Test-split accuracy (fractions): of the best-validation weights with a held-out split, else of the last epoch. */
  top1: number;
  top5: number;
  testImages: number;
  params: number;
  /** thop-rule multiply-accumulates of one forward pass at the run's input size. */
  macs: number;
  /** Training images per second over the run's steps (the trainer's own clock, summed over every epoch). */
  imagesPerSecond: number;
  trainSeconds: number;
  /** Wall-clock seconds of the session that finished the cell (graph build, training, evaluation). */
  wallSeconds: number;
  /** Whether that session resumed the cell from a checkpoint (its wall time then misses the earlier sessions). */
  resumed: boolean;
  engine: string;
  /** The cell's whole training config, to detect a rerun with another recipe. */
  config: StudyCell['config'];
}

/** A cell's result file inside its run directory. */
export const RESULT_FILE = 'result.json';

/** A study directory that does not match the grid it is asked to continue. */
export class StudyMismatchError extends Error {}

export interface StudyRunOptions {
  dir: string;
  cells: StudyCell[];
  engine?: TrainingEngine;
  threads?: number;
  backend?: BackendChoice;
  /** Aborting stops the running cell after its current batch, with a checkpoint. */
  signal?: AbortSignal;
  /** One line per cell started and finished. */
  log: (line: string) => void;
  /** The training progress of a cell. */
  progress?: ProgressReporter;
  /** Called with every result so far after each cell finishes (the command rewrites the table). */
  onResults?: (results: CellResult[]) => Promise<void>;
}

export type StudyOutcome =
  | { status: 'completed'; results: CellResult[] }
  | { status: 'interrupted'; results: CellResult[]; cell: string }
  | { status: 'diverged'; results: CellResult[]; cell: string; message: string };

/** The run directory of a cell. */
export function cellDir(dir: string, cell: StudyCell): string {
  return join(dir, 'cells', cell.id);
}

/** Names the config keys where `stored` and `wanted` differ (top level), for the mismatch message. */
function differingKeys(stored: object, wanted: object): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(wanted)]);
  return [...keys].filter(
    (key) =>
      !isDeepStrictEqual((stored as Record<string, unknown>)[key], (wanted as Record<string, unknown>)[key]),
  );
}

/**
 * Settings that do not change what a run computes (where the data lives, decode threads, how often it
 * checkpoints): a study may continue with other values, as `rla train --resume` accepts them.
 */
const NEUTRAL_SETTINGS = ['data', 'dataWorkers', 'saveEvery'];

function withoutNeutral(config: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !NEUTRAL_SETTINGS.includes(key)));
}

function checkSameConfig(cell: StudyCell, stored: object, where: string): void {
  const [a, b] = [withoutNeutral(stored), withoutNeutral(cell.config)];
  if (isDeepStrictEqual(a, b)) return;
  throw new StudyMismatchError(
    `${where} was made with another config than this study's cell ${cell.id} ` +
      `(differs in: ${differingKeys(a, b).join(', ')}); use another --out for another recipe`,
  );
}

async function readResult(path: string): Promise<CellResult | null> {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as CellResult;
  } catch (error) {
    throw new Error(
      `${path}: unreadable cell result (${(error as Error).message}); delete it to rerun the cell`,
    );
  }
}

/** Test accuracy and training speed of a finished run, from its metrics log (the last record of each epoch). */
export async function runNumbers(
  runDir: string,
  cell: StudyCell,
): Promise<{ top1: number; top5: number; trainSeconds: number; imagesPerSecond: number }> {
  const records = await readMetrics(runDir);
  const history = epochHistory(records).filter((r) => r.epoch <= cell.config.epochs);
  const last = history.at(-1);
  if (!last || last.epoch !== cell.config.epochs) {
    throw new Error(`${runDir}: the metrics log has no record of epoch ${cell.config.epochs}`);
  }
  let top1: number | null;
  let top5: number | null;
  if (cell.config.valSize > 0) {
    const test = lastTest(records);
    top1 = test?.top1 ?? null;
    top5 = test?.top5 ?? null;
  } else {
    // Without a held-out split every epoch is validated on the test split: report the last epoch's, not the best
    // one's (choosing an epoch by its test score would flatter the model).
    top1 = last.val_top1;
    top5 = last.val_top5;
  }
  if (top1 === null || top5 === null) throw new Error(`${runDir}: the metrics log has no test result`);
  const trainSeconds = history.reduce((sum, r) => sum + r.seconds, 0);
  const images = history.reduce((sum, r) => sum + r.images_per_second * r.seconds, 0);
  return { top1, top5, trainSeconds, imagesPerSecond: images / Math.max(trainSeconds, 1e-9) };
}

/** Trains one cell (fresh or resumed from its checkpoint); returns its result, or how it stopped. */
async function runCell(
  o: StudyRunOptions,
  cell: StudyCell,
): Promise<CellResult | { stopped: 'interrupted' } | { stopped: 'diverged'; message: string }> {
  const runDir = cellDir(o.dir, cell);
  const checkpointPath = join(runDir, CHECKPOINT_FILE);
  let checkpoint: TrainingCheckpoint | undefined;
  if (existsSync(checkpointPath)) {
    checkpoint = await readTrainingCheckpoint(checkpointPath);
    checkSameConfig(cell, checkpoint.state.config, checkpointPath);
  }
  const started = performance.now();
  const run = await openTrainingRun({
    config: cell.config,
    runDir,
    checkpoint,
    engine: o.engine,
    threads: o.threads,
    backend: o.backend,
    signal: o.signal,
    progress: o.progress,
  });
  try {
    const size = run.data.preprocessing.size;
    const params = countParams(run.model);
    const macs = countMacs(run.model, [1, size, size, 3]);
    const outcome = await run.run();
    if (outcome.status === 'interrupted') return { stopped: 'interrupted' };
    if (outcome.status === 'diverged') return { stopped: 'diverged', message: outcome.message };
    const numbers = await runNumbers(runDir, cell);
    return {
      id: cell.id,
      group: cell.group,
      label: cell.label,
      model: cell.config.model,
      options: cell.config.modelOptions,
      rlaChannel: cell.rlaChannel,
      seed: cell.seed,
      ...numbers,
      testImages: run.data.test.length,
      params,
      macs,
      wallSeconds: (performance.now() - started) / 1000,
      resumed: checkpoint !== undefined,
      engine: run.engineName,
      config: cell.config,
    };
  } finally {
    await run.close();
  }
}

/** Runs every unfinished cell of the study in order (see the module comment). */
export async function runStudy(o: StudyRunOptions): Promise<StudyOutcome> {
  const results: CellResult[] = [];
  for (const [index, cell] of o.cells.entries()) {
    const resultPath = join(cellDir(o.dir, cell), RESULT_FILE);
    const stored = await readResult(resultPath);
    if (stored) {
      checkSameConfig(cell, stored.config, resultPath);
      results.push(stored);
      continue;
    }
    if (o.signal?.aborted) return { status: 'interrupted', results, cell: cell.id };
    o.log(
      `cell ${index + 1}/${o.cells.length}: ${cell.id} (${cell.config.model} ${JSON.stringify(cell.config.modelOptions)}, seed ${cell.seed})`,
    );
    const result = await runCell(o, cell);
    if ('stopped' in result) {
      return result.stopped === 'interrupted'
        ? { status: 'interrupted', results, cell: cell.id }
        : { status: 'diverged', results, cell: cell.id, message: result.message };
    }
    await writeFileAtomic(resultPath, new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`));
    results.push(result);
    o.log(
      `cell ${index + 1}/${o.cells.length}: ${cell.id} done: test top-1 ${percent(result.top1)} ` +
        `top-5 ${percent(result.top5)}, ${result.imagesPerSecond.toFixed(1)} img/s, ${formatDuration(result.wallSeconds)}`,
    );
    await o.onResults?.(results);
  }
  return { status: 'completed', results };
}
