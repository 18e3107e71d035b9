/**
 * Line charts independent of their output format: the series and labels of a chart (`ChartSpec`), the geometry
 * both renderers share (`chartLayout`: margins, data-to-pixel scales, round ticks), and the charts of a training
 * run (`curveCharts`). `plot-svg.ts` draws them as SVG, `plot-png.ts` as PNG.
 */
import type { EpochRecord } from './metrics-log.js';

/** One curve: its legend name, (x, y) points, colour (#rrggbb) and dash style. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
}

/** Title, axis labels, y tick format and size of a chart. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Tick label of a y value (e.g. percentages). */
  formatY?: (y: number) => string;
  /** Fixed y range (e.g. 0-100% like eval_visual.py's accuracy plots); default: the data's range plus 5%. */
  yRange?: [number, number];
  width?: number;
  height?: number;
}

/** A chart to draw: its curves and labels. */
export interface ChartSpec {
  series: Series[];
  options: ChartOptions;
}

/** About `count` round tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  // The candidate step whose tick count comes closest to `count`.
  const step = [1, 2, 5, 10]
    .map((m) => m * power)
    .reduce((best, s) =>
      Math.abs((max - min) / s - count) < Math.abs((max - min) / best - count) ? s : best,
    );
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Where everything of a chart goes, in pixels (y grows downwards). */
export interface ChartLayout {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
  plotW: number;
  plotH: number;
  /** Data -> pixel. */
  sx: (x: number) => number;
  sy: (y: number) => number;
  xTicks: number[];
  yTicks: number[];
  formatY: (y: number) => string;
  /** Each series' finite points. */
  valid: Array<Array<[number, number]>>;
}

/** The layout of a chart. Non-finite points are left out (and do not stretch the axes). */
export function chartLayout({ series, options }: ChartSpec): ChartLayout {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  // The legend is a row between the title and the plot, so it never hides a curve.
  const margin = { left: 64, right: 16, top: 56, bottom: 48 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const valid = series.map((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const points = valid.flat();
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  let [xMin, xMax] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  let yMin: number;
  let yMax: number;
  if (options.yRange) [yMin, yMax] = options.yRange;
  else {
    [yMin, yMax] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
    if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
    const pad = (yMax - yMin) * 0.05;
    yMin -= pad;
    yMax += pad;
  }
  return {
    width,
    height,
    margin,
    plotW,
    plotH,
    sx: (x) => margin.left + ((x - xMin) / (xMax - xMin)) * plotW,
    sy: (y) => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotH,
    xTicks: niceTicks(xMin, xMax, Math.min(10, Math.max(1, Math.round(xMax - xMin)))),
    yTicks: niceTicks(yMin, yMax),
    formatY: options.formatY ?? ((y: number) => String(Number(y.toPrecision(4)))),
    valid,
  };
}

/** The epoch fields the curves need: an rla-net epoch record, or one read from the official logs. */
export type CurveRecord = Pick<
  EpochRecord,
  'epoch' | 'train_loss' | 'train_top1' | 'train_top5' | 'val_loss' | 'val_top1' | 'val_top5'
>;

/**
 * The charts of a run, like the official eval_visual.py's acc1/acc5/loss plots: `accuracy` (train and val top-1,
 * val top-5), `top5` (train and val top-5) and `loss` (train and, when measured, val cross-entropy).
 */
export function curveCharts(
  history: readonly CurveRecord[],
  title: string,
): { accuracy: ChartSpec; top5: ChartSpec; loss: ChartSpec } {
  const pick = (f: (r: CurveRecord) => number | null): Array<[number, number]> =>
    history.map((r) => [r.epoch, f(r) ?? Number.NaN] as [number, number]);
  const percent = (y: number) => `${(100 * y).toFixed(Math.abs(y) < 0.1 ? 1 : 0)}%`;
  const accuracyOptions = { xLabel: 'epoch', yLabel: 'accuracy', formatY: percent };
  const withValLoss = history.some((r) => r.val_loss !== null);
  return {
    accuracy: {
      series: [
        { name: 'train top-1', points: pick((r) => r.train_top1), color: '#1f77b4', dashed: true },
        { name: 'val top-1', points: pick((r) => r.val_top1), color: '#1f77b4' },
        { name: 'val top-5', points: pick((r) => r.val_top5), color: '#2ca02c' },
      ],
      options: { title: `${title}: accuracy`, ...accuracyOptions },
    },
    top5: {
      series: [
        { name: 'train top-5', points: pick((r) => r.train_top5), color: '#2ca02c', dashed: true },
        { name: 'val top-5', points: pick((r) => r.val_top5), color: '#2ca02c' },
      ],
      options: { title: `${title}: top-5 accuracy`, ...accuracyOptions },
    },
    loss: {
      series: [
        { name: 'train loss', points: pick((r) => r.train_loss), color: '#d62728', dashed: true },
        ...(withValLoss ? [{ name: 'val loss', points: pick((r) => r.val_loss), color: '#d62728' }] : []),
      ],
      options: { title: `${title}: cross-entropy`, xLabel: 'epoch', yLabel: 'loss' },
    },
  };
}
