/**
 * The run's metrics log, `metrics.jsonl`: one JSON object per line, appended (never rewritten) so a crash loses at
 * most the line being written. Readers take the last record of each epoch, because a run resumed from an older
 * checkpoint repeats the epochs after it. The epoch records also go to `metrics.csv` (same rows, one column per
 * field) for spreadsheets and pandas.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** File name of the metrics log inside a run directory. */
export const METRICS_FILE = 'metrics.jsonl';
/** The epoch records of {@link METRICS_FILE} as CSV. */
export const METRICS_CSV_FILE = 'metrics.csv';

/** Per-epoch record. `epoch` is 1-based (epochs completed); accuracies are fractions in [0, 1]. */
export interface EpochRecord {
  event: 'epoch';
  epoch: number;
  /** Learning rate of the epoch's first and last update (equal unless the schedule is per iteration). */
  lr: number;
  lr_last: number;
  train_loss: number;
  train_top1: number;
  train_top5: number;
  /** Validation metrics (null when the run does not validate). */
  val_loss: number | null;
  val_top1: number | null;
  val_top5: number | null;
  /** True when this epoch set a new best validation top-1 (its weights are in best.safetensors). */
  best: boolean;
  seconds: number;
  images_per_second: number;
}

/** Test-split evaluation of the best weights, written when training completes. */
export interface TestRecord {
  event: 'test';
  /** Epoch whose weights were evaluated. */
  epoch: number;
  loss: number;
  top1: number;
  top5: number;
  count: number;
}

/** Written when a run starts or resumes. */
export interface StartRecord {
  event: 'start';
  time: string;
  resumed_from_epoch: number | null;
  backend: string;
  config: unknown;
}

/** Written when a run stops early (Ctrl-C, a non-finite loss, or a callback such as early stopping). */
export interface StopRecord {
  event: 'stopped';
  reason: 'interrupted' | 'diverged' | 'callback';
  epoch: number;
  batch: number;
  message: string;
}

/** Any line of `metrics.jsonl`, told apart by `event`. */
export type MetricsRecord = EpochRecord | TestRecord | StartRecord | StopRecord;

/** Columns of {@link METRICS_CSV_FILE}: the fields of an {@link EpochRecord}. */
export const CSV_COLUMNS = [
  'epoch',
  'lr',
  'lr_last',
  'train_loss',
  'train_top1',
  'train_top5',
  'val_loss',
  'val_top1',
  'val_top5',
  'best',
  'seconds',
  'images_per_second',
] as const satisfies ReadonlyArray<keyof EpochRecord>;

/** One CSV line of an epoch record (numbers as JSON writes them, null as an empty cell). */
export function csvRow(record: EpochRecord): string {
  return CSV_COLUMNS.map((column) => {
    const value = record[column];
    return value === null ? '' : String(value);
  }).join(',');
}

/** Appends one record as a line (epoch records also as a row of metrics.csv, with a header first). */
export async function appendMetrics(runDir: string, record: MetricsRecord): Promise<void> {
  await fs.appendFile(join(runDir, METRICS_FILE), `${JSON.stringify(record)}\n`);
  if (record.event !== 'epoch') return;
  const csv = join(runDir, METRICS_CSV_FILE);
  const fresh = await fs.stat(csv).then(
    (stat) => stat.size === 0,
    () => true,
  );
  await fs.appendFile(csv, `${fresh ? `${CSV_COLUMNS.join(',')}\n` : ''}${csvRow(record)}\n`);
}

/** All records of a run (a truncated last line from a crash is skipped). */
export async function readMetrics(runDir: string): Promise<MetricsRecord[]> {
  const path = join(runDir, METRICS_FILE);
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    throw new Error(`${runDir}: no ${METRICS_FILE} (is this an rla train run directory?)`);
  }
  const records: MetricsRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim().length === 0) continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // a partly written last line
    }
  }
  return records;
}

/** The epoch records in epoch order, the last one of each epoch winning. */
export function epochHistory(records: readonly MetricsRecord[]): EpochRecord[] {
  const byEpoch = new Map<number, EpochRecord>();
  for (const record of records) if (record.event === 'epoch') byEpoch.set(record.epoch, record);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** The epoch with the best validation top-1 (the first of equals, like keep-best with `>`), or null. */
export function bestEpoch(history: readonly EpochRecord[]): EpochRecord | null {
  let best: EpochRecord | null = null;
  for (const record of history) {
    if (record.val_top1 !== null && (best === null || record.val_top1 > (best.val_top1 ?? -1))) best = record;
  }
  return best;
}

/** The last test record, if any. */
export function lastTest(records: readonly MetricsRecord[]): TestRecord | null {
  const tests = records.filter((r): r is TestRecord => r.event === 'test');
  return tests.at(-1) ?? null;
}
