/**
 * The official train.py's training logs and best.py's summary. train.py writes, into
 * `work_dirs/<arch>_<action>/`, one line per epoch (0-based) to each of
 * - `train_acc1.txt`, `train_acc5.txt`, `val_acc1.txt`, `val_acc5.txt`: `<epoch> <str(tensor)>`, the percentage
 *   as PyTorch prints a 0-d tensor, e.g. `3 tensor(76.1230, device='cuda:0')`;
 * - `loss_plot.txt`: `<epoch> <float>`, the epoch's mean training loss, e.g. `3 2.0319438`.
 * best.py picks the highest val_acc1 and, independently, the highest val_acc5 (the first epoch of equals) and
 * writes `best.txt`; eval_visual.py plots the five files. This module reads them, builds the same series from
 * an rla-net run, and writes best.txt exactly as best.py does.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { pythonFixed, pythonFloatRepr } from '../util/format.js';
import type { CurveRecord } from './chart-layout.js';
import {
  type EpochRecord,
  epochHistory,
  METRICS_FILE,
  type MetricsRecord,
  readMetrics,
} from './metrics-log.js';

/** One log file's points: the epoch as written (0-based in train.py) and the value (a percentage, or the loss). */
export type LogSeries = Array<{ epoch: number; value: number }>;

/** The five series of a train.py work dir. */
export interface OfficialLogs {
  trainAcc1: LogSeries;
  trainAcc5: LogSeries;
  valAcc1: LogSeries;
  valAcc5: LogSeries;
  loss: LogSeries;
}

/** File name of each series, as train.py writes them. */
export const OFFICIAL_LOG_FILES: Record<keyof OfficialLogs, string> = {
  trainAcc1: 'train_acc1.txt',
  trainAcc5: 'train_acc5.txt',
  valAcc1: 'val_acc1.txt',
  valAcc5: 'val_acc5.txt',
  loss: 'loss_plot.txt',
};

/** True when `dir` holds train.py's logs (its val_acc1.txt, which best.py needs). */
export async function hasOfficialLogs(dir: string): Promise<boolean> {
  return fs.stat(join(dir, OFFICIAL_LOG_FILES.valAcc1)).then(
    (stat) => stat.isFile(),
    () => false,
  );
}

/**
 * The value of one log line's second field: the number inside `tensor(...)` (up to the first comma, as
 * read_acclog takes it; a CPU tensor's `tensor(76.1230)` is accepted too), or a plain number (loss_plot.txt).
 */
function parseLogValue(field: string): number {
  const inner = field.includes('(') ? field.slice(field.indexOf('(') + 1).split(/[,)]/)[0] : field;
  return inner.trim() === '' ? Number.NaN : Number(inner);
}

/** Parses one log file's text; `file` names it in errors. */
export function parseLogText(text: string, file: string): LogSeries {
  const series: LogSeries = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const space = line.indexOf(' ');
    const epoch = Number(space < 0 ? line : line.slice(0, space));
    // loss_plot.txt's value is the last field (read_losslog); the accuracy files' is everything after the epoch.
    const value = parseLogValue(space < 0 ? '' : line.slice(space + 1));
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isFinite(value)) {
      throw new Error(
        `${file}:${index + 1}: expected "<epoch> <value>" as train.py writes it, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    series.push({ epoch, value });
  });
  return series;
}

/** Reads train.py's logs from `dir`; a missing file is an empty series, but val_acc1.txt must exist. */
export async function readOfficialLogs(dir: string): Promise<OfficialLogs> {
  const read = async (key: keyof OfficialLogs): Promise<LogSeries> => {
    const path = join(dir, OFFICIAL_LOG_FILES[key]);
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch {
      if (key === 'valAcc1') throw new Error(`${dir}: no ${OFFICIAL_LOG_FILES.valAcc1} (train.py's logs)`);
      return [];
    }
    return parseLogText(text, path);
  };
  const [trainAcc1, trainAcc5, valAcc1, valAcc5, loss] = await Promise.all(
    (['trainAcc1', 'trainAcc5', 'valAcc1', 'valAcc5', 'loss'] as const).map(read),
  );
  return { trainAcc1, trainAcc5, valAcc1, valAcc5, loss };
}

/**
 * An rla-net run's history as train.py would have logged it: epochs 0-based (rla-net's epoch e is train.py's
 * e - 1), accuracies in percent rounded to the 4 decimals a printed tensor has.
 */
