/**
 * `npm run bench`: training and inference throughput of rla-net's models per engine and worker count, as JSON on
 * stdout and in bench/results/latest.json (progress on stderr).
 *
 *   node dist/bench/run.js [--quick] [--cases a,b | --case a] [--engines e,f | --engine e] [--workers 1,2]
 *                          [--budget seconds] [--out file]
 *
 * Every measurement runs in a fresh child process, so peak RSS belongs to that case alone and one case's heap
 * cannot slow the next. Cases that cannot finish in the budget (the pure-JS backend on big cases) or cannot fit
 * (one wasm heap is 4 GB) are listed under `skipped` with the reason.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES, type CaseName, type CaseSpec, ENGINES, type Engine, type RunSpec } from './cases.js';
import { runBenchChild } from './child.js';
import type { BenchRow, SkippedRow } from './rows.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** bench/results/ of the repository (this file runs from dist/bench/). */
const DEFAULT_OUT = resolve(HERE, '..', '..', 'bench', 'results', 'latest.json');
/** The pure-JS backend's rate on these convolutions (measured 0.6-1 GFLOP/s), for skipping hopeless cases. */
const CPU_BACKEND_FLOPS = 0.8e9;
/** Forward GFLOP per image of the cases' models (2 x thop MACs), so planning needs no model. */
const FORWARD_GFLOP: Record<string, number> = {
  'rla_resnet50@32': 0.145,
  'rla_resnet50@224': 8.9,
  'dsrla_mobilenetv2_k32@224': 0.72,
};

interface Options {
  cases: CaseName[];
  engines: Engine[];
  workers: number[] | null;
  budgetSeconds: number;
  minRuns: number;
  out: string;
  quick: boolean;
}

function parseList(value: string | undefined, flag: string): string[] {
  if (!value) throw new Error(`${flag} needs a value`);
  return value.split(',').filter(Boolean);
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    cases: CASES.map((c) => c.name),
    engines: [...ENGINES],
    workers: null,
    budgetSeconds: 60,
    minRuns: 3,
    out: DEFAULT_OUT,
    quick: false,
  };
  let casesGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    if (flag === '--quick') options.quick = true;
    else if (flag === '--cases' || flag === '--case') {
      options.cases = parseList(next(), flag) as CaseName[];
      casesGiven = true;
    } else if (flag === '--engines' || flag === '--engine')
      options.engines = parseList(next(), flag) as Engine[];
    else if (flag === '--workers') options.workers = parseList(next(), flag).map(Number);
    else if (flag === '--budget') options.budgetSeconds = Number(next());
    else if (flag === '--out') options.out = resolve(next());
    else throw new Error(`unknown option ${flag} (see bench/run.ts)`);
  }
  for (const name of options.cases) {
    if (!CASES.some((c) => c.name === name))
      throw new Error(`unknown case ${name}; cases: ${CASES.map((c) => c.name)}`);
  }
  for (const engine of options.engines) {
    if (!(ENGINES as readonly string[]).includes(engine))
      throw new Error(`unknown engine ${engine}; engines: ${ENGINES}`);
  }
  if (options.quick) {
    options.budgetSeconds = Math.min(options.budgetSeconds, 15);
    options.minRuns = 2;
    // A single 224x224 training step takes most of a minute on two cores: only when asked for.
    if (!casesGiven) options.cases = options.cases.filter((c) => c !== 'train-rla_resnet50-b16');
  }
  return options;
}

