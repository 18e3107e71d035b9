/**
 * Range observers for calibration, as PyTorch's and ONNX Runtime's quantizers define them:
 * - `minmax`: the smallest and largest value seen;
 * - `percentile`: the 0.01% and 99.99% quantiles of the values seen (clips rare outliers);
 * - `entropy`: the clipping threshold whose 128-bin quantized histogram diverges least (KL) from the observed
 *   2048-bin histogram of |x| (TensorRT's calibration; symmetric, min stays the observed min if >= 0). Exact
 *   zeros (most of a ReLU output) are left out: the zero point represents them exactly, and their spike would
 *   otherwise make the divergence favour the narrowest threshold. Non-negative tensors get 255 levels.
 * Histogram observers bin over [-a, a], a being the largest |x| of the first batch, widened (with re-binning)
 * when later batches exceed it.
 */
import type { TensorRange } from './qdq.js';

export type ObserverKind = 'minmax' | 'percentile' | 'entropy';
export const OBSERVER_KINDS: readonly ObserverKind[] = ['minmax', 'percentile', 'entropy'];

export interface Observer {
  observe(values: Float32Array): void;
  range(): TensorRange;
}

class MinMaxObserver implements Observer {
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  observe(values: Float32Array): void {
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
  }
  range(): TensorRange {
    if (this.min > this.max) throw new Error('an observer saw no values');
    return { min: this.min, max: this.max };
  }
}

const BINS = 2048;

/** A histogram of |x| over [0, limit) with BINS bins, plus the observed min and max. */
class HistogramObserver implements Observer {
  private readonly minMax = new MinMaxObserver();
  private counts = new Float64Array(BINS);
  private limit = 0;

  constructor(private readonly kind: 'percentile' | 'entropy') {}

  observe(values: Float32Array): void {
    this.minMax.observe(values);
    const { min, max } = this.minMax.range();
    const needed = Math.max(Math.abs(min), Math.abs(max));
    if (needed > this.limit) this.widen(needed);
    if (this.limit === 0) {
      this.counts[0] += values.length;
      return;
    }
    const perBin = BINS / this.limit;
    for (let i = 0; i < values.length; i++) {
      if (values[i] === 0) continue;
      this.counts[Math.min(BINS - 1, Math.floor(Math.abs(values[i]) * perBin))]++;
    }
  }

  /** Re-bins the counts to a limit at least `needed` (doubling, so old bins map into new ones whole). */
  private widen(needed: number): void {
    if (this.limit === 0) {
      this.limit = needed;
      return;
    }
    let limit = this.limit;
    while (limit < needed) limit *= 2;
    const factor = limit / this.limit;
    const counts = new Float64Array(BINS);
    for (let i = 0; i < BINS; i++) counts[Math.min(BINS - 1, Math.floor(i / factor))] += this.counts[i];
    this.counts = counts;
    this.limit = limit;
  }

  range(): TensorRange {
    const { min, max } = this.minMax.range();
    if (this.limit === 0) return { min, max };
    const threshold =
      this.kind === 'percentile' ? this.percentile(0.9999) : this.entropyThreshold(min >= 0 ? 255 : 128);
    return { min: Math.max(min, -threshold), max: Math.min(max, threshold) };
  }

  private percentile(q: number): number {
    const total = this.counts.reduce((a, b) => a + b, 0);
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      seen += this.counts[i];
      if (seen >= q * total) return ((i + 1) * this.limit) / BINS;
    }
    return this.limit;
  }

  /** TensorRT's entropy calibration over `levels` quantization levels. */
  private entropyThreshold(levels: number): number {
    let best = BINS;
    let bestDivergence = Number.POSITIVE_INFINITY;
    for (let edge = levels; edge <= BINS; edge += 8) {
      const reference = Array.from(this.counts.subarray(0, edge));
      let outliers = 0;
      for (let i = edge; i < BINS; i++) outliers += this.counts[i];
      reference[edge - 1] += outliers;
      const quantized = new Float64Array(edge);
      const width = edge / levels;
      for (let level = 0; level < levels; level++) {
        const start = Math.floor(level * width);
        const end = Math.max(start + 1, Math.floor((level + 1) * width));
        let sum = 0;
        let nonZero = 0;
        for (let i = start; i < end; i++) {
          sum += this.counts[i];
          if (this.counts[i] > 0) nonZero++;
        }
        for (let i = start; i < end; i++) if (this.counts[i] > 0) quantized[i] = sum / nonZero;
      }
      const divergence = klDivergence(reference, quantized);
      if (divergence < bestDivergence) {
        bestDivergence = divergence;
        best = edge;
      }
    }
    return (best * this.limit) / BINS;
  }
}

function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sumP = 0;
  let sumQ = 0;
  for (let i = 0; i < p.length; i++) {
    sumP += p[i];
    sumQ += q[i];
  }
  if (sumP === 0 || sumQ === 0) return Number.POSITIVE_INFINITY;
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    const pi = p[i] / sumP;
    const qi = q[i] / sumQ;
    divergence += qi > 0 ? pi * Math.log(pi / qi) : pi * 20;
  }
  return divergence;
}

export function createObserver(kind: ObserverKind): Observer {
  switch (kind) {
    case 'minmax':
      return new MinMaxObserver();
    case 'percentile':
    case 'entropy':
      return new HistogramObserver(kind);
  }
}
