/**
 * A study's results table: one row per group (a model, and k for RLA models), mean and sample standard deviation
 * over its seeds, and each group's top-1 difference to the first group with Welch's t, as markdown and JSON.
 */
import { percent } from '../util/format.js';
import type { CellResult } from './runner.js';

/** Mean and sample standard deviation (n - 1; 0 for a single value). */
export interface MeanStd {
  mean: number;
  std: number;
}

/** A difference of means with Welch's t statistic and its Welch-Satterthwaite degrees of freedom. */
export interface WelchComparison {
  difference: number;
  t: number;
  df: number;
}

/** One row of the table. */
export interface GroupSummary {
  group: string;
  label: string;
  model: string;
  rlaChannel: number | null;
  seeds: number[];
  params: number;
  macs: number;
  top1: MeanStd;
  top5: MeanStd;
  imagesPerSecond: MeanStd;
  wallSeconds: MeanStd;
  /** Top-1 against the first group (null for the first group itself, or with fewer than two seeds on a side). */
  vsReference: WelchComparison | null;
}

/** The table as written to `results.json`. */
export interface StudyTable {
  /** The group every other is compared with (the first of the grid). */
  reference: string;
  groups: GroupSummary[];
  cells: CellResult[];
}

export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * Welch's unequal-variance t test of mean(a) - mean(b). Null with fewer than two values on a side; with zero
 * variance on both sides t is infinite (or 0 for equal means) and df is the pooled n - 2.
 */
export function welch(a: readonly number[], b: readonly number[]): WelchComparison | null {
  if (a.length < 2 || b.length < 2) return null;
  const sa = meanStd(a);
  const sb = meanStd(b);
  const va = sa.std ** 2 / a.length;
  const vb = sb.std ** 2 / b.length;
  const difference = sa.mean - sb.mean;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    return {
      difference,
      t: difference === 0 ? 0 : Math.sign(difference) * Infinity,
      df: a.length + b.length - 2,
    };
  }
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { difference, t: difference / se, df };
}

/** Groups the results in the order their groups first appear, with their statistics. */
export function summarizeStudy(results: readonly CellResult[]): StudyTable {
  const byGroup = new Map<string, CellResult[]>();
  for (const result of results) {
    const list = byGroup.get(result.group) ?? [];
    list.push(result);
    byGroup.set(result.group, list);
  }
  const entries = [...byGroup.entries()];
  const referenceTop1 = entries[0]?.[1].map((r) => r.top1) ?? [];
  const groups = entries.map(([group, cells], index): GroupSummary => {
    const first = cells[0] as CellResult;
    const top1 = cells.map((r) => r.top1);
    return {
      group,
      label: first.label,
      model: first.model,
      rlaChannel: first.rlaChannel,
      seeds: cells.map((r) => r.seed),
      params: first.params,
      macs: first.macs,
      top1: meanStd(top1),
      top5: meanStd(cells.map((r) => r.top5)),
      imagesPerSecond: meanStd(cells.map((r) => r.imagesPerSecond)),
      wallSeconds: meanStd(cells.map((r) => r.wallSeconds)),
      vsReference: index === 0 ? null : welch(top1, referenceTop1),
    };
  });
  return { reference: entries[0]?.[0] ?? '', groups, cells: [...results] };
}

/** "91.23 ± 0.45" (percentages, the spread in percentage points). */
function percentMeanStd({ mean, std }: MeanStd): string {
  return `${percent(mean).replace('%', '')} ± ${(100 * std).toFixed(2)}`;
}

function comparison(c: WelchComparison | null): string {
  if (c === null) return '-';
  const sign = c.difference >= 0 ? '+' : '';
  const t = Number.isFinite(c.t) ? c.t.toFixed(2) : String(c.t);
  return `${sign}${(100 * c.difference).toFixed(2)} (t = ${t}, df = ${c.df.toFixed(1)})`;
}

/** The table as markdown: a header row, one row per group. */
export function studyMarkdown(table: StudyTable): string {
  const lines = [
    `| model | k | params | MACs | test top-1 % (mean ± std) | test top-5 % (mean ± std) | top-1 vs ${table.reference} (Welch) | train img/s | wall s / cell | seeds |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const g of table.groups) {
    lines.push(
      `| ${g.label} | ${g.rlaChannel ?? '-'} | ${g.params.toLocaleString('en-US')} | ${(g.macs / 1e6).toFixed(2)}M | ` +
        `${percentMeanStd(g.top1)} | ${percentMeanStd(g.top5)} | ${comparison(g.vsReference)} | ` +
        `${g.imagesPerSecond.mean.toFixed(1)} | ${g.wallSeconds.mean.toFixed(0)} | ${g.seeds.join(', ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
