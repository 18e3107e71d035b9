/**
 * ONNX Runtime inference cases for `npm run bench`: each model is exported by `exportOnnx` (BN folded, fixed
 * batch and 224x224, so ONNX Runtime can pre-plan memory and fold the shape arithmetic), loaded with all graph
 * optimizations and `threads` intra-op threads, warmed up, then timed on a fixed random batch.
 *
 * `ortInferenceCases()` returns rows of the bench JSON schema (`engine: "ort"`); the runner adds them to its
 * `cases`. Run alone: `node dist/bench/ort-cases.js [model ...]` prints them as JSON.
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { countMacs } from '../src/count/count.js';
import { initBackend } from '../src/engine/backend.js';
import { createModel } from '../src/models/index.js';
import { exportOnnx } from '../src/onnx/export.js';
import { createInferenceSession } from '../src/onnx/session.js';
import { quantizeModel } from '../src/quantize/quantize-model.js';

/** One row of the bench JSON (`cases[]`). */
export interface InferenceBenchCase {
  /** `infer-<model>-b<batch>`. */
  case: string;
  engine: 'ort';
  /** Processes running the case (ONNX Runtime parallelises inside one). */
  workers: 1;
  /** ONNX Runtime intra-op threads. */
  threads: number;
  /** Images per second: batch / median seconds per run. */
  imgPerSec: number;
  /** Achieved GFLOP/s: 2 x the model's MACs per image (thop rules) x imgPerSec / 1e9. */
  gflops: number;
  /** Peak resident memory of this process so far, MiB (ONNX Runtime's native arena included). */
  peakRssMb: number;
  /** Timed runs behind the median. */
  runs: number;
  /** fp32, or int8 QDQ (rla quantize's format, calibrated here on one batch of synthetic images). */
  precision: 'fp32' | 'int8';
  /** Size of the .onnx file, MiB. */
  fileMb: number;
}

export interface OrtBenchOptions {
  /** Registry names (default: rla_resnet50 and dsrla_mobilenetv2_k32, the cases). */
  models?: readonly string[];
  /** Batch sizes (default 1 and 16). */
  batches?: readonly number[];
  /** Intra-op threads (default 2, the peers' setting). */
  threads?: number;
  /** Square input size (default 224). */
  imageSize?: number;
  /** Keep timing until this much time has passed... (default 8000 ms) */
  minTimeMs?: number;
  /** ...and at least this many runs (default 5). */
  minRuns?: number;
  /** Precisions measured, each from the same model in the same run (default both). */
  precisions?: ReadonlyArray<'fp32' | 'int8'>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const ORT_BENCH_MODELS = ['rla_resnet50', 'dsrla_mobilenetv2_k32'] as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Deterministic uniform [-1, 1) images, NCHW (the values do not change the speed of a dense CNN). */
function randomImages(count: number): Float32Array {
  const data = new Float32Array(count);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2147483648 - 1;
  }
  return data;
}

/** Measures every (model, batch) case; see `OrtBenchOptions` for the defaults. */
export async function ortInferenceCases(options: OrtBenchOptions = {}): Promise<InferenceBenchCase[]> {
  const threads = options.threads ?? 2;
  const size = options.imageSize ?? 224;
  const minTimeMs = options.minTimeMs ?? 8000;
  const minRuns = options.minRuns ?? 5;
  const log = options.log ?? (() => {});
  // TF.js only builds the models and hands their weights to the exporter: keep the runner's backend if it set
  // one, else take the default (wasm transposes weights fastest).
  if (!tf.engine().backendName) await initBackend();
  const cases: InferenceBenchCase[] = [];
  for (const name of options.models ?? ORT_BENCH_MODELS) {
    const model = createModel(name, { seed: 1 });
    try {
      const macsPerImage = countMacs(model, [1, size, size, 3]);
      for (const batch of options.batches ?? [1, 16]) {
        const shape = [batch, 3, size, size];
        const images = randomImages(batch * 3 * size * size);
        for (const precision of options.precisions ?? (['fp32', 'int8'] as const)) {
          const exportOptions = { batchSize: batch, inputSize: size };
          const onnx =
            precision === 'fp32'
              ? exportOnnx(model, exportOptions)
              : (
                  await quantizeModel(model, () => [{ data: images, shape }], {
                    observer: 'minmax',
                    exportOptions,
                  })
                ).bytes;
          const classifier = await createInferenceSession(onnx, { threads });
          try {
            // Warm-up: the first runs allocate the arena and prepack the weights.
            for (let i = 0; i < 2; i++) await classifier.runNchw(images, shape);
            const times: number[] = [];
            const start = performance.now();
            while (times.length < minRuns || performance.now() - start < minTimeMs) {
              const t0 = performance.now();
              await classifier.runNchw(images, shape);
              times.push((performance.now() - t0) / 1000);
            }
            const imgPerSec = batch / median(times);
            const row: InferenceBenchCase = {
              case: `infer-${name}-b${batch}`,
              engine: 'ort',
              workers: 1,
              threads,
              imgPerSec: Number(imgPerSec.toFixed(2)),
              gflops: Number(((2 * macsPerImage * imgPerSec) / 1e9).toFixed(1)),
              peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
              runs: times.length,
              precision,
              fileMb: Number((onnx.length / 2 ** 20).toFixed(1)),
            };
            log(
              `${row.case} ort ${precision} ${threads} threads: ${row.imgPerSec} img/s, ${row.gflops} GFLOP/s (${row.runs} runs)`,
            );
            cases.push(row);
          } finally {
            await classifier.release();
          }
        }
      }
    } finally {
      model.dispose();
    }
  }
  return cases;
}

/** `node dist/bench/ort-cases.js [model ...]`: the ORT cases alone, as bench JSON. */
async function main(): Promise<void> {
  const models = process.argv.slice(2);
  const cases = await ortInferenceCases({
    models: models.length > 0 ? models : undefined,
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify({ node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cases }, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