/** Why `engine` with `workers` cannot run `spec` here, or null. */
function skipReason(spec: CaseSpec, engine: Engine, workers: number, options: Options): string | null {
  if (engine === 'ort' && workers !== 1) return 'ort parallelises inside one process (intra-op threads)';
  if (engine === 'tfjs-cpu' && workers !== 1) return 'the pure-JS backend is measured single-threaded only';
  if (workers > spec.batch) return `batch ${spec.batch} cannot be split over ${workers} workers`;
  if (engine === 'tfjs-wasm' && spec.name === 'train-rla_resnet50-b16' && workers === 1) {
    return 'a 224x224 batch of 16 needs more than the 4 GB heap of one wasm instance (one worker holds 8)';
  }
  if (engine === 'tfjs-cpu') {
    const flop =
      (FORWARD_GFLOP[`${spec.model}@${spec.size}`] ?? 10) *
      1e9 *
      spec.batch *
      (spec.kind === 'train' ? 3 : 1);
    const seconds = flop / CPU_BACKEND_FLOPS;
    const needed = seconds * (options.minRuns + 1);
    if (needed > options.budgetSeconds * 1.5) {
      return `about ${Math.round(seconds)} s per run on the pure-JS backend; ${options.minRuns} runs exceed the ${options.budgetSeconds} s budget`;
    }
  }
  return null;
}

function plan(options: Options): { runs: RunSpec[]; skipped: SkippedRow[] } {
  const cores = availableParallelism();
  const runs: RunSpec[] = [];
  const skipped: SkippedRow[] = [];
  for (const name of options.cases) {
    const spec = CASES.find((c) => c.name === name)!;
    for (const engine of options.engines) {
      const counts = options.workers ?? (engine === 'tfjs-wasm' && cores > 1 ? [1, cores] : [1]);
      for (const workers of counts) {
        const reason = skipReason(spec, engine, workers, options);
        if (reason) skipped.push({ case: name, engine, workers, reason });
        else
          runs.push({
            case: name,
            engine,
            workers,
            budgetSeconds: options.budgetSeconds,
            minRuns: options.minRuns,
          });
      }
    }
  }
  return { runs, skipped };
}

/** Child mode: measure one RunSpec and print its row as JSON. */
async function child(run: RunSpec): Promise<void> {
  const spec = CASES.find((c) => c.name === run.case)!;
  let rows: BenchRow[];
  if (run.engine === 'ort' && spec.kind === 'train') {
    const { runOrtTrainCase } = await import('./ort-train-runner.js');
    rows = [await runOrtTrainCase(spec, run)];
  } else if (run.engine === 'ort') {
    const { ortInferenceCases } = await import('./ort-cases.js');
    const measured = await ortInferenceCases({
      models: [spec.model],
      batches: [spec.batch],
      minRuns: run.minRuns,
      minTimeMs: run.budgetSeconds * 1000,
    });
    rows = measured.map((ort) => ({ ...ort, vsPytorch: Number((ort.imgPerSec / spec.pytorch).toFixed(3)) }));
  } else {
    const { runTfjsCase } = await import('./tfjs-runner.js');
    rows = [await runTfjsCase(spec, run)];
  }
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    await child(JSON.parse(argv[1]) as RunSpec);
    return;
  }
  const options = parseArgs(argv);
  const { runs, skipped } = plan(options);
  const cases: BenchRow[] = [];
  for (const run of runs) {
    process.stderr.write(`bench: ${run.case} ${run.engine} x${run.workers} ...`);
    const result = await runBenchChild<BenchRow>(fileURLToPath(import.meta.url), run);
    if (typeof result === 'string') {
      skipped.push({ case: run.case, engine: run.engine, workers: run.workers, reason: result });
      process.stderr.write(` ${result}\n`);
    } else {
      cases.push(...result);
      const line = (row: BenchRow) =>
        `${row.precision ? `${row.precision} ` : ''}${row.imgPerSec} img/s, ${row.gflops} GFLOP/s, ${row.vsPytorch}x PyTorch (${row.runs} runs)`;
      process.stderr.write(` ${result.map(line).join('; ')}\n`);
    }
  }
  for (const s of skipped)
    process.stderr.write(`bench: skipped ${s.case} ${s.engine} x${s.workers}: ${s.reason}\n`);
  const report = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    date: new Date().toISOString(),
    cases,
    skipped,
  };
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(`${json}\n`);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${json}\n`);
  process.stderr.write(`bench: written to ${options.out}\n`);
}

await main(process.argv.slice(2));