export function officialLogsFromHistory(history: readonly EpochRecord[]): OfficialLogs {
  const series = (f: (r: EpochRecord) => number | null, percent: boolean): LogSeries =>
    history.flatMap((r) => {
      const value = f(r);
      if (value === null) return [];
      return [{ epoch: r.epoch - 1, value: percent ? Number((100 * value).toFixed(4)) : value }];
    });
  return {
    trainAcc1: series((r) => r.train_top1, true),
    trainAcc5: series((r) => r.train_top5, true),
    valAcc1: series((r) => r.val_top1, true),
    valAcc5: series((r) => r.val_top5, true),
    loss: series((r) => r.train_loss, false),
  };
}

/** The logs as curve records (fractions; epochs as logged): what `rla plot` draws. */
export function curveRecordsFromOfficial(logs: OfficialLogs): CurveRecord[] {
  const epochs = new Set<number>();
  for (const series of Object.values(logs)) for (const { epoch } of series) epochs.add(epoch);
  // The last line of an epoch wins, as for metrics.jsonl.
  const lookup = (series: LogSeries, scale: number) => {
    const byEpoch = new Map(series.map(({ epoch, value }) => [epoch, value / scale]));
    return (epoch: number) => byEpoch.get(epoch) ?? null;
  };
  const trainTop1 = lookup(logs.trainAcc1, 100);
  const trainTop5 = lookup(logs.trainAcc5, 100);
  const valTop1 = lookup(logs.valAcc1, 100);
  const valTop5 = lookup(logs.valAcc5, 100);
  const trainLoss = lookup(logs.loss, 1);
  return [...epochs]
    .sort((a, b) => a - b)
    .map((epoch) => ({
      epoch,
      train_loss: trainLoss(epoch) ?? Number.NaN,
      train_top1: trainTop1(epoch) ?? Number.NaN,
      train_top5: trainTop5(epoch) ?? Number.NaN,
      val_loss: null,
      val_top1: valTop1(epoch),
      val_top5: valTop5(epoch),
    }));
}

/** best.py's choice: the highest val top-1 and, independently, the highest val top-5, each at its first epoch. */
export interface OfficialBest {
  acc1: number;
  epoch1: number;
  acc5: number;
  epoch5: number;
}

/** best.py's selection (np.max, then list.index: the first of equal maxima). */
export function officialBest(logs: OfficialLogs): OfficialBest {
  const best = (series: LogSeries, file: string) => {
    if (series.length === 0) throw new Error(`${file} has no epoch yet`);
    let chosen = series[0];
    for (const point of series) if (point.value > chosen.value) chosen = point;
    return chosen;
  };
  const top1 = best(logs.valAcc1, OFFICIAL_LOG_FILES.valAcc1);
  const top5 = best(logs.valAcc5, OFFICIAL_LOG_FILES.valAcc5);
  return { acc1: top1.value, epoch1: top1.epoch, acc5: top5.value, epoch5: top5.epoch };
}

/** best.txt as best.py writes it (Python's str() of the numbers; no newline after the last line). */
export function bestTxt(best: OfficialBest): string {
  return (
    `Acc@1:${pythonFloatRepr(best.acc1)} epoch:${best.epoch1}\n` +
    `Acc@5:${pythonFloatRepr(best.acc5)} epoch:${best.epoch5}\n` +
    `Err@1:${pythonFloatRepr(100 - best.acc1)}\n` +
    `Err@5:${pythonFloatRepr(100 - best.acc5)}`
  );
}

/** The lines best.py prints. */
export function bestSummaryLines(best: OfficialBest): string[] {
  const rule = '-'.repeat(80);
  return [
    rule,
    `* best Acc@1: ${pythonFixed(best.acc1, 3)} at epoch ${best.epoch1}, Err@1: ${pythonFixed(100 - best.acc1, 3)}`,
    rule,
    `* best Acc@5: ${pythonFixed(best.acc5, 3)} at epoch ${best.epoch5}, Err@5: ${pythonFixed(100 - best.acc5, 3)}`,
    rule,
  ];
}

/** A run directory's epochs, from whichever log it has. */
export interface RunCurves {
  /** `rla-net`: metrics.jsonl (epochs from 1); `train.py`: the official logs (epochs from 0, as logged). */
  source: 'rla-net' | 'train.py';
  history: CurveRecord[];
  /** metrics.jsonl's records (empty for train.py's logs). */
  records: MetricsRecord[];
}

/** Reads `dir`'s metrics.jsonl, or train.py's logs when the directory has those and no metrics.jsonl. */
export async function readRunCurves(dir: string): Promise<RunCurves> {
  const hasMetrics = await fs.stat(join(dir, METRICS_FILE)).then(
    () => true,
    () => false,
  );
  if (!hasMetrics && (await hasOfficialLogs(dir))) {
    return {
      source: 'train.py',
      history: curveRecordsFromOfficial(await readOfficialLogs(dir)),
      records: [],
    };
  }
  const records = await readMetrics(dir);
  return { source: 'rla-net', history: epochHistory(records), records };
}
