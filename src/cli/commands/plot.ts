/**
 * `rla plot <run-dir>`: accuracy, top-5 and loss curves of a training run as SVG and PNG images, from an rla-net
 * run (metrics.jsonl) or from the official train.py's logs (work_dirs/<arch>_<action>/*.txt).
 */
import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { curveCharts } from '../../train/chart-layout.js';
import { OFFICIAL_LOG_FILES, readRunCurves } from '../../train/official-logs.js';
import { lineChartPng } from '../../train/plot-png.js';
import { lineChartSvg } from '../../train/plot-svg.js';
import { parseCommandArgs, UsageError } from '../args.js';

/** `rla plot --help`. */
export const PLOT_USAGE = `usage: rla plot <run-dir> [-o DIR]
  Reads <run-dir>/metrics.jsonl (rla train), or the official train.py's logs in <run-dir>
  (${Object.values(OFFICIAL_LOG_FILES).join(', ')}), and writes accuracy, top5 and loss charts as .svg and
  .png (into <run-dir>, or DIR). Official logs are plotted with their own 0-based epochs.`;

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
  const { history } = await readRunCurves(runDir);
  if (history.length === 0) throw new Error(`${runDir}: no completed epoch logged yet`);
  const charts = curveCharts(history, basename(resolve(runDir)));
  const target = values.output === undefined ? runDir : String(values.output);
  await fs.mkdir(target, { recursive: true });
  const written: string[] = [];
  for (const [name, chart] of Object.entries(charts)) {
    for (const [extension, bytes] of [
      ['svg', lineChartSvg(chart)],
      ['png', lineChartPng(chart)],
    ] as const) {
      const path = join(target, `${name}.${extension}`);
      await fs.writeFile(path, bytes);
      written.push(path);
    }
  }
  out(`${history.length} epoch(s) plotted: ${written.join(', ')}`);
  return 0;
}
