/**
 * The two engines the page compares on the same model and input: TF.js on its wasm backend (the model's own
 * forward) and onnxruntime-web's wasm backend (the model exported to ONNX by rla-net, in the page).
 */
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type * as Ort from 'onnxruntime-web';
import * as ort from 'onnxruntime-web/wasm';
import { type ClassifierModel, exportOnnx, initBackend } from 'rla-net';

/** Timed runs per measurement, after one warm-up run; the page reports their median. */
const TIMED_RUNS = 5;

/** One stage's hidden state h, averaged over its k channels (the map the page draws). */
export interface HiddenStateMap {
  name: string;
  height: number;
  width: number;
  channels: number;
  /** Channel mean of h, row-major [height, width]. */
  mean: Float32Array;
}

/** What an engine reports for one image. */
export interface EngineResult {
  logits: Float32Array;
  /** Median milliseconds of one forward pass of one image. */
  milliseconds: number;
}

/** Median wall time (ms) of `run`, after one untimed warm-up call. */
async function medianTime(run: () => Promise<void>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Starts TF.js on wasm with its binaries under `assetsUrl`; returns a description of the backend. */
export async function startTfjsWasm(assetsUrl: string): Promise<string> {
  await initBackend({ backend: 'wasm', wasmPaths: assetsUrl });
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `tfjs ${tf.getBackend()} (${simd ? 'SIMD' : 'no SIMD'}, ${getThreadsCount()} thread(s))`;
}

/** Logits and per-stage h maps of one NHWC image on the current TF.js backend. */
export async function runTfjs(
  model: ClassifierModel,
  x: Float32Array,
  size: number,
): Promise<EngineResult & { hidden: HiddenStateMap[] }> {
  const input = tf.tensor4d(x, [1, size, size, 3]);
  try {
    const milliseconds = await medianTime(async () => {
      const logits = model.forward(input);
      await logits.data();
      logits.dispose();
    });
    const intermediates = model.forwardIntermediates(input);
    try {
      const hidden: HiddenStateMap[] = [];
      for (const [name, tensor] of Object.entries(intermediates)) {
        if (!/^stage\d+\.h$/.test(name)) continue;
        const [, height, width, channels] = tensor.shape;
        const mean = tf.tidy(() => tf.mean(tensor, 3));
        hidden.push({ name, height, width, channels, mean: (await mean.data()) as Float32Array });
        mean.dispose();
      }
      const logits = (await intermediates.logits.data()) as Float32Array;
      return { logits, milliseconds, hidden };
    } finally {
      tf.dispose(Object.values(intermediates));
    }
  } finally {
    input.dispose();
  }
}

/** The model on onnxruntime-web, from rla-net's ONNX export of it at input side `size`. */
export interface OrtModel {
  session: Ort.InferenceSession;
  /** Size of the exported `.onnx` bytes. */
  onnxBytes: number;
  backend: string;
}

/** Exports `model` to ONNX in the page and opens it on onnxruntime-web's wasm backend (files under `assetsUrl`). */
export async function openOrtWasm(
  model: ClassifierModel,
  size: number,
  assetsUrl: string,
): Promise<OrtModel> {
  ort.env.wasm.wasmPaths = assetsUrl;
  const onnx = exportOnnx(model, { inputSize: size, batchSize: 1 });
  const session = await ort.InferenceSession.create(onnx, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const threads = ort.env.wasm.numThreads ?? 1;
  return {
    session,
    onnxBytes: onnx.byteLength,
    backend: `onnxruntime-web ${ort.env.versions.web} wasm (${threads} thread(s))`,
  };
}

/** NHWC [1, size, size, 3] -> NCHW [1, 3, size, size], the exported graph's layout. */
function toNchw(x: Float32Array, size: number): Float32Array {
  const out = new Float32Array(x.length);
  const plane = size * size;
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = x[3 * i + c];
  return out;
}

/** Logits of one NHWC image on onnxruntime-web. */
export async function runOrt(model: OrtModel, x: Float32Array, size: number): Promise<EngineResult> {
  const input = new ort.Tensor('float32', toNchw(x, size), [1, 3, size, size]);
  let logits: Float32Array = new Float32Array(0);
  const milliseconds = await medianTime(async () => {
    const outputs = await model.session.run({ [model.session.inputNames[0]]: input });
    // The exported graph's first output is the logits.
    logits = outputs[model.session.outputNames[0]].data as Float32Array;
  });
  return { logits, milliseconds };
}
