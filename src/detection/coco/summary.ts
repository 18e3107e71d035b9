/**
 * pycocotools `COCOeval.summarize` for bbox and segm: the 12 standard numbers and their lines, character for
 * character as pycocotools prints them (mmdetection's logs and the paper's tables quote these lines).
 */
import type { CocoEvalParams } from './params.js';

/** One summary number: AP or AR, at one IoU threshold or averaged over all, for an area range and maxDets. */
interface SummaryEntry {
  ap: boolean;
  iouThr?: number;
  areaRng: string;
  /** Index into params.maxDets. */
  maxDetsIndex: number;
}

/** pycocotools `_summarizeDets`' 12 entries (the first uses maxDets=100, the default of `_summarize`). */
function summaryEntries(params: CocoEvalParams): SummaryEntry[] {
  const last = params.maxDets.length - 1;
  const at100 = params.maxDets.indexOf(100);
  return [
    { ap: true, areaRng: 'all', maxDetsIndex: at100 },
    { ap: true, iouThr: 0.5, areaRng: 'all', maxDetsIndex: last },
    { ap: true, iouThr: 0.75, areaRng: 'all', maxDetsIndex: last },
    { ap: true, areaRng: 'small', maxDetsIndex: last },
    { ap: true, areaRng: 'medium', maxDetsIndex: last },
    { ap: true, areaRng: 'large', maxDetsIndex: last },
    { ap: false, areaRng: 'all', maxDetsIndex: 0 },
    { ap: false, areaRng: 'all', maxDetsIndex: 1 },
    { ap: false, areaRng: 'all', maxDetsIndex: last },
    { ap: false, areaRng: 'small', maxDetsIndex: last },
    { ap: false, areaRng: 'medium', maxDetsIndex: last },
    { ap: false, areaRng: 'large', maxDetsIndex: last },
  ];
}

/**
 * pycocotools `_summarize`: the mean of the entries that are not -1 (categories without ground truth), over
 * categories, recall points (AP) and, unless one is chosen, IoU thresholds; -1 when every entry is -1.
 */
function summarizeEntry(
  entry: SummaryEntry,
  precision: Float64Array,
  recall: Float64Array,
  params: CocoEvalParams,
): number {
  const R = params.recThrs.length;
  const K = params.catIds.length;
  const A = params.areaRng.length;
  const M = params.maxDets.length;
  const a = params.areaRngLbl.indexOf(entry.areaRng);
  const m = entry.maxDetsIndex;
  if (a < 0 || m < 0) return -1;
  // `np.where(iouThr == p.iouThrs)`: an exact comparison with the linspace values, as in pycocotools.
  const thresholds =
    entry.iouThr === undefined
      ? params.iouThrs.map((_, t) => t)
      : params.iouThrs.flatMap((thr, t) => (thr === entry.iouThr ? [t] : []));
  let sum = 0;
  let count = 0;
  const add = (value: number) => {
    if (value > -1) {
      sum += value;
      count++;
    }
  };
  for (const t of thresholds) {
    for (let k = 0; k < K; k++) {
      if (entry.ap) {
        for (let r = 0; r < R; r++) add(precision[(((t * R + r) * K + k) * A + a) * M + m]);
      } else {
        add(recall[((t * K + k) * A + a) * M + m]);
      }
    }
  }
  return count === 0 ? -1 : sum / count;
}

/** The 12 summary numbers of an accumulated evaluation. */
export function summaryStats(
  precision: Float64Array,
  recall: Float64Array,
  params: CocoEvalParams,
): number[] {
  return summaryEntries(params).map((entry) => summarizeEntry(entry, precision, recall, params));
}

/**
 * Python's `'{:0.3f}'.format(x)`: like `toFixed(3)`, except that an exact tie (x = j/16 with j odd, the only
 * ties a double can hold at three decimals) rounds to even where JavaScript rounds up.
 */
export function pythonFixed3(x: number): string {
  const scaled = x * 1000;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && Number.isInteger(x * 16)) {
    const even = floor % 2 === 0 ? floor : floor + 1;
    return (even / 1000).toFixed(3);
  }
  return x.toFixed(3);
}

/** pycocotools' 12 summary lines, e.g. ` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.388`. */
export function formatSummary(stats: readonly number[], params: CocoEvalParams): string[] {
  const twoDecimals = (value: number) => value.toFixed(2);
  return summaryEntries(params).map((entry, i) => {
    const title = (entry.ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const type = entry.ap ? '(AP)' : '(AR)';
    const iou =
      entry.iouThr === undefined
        ? `${twoDecimals(params.iouThrs[0])}:${twoDecimals(params.iouThrs[params.iouThrs.length - 1])}`
        : twoDecimals(entry.iouThr);
    const maxDets = String(params.maxDets[entry.maxDetsIndex]).padStart(3);
    return ` ${title} ${type} @[ IoU=${iou.padEnd(9)} | area=${entry.areaRng.padStart(6)} | maxDets=${maxDets} ] = ${pythonFixed3(stats[i])}`;
  });
}
