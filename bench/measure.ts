/**
 * Timing of one benchmark case: warm-up runs, then timed runs until both a minimum count and (when time allows)
 * the budget are reached; the median time per run gives the throughput. Wall-clock time is what a user waits
 * for; the process CPU time per run is recorded too, since on a shared machine it shows contention.
 */

export interface Timing {
  /** Median wall-clock seconds per run. */
  medianSeconds: number;
  /** Median process CPU seconds per run (all threads). */
  medianCpuSeconds: number;
  runs: number;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs `run` `warmup` times untimed, then at least `minRuns` times and until `budgetSeconds` have passed. */
export async function measure(
  run: () => Promise<void> | void,
  options: { warmup: number; minRuns: number; budgetSeconds: number },
): Promise<Timing> {
  for (let i = 0; i < options.warmup; i++) await run();
  const wall: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (wall.length < options.minRuns || (performance.now() - start) / 1000 < options.budgetSeconds) {
    const cpuStart = process.cpuUsage();
    const t0 = performance.now();
    await run();
    wall.push((performance.now() - t0) / 1000);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1e6);
    // Past the minimum, stop early when one more run would overshoot the budget.
    const elapsed = (performance.now() - start) / 1000;
    if (wall.length >= options.minRuns && elapsed + median(wall) > options.budgetSeconds) break;
  }
  return { medianSeconds: median(wall), medianCpuSeconds: median(cpu), runs: wall.length };
}
