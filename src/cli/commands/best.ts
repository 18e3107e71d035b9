/** `rla best <run-dir>`: the epoch with the best validation top-1, its top-1/top-5, and the test result of it. */
import { bestEpoch, epochHistory, lastTest, readMetrics } from '../../train/metrics-log.js';
import { percent } from '../../util/format.js';
import { parseCommandArgs, UsageError } from '../args.js';

/** `rla best --help`. */
export const BEST_USAGE = `usage: rla best <run-dir> [--json]
  Prints the best epoch (highest validation top-1) of a run with its top-1/top-5, and the test-split result of
  those weights when the run measured it`;

/** Runs `rla best`; returns the exit code. */
export async function bestCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, BEST_USAGE);
  if (values.help) {
    out(BEST_USAGE);
    return 0;
  }
  const runDir = positionals[0];
  if (!runDir) throw new UsageError(`missing run directory\n\n${BEST_USAGE}`);
  const records = await readMetrics(runDir);
  const history = epochHistory(records);
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
