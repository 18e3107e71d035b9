/**
 * Line charts as PNG: the same layout as the SVG charts (`chartLayout`) rasterised on a `Canvas` with the 5x7
 * bitmap font, for viewers and reports that take only raster images (like eval_visual.py's matplotlib PNGs).
 */
import { Canvas, parseHexColor } from '../render/canvas.js';
import type { Rgb } from '../render/colormap.js';
import { textWidth } from '../render/font5x7.js';
import { encodePng } from '../render/png.js';
import { type ChartSpec, chartLayout } from './chart-layout.js';

const INK: Rgb = [51, 51, 51];
const GRID: Rgb = [228, 228, 228];

/** A line chart rendered on a canvas. Non-finite points are skipped. */
export function lineChartCanvas(chart: ChartSpec): Canvas {
  const { series, options } = chart;
  const { width, height, margin, plotW, plotH, sx, sy, xTicks, yTicks, formatY, valid } = chartLayout(chart);
  const canvas = new Canvas(width, height);
  // The title at double size when it fits the width, else at the font's size.
  const titleScale = textWidth(options.title, 2) <= width - 16 ? 2 : 1;
  canvas.text(options.title, width / 2, 20, [0, 0, 0], { scale: titleScale, align: 'center' });
  const right = width - margin.right;
  const bottom = margin.top + plotH;
  for (const t of yTicks) {
    const y = Math.round(sy(t));
    canvas.line(margin.left, y, right, y, GRID);
    canvas.text(formatY(t), margin.left - 6, y, INK, { align: 'right' });
  }
  for (const t of xTicks) {
    const x = Math.round(sx(t));
    canvas.line(x, bottom, x, bottom + 4, INK);
    canvas.text(String(t), x, bottom + 14, INK, { align: 'center' });
  }
  canvas.strokeRect(margin.left, margin.top, plotW, plotH, INK);
  canvas.text(options.xLabel, margin.left + plotW / 2, height - 12, INK, { align: 'center' });
  canvas.text(options.yLabel, 14, margin.top + plotH / 2, INK, { vertical: true, align: 'center' });
  series.forEach((s, i) => {
    const color = parseHexColor(s.color);
    const dash: [number, number] | undefined = s.dashed ? [6, 4] : undefined;
    let phase = 0;
    const points = valid[i];
    for (let k = 1; k < points.length; k++) {
      const [x0, y0] = points[k - 1];
      const [x1, y1] = points[k];
      phase = canvas.line(sx(x0), sy(y0), sx(x1), sy(y1), color, { thickness: 2, dash, phase });
    }
    for (const [x, y] of points) canvas.dot(sx(x), sy(y), 3, color);
    const ly = 40;
    const lx = margin.left + 130 * i;
    canvas.line(lx, ly, lx + 22, ly, color, { thickness: 2, dash });
    canvas.text(s.name, lx + 28, ly, [0, 0, 0]);
  });
  return canvas;
}

/** A line chart as PNG bytes. */
export function lineChartPng(chart: ChartSpec): Uint8Array {
  return encodePng(lineChartCanvas(chart).image);
}
