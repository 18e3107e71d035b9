/**
 * Training curves as standalone SVG (hand-written: no plotting or canvas dependency, viewable in any browser or
 * embedded in Markdown). `lineChartSvg` draws any set of (x, y) series; `curveCharts` turns a run's epoch
 * history into the accuracy and loss charts written by `rla plot`.
 */
import type { EpochRecord } from './metrics-log.js';

/** One curve: its legend name, (x, y) points, colour and dash style. */
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
  width?: number;
  height?: number;
}

/** Text safe inside SVG elements and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
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

/** A line chart of `series` as an SVG document. Non-finite points are skipped. */
export function lineChartSvg(series: Series[], options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  // The legend is a row between the title and the plot, so it never hides a curve.
  const margin = { left: 64, right: 16, top: 56, bottom: 48 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const points = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  let [xMin, xMax] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [yMin, yMax] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  const formatY = options.formatY ?? ((y: number) => String(Number(y.toPrecision(4))));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
  ];
  for (const t of niceTicks(yMin, yMax)) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line x1="${margin.left}" y1="${y}" x2="${width - margin.right}" y2="${y}" stroke="#e4e4e4"/>`,
    );
    parts.push(
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatY(t))}</text>`,
    );
  }
  for (const t of niceTicks(xMin, xMax, Math.min(10, Math.max(1, Math.round(xMax - xMin))))) {
    const x = sx(t).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${margin.top + plotH}" x2="${x}" y2="${margin.top + plotH + 4}" stroke="#333"/>`,
    );
    parts.push(
      `<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${escapeXml(String(t))}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  parts.push(
    `<text x="16" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotH / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const valid = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (valid.length > 1) {
      const d = valid
        .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    for (const [x, y] of valid)
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = 40;
    const lx = margin.left + 130 * i;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Accuracy (top-1 train/val, top-5 val) and loss (train/val) charts of a run's epoch history. */
export function curveCharts(
  history: readonly EpochRecord[],
  title: string,
): { accuracy: string; loss: string } {
  const pick = (f: (r: EpochRecord) => number | null): Array<[number, number]> =>
    history.map((r) => [r.epoch, f(r) ?? Number.NaN] as [number, number]);
  const percent = (y: number) => `${(100 * y).toFixed(Math.abs(y) < 0.1 ? 1 : 0)}%`;
  const accuracy = lineChartSvg(
    [
      { name: 'train top-1', points: pick((r) => r.train_top1), color: '#1f77b4', dashed: true },
      { name: 'val top-1', points: pick((r) => r.val_top1), color: '#1f77b4' },
      { name: 'val top-5', points: pick((r) => r.val_top5), color: '#2ca02c' },
    ],
    { title: `${title}: accuracy`, xLabel: 'epoch', yLabel: 'accuracy', formatY: percent },
  );
  const loss = lineChartSvg(
    [
      { name: 'train loss', points: pick((r) => r.train_loss), color: '#d62728', dashed: true },
      { name: 'val loss', points: pick((r) => r.val_loss), color: '#d62728' },
    ],
    { title: `${title}: cross-entropy`, xLabel: 'epoch', yLabel: 'loss' },
  );
  return { accuracy, loss };
}
