/** `rla plot <run-dir>`: accuracy and loss curves of a training run as SVG images (accuracy.svg, loss.svg). */
import { writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { epochHistory, readMetrics } from '../../train/metrics-log.js';
import { curveCharts } from '../../train/plot-svg.js';
import { parseCommandArgs, UsageError } from '../args.js';

/** `rla plot --help`. */
export const PLOT_USAGE = `usage: rla plot <run-dir> [-o DIR]
  Reads <run-dir>/metrics.jsonl and writes accuracy.svg and loss.svg (into <run-dir>, or DIR)`;

/** Runs `rla plot`; returns the exit code. */
export async function plotCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { output: { type: 'string', short: 'o' } },
    PLOT_USAGE,
  );
  if (values.help) {
    out(PLOT_USAGE);
    return 0;
  }
  const runDir = positionals[0];
  if (!runDir) throw new UsageError(`missing run directory\n\n${PLOT_USAGE}`);
  const history = epochHistory(await readMetrics(runDir));
  if (history.length === 0) throw new Error(`${runDir}: no completed epoch in metrics.jsonl yet`);
  const charts = curveCharts(history, basename(resolve(runDir)));
  const target = values.output === undefined ? runDir : String(values.output);
  const written: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    const path = join(target, `${name}.svg`);
    await writeFile(path, svg);
    written.push(path);
  }
  out(`${history.length} epoch(s) plotted: ${written.join(', ')}`);
  return 0;
}
