/** The rows of the benchmark JSON (schema shared with other tools; extra fields are informative). */
import { loadavg } from 'node:os';
import type { CaseSpec, Engine } from './cases.js';
import type { Timing } from './measure.js';

export interface BenchRow {
  case: string;
  engine: Engine;
  /** Worker threads (tfjs) or processes (ort) running the case. */
  workers: number;
  /** Compute threads per worker (tfjs-wasm and tfjs-cpu are single-threaded in Node; ort: intra-op threads). */
  threads: number;
  imgPerSec: number;
  /** 2 x forward MACs per image x img/s (training: 3x the forward MACs). */
  gflops: number;
  /** Peak resident memory of the process running the case, MiB (worker threads included). */
  peakRssMb: number;
  runs: number;
  /** Median wall-clock seconds per run (one batch). */
  secondsPerRun?: number;
  /** Median CPU seconds per run, all threads: on a shared machine, wall time above cpu/workers is contention. */
  cpuSecondsPerRun?: number;
  /** Throughput relative to official PyTorch (2 threads) on the peers' machine. */
  vsPytorch: number;
  /** Numeric precision of the model (ort inference cases: each runs as fp32 and as int8 QDQ). */
  precision?: 'fp32' | 'int8';
  /** 1-minute load average when the case started (2 means both cores already busy). */
  loadAvg?: number;
}

/** A case that was not measured, and why. */
export interface SkippedRow {
  case: string;
  engine: Engine;
  workers: number;
  reason: string;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** A row from a timing: `macs` are forward multiply-accumulates per image. */
export function benchRow(
  spec: CaseSpec,
  engine: Engine,
  workers: number,
  threads: number,
  macs: number,
  timing: Timing,
  loadAtStart: number = loadavg()[0],
): BenchRow {
  const imgPerSec = spec.batch / timing.medianSeconds;
  const passes = spec.kind === 'train' ? 3 : 1;
  return {
    case: spec.name,
    engine,
    workers,
    threads,
    imgPerSec: round(imgPerSec, 2),
    gflops: round((passes * 2 * macs * imgPerSec) / 1e9, 1),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    runs: timing.runs,
    secondsPerRun: round(timing.medianSeconds, 3),
    cpuSecondsPerRun: round(timing.medianCpuSeconds, 3),
    vsPytorch: round(imgPerSec / spec.pytorch, 3),
    loadAvg: round(loadAtStart, 2),
  };
}
