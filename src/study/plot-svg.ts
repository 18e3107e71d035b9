/**
 * The study's chart as standalone SVG: per group (x, in table order) every seed's test top-1 as a dot and the
 * mean with a bar of ± one standard deviation, so the spread across seeds is seen next to the differences.
 */
import { niceTicks } from '../train/chart-layout.js';
import { escapeXml } from '../train/plot-svg.js';
import type { StudyTable } from './table.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** Test top-1 of every cell and each group's mean ± std, one column per group. */
export function studyChartSvg(table: StudyTable, title: string): string {
  const groups = table.groups;
  const width = Math.max(480, 110 * groups.length + 100);
  const height = 420;
  const margin = { left: 72, right: 20, top: 44, bottom: 80 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const values = table.cells.map((c) => c.top1);
  for (const g of groups) values.push(g.top1.mean - g.top1.std, g.top1.mean + g.top1.std);
  let yMin = values.length ? Math.min(...values) : 0;
  let yMax = values.length ? Math.max(...values) : 1;
  if (yMax - yMin < 1e-3) [yMin, yMax] = [yMin - 0.005, yMax + 0.005];
  const pad = (yMax - yMin) * 0.08;
  yMin -= pad;
  yMax += pad;
  const column = plotW / Math.max(1, groups.length);
  const sx = (index: number) => margin.left + column * (index + 0.5);
  const sy = (y: number) => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  for (const t of niceTicks(yMin, yMax)) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line x1="${margin.left}" y1="${y}" x2="${width - margin.right}" y2="${y}" stroke="#e4e4e4"/>`,
    );
    parts.push(
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${(100 * t).toFixed(2)}%</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text x="18" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${margin.top + plotH / 2})">test top-1 (dots: seeds; bar: mean ± std)</text>`,
  );
  groups.forEach((g, i) => {
    const color = COLORS[i % COLORS.length];
    const x = sx(i);
    const cells = table.cells.filter((c) => c.group === g.group);
    cells.forEach((c, j) => {
      // Seeds side by side, so equal values stay visible.
      const dx = (j - (cells.length - 1) / 2) * 7;
      parts.push(
        `<circle cx="${(x + dx).toFixed(1)}" cy="${sy(c.top1).toFixed(1)}" r="3.5" fill="${color}" fill-opacity="0.55"/>`,
      );
    });
    const top = sy(g.top1.mean + g.top1.std).toFixed(1);
    const bottom = sy(g.top1.mean - g.top1.std).toFixed(1);
    const mean = sy(g.top1.mean).toFixed(1);
    const bx = x + 26;
    parts.push(`<line x1="${bx}" y1="${top}" x2="${bx}" y2="${bottom}" stroke="${color}" stroke-width="2"/>`);
    parts.push(
      `<line x1="${bx - 5}" y1="${top}" x2="${bx + 5}" y2="${top}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(
      `<line x1="${bx - 5}" y1="${bottom}" x2="${bx + 5}" y2="${bottom}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<rect x="${bx - 4}" y="${Number(mean) - 4}" width="8" height="8" fill="${color}"/>`);
    const labelY = margin.top + plotH + 18;
    parts.push(`<text x="${x}" y="${labelY}" text-anchor="middle">${escapeXml(g.label)}</text>`);
    if (g.rlaChannel !== null) {
      parts.push(`<text x="${x}" y="${labelY + 15}" text-anchor="middle">k = ${g.rlaChannel}</text>`);
    }
    parts.push(
      `<text x="${x}" y="${labelY + 30}" text-anchor="middle" fill="#555">${(g.params / 1e6).toFixed(3)}M params</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
