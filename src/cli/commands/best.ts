/**
 * `rla best <run-dir>`: the epoch with the best validation top-1, its top-1/top-5, and the test result of it.
 * `--official` follows the official best.py instead, on train.py's logs or an rla-net run.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { bestEpoch, epochHistory, lastTest, readMetrics } from '../../train/metrics-log.js';
import {
  bestSummaryLines,
  bestTxt,
  hasOfficialLogs,
  officialBest,
  officialLogsFromHistory,
  readOfficialLogs,
  readRunCurves,
} from '../../train/official-logs.js';
import { percent } from '../../util/format.js';
import { parseCommandArgs, UsageError } from '../args.js';

/** `rla best --help`. */
export const BEST_USAGE = `usage: rla best <run-dir> [--json] [--official]
  Prints the best epoch (highest validation top-1) of a run with its top-1/top-5, and the test-split result of
  those weights when the run measured it. <run-dir> is an rla train run (metrics.jsonl) or a work dir of the
  official train.py (val_acc1.txt, ...; epochs from 0 as logged).
  --official   do what the official best.py does: best val Acc@1 and, chosen independently, best val Acc@5
               (first epoch of equals), printed and written to <run-dir>/best.txt with Err@1/Err@5 in
               best.py's format. Reads train.py's logs (val_acc1.txt, val_acc5.txt) when <run-dir> has them,
               else the run's metrics.jsonl with epochs numbered from 0 as train.py numbers them.`;

/** best.py on a run directory of either kind: prints its lines and writes best.txt. */
async function officialBestCommand(runDir: string, out: (line: string) => void): Promise<number> {
  const logs = (await hasOfficialLogs(runDir))
    ? await readOfficialLogs(runDir)
    : officialLogsFromHistory(epochHistory(await readMetrics(runDir)));
  const best = officialBest(logs);
  await fs.writeFile(join(runDir, 'best.txt'), bestTxt(best));
  for (const line of bestSummaryLines(best)) out(line);
  return 0;
}

/** Runs `rla best`; returns the exit code. */
export async function bestCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { json: { type: 'boolean' }, official: { type: 'boolean' } },
    BEST_USAGE,
  );
  if (values.help) {
    out(BEST_USAGE);
    return 0;
  }
  const runDir = positionals[0];
  if (!runDir) throw new UsageError(`missing run directory\n\n${BEST_USAGE}`);
  if (values.official) {
    if (values.json) throw new UsageError("--official prints best.py's lines; it has no --json form");
    return officialBestCommand(runDir, out);
  }
  const { history, records } = await readRunCurves(runDir);
  const best = bestEpoch(history);
  if (!best) throw new Error(`${runDir}: no validated epoch yet`);
  const test = lastTest(records);
  if (values.json) {
    out(
      JSON.stringify(
        {
          epoch: best.epoch,
          epochs: history.length,
          val: { top1: best.val_top1, top5: best.val_top5, loss: best.val_loss },
          test,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  out(
    `best epoch ${best.epoch} of ${history.length}: validation top-1 ${percent(best.val_top1)}  top-5 ${percent(best.val_top5)}  loss ${best.val_loss?.toFixed(4) ?? '-'}`,
  );
  if (test && test.epoch === best.epoch) {
    out(
      `test (weights of epoch ${test.epoch}): top-1 ${percent(test.top1)}  top-5 ${percent(test.top5)}  loss ${test.loss.toFixed(4)} (${test.count} images)`,
    );
  }
  return 0;
}
