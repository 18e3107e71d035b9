/**
 * Inference with ONNX Runtime (`onnxruntime-node`, CPU): `createInferenceSession(modelOrOnnx, { threads })`
 * returns an `OnnxClassifier` whose `predict` takes the library's NHWC image batches and returns logits, and
 * whose `runNchw` runs raw NCHW data (all outputs, intermediates included).
 *
 * onnxruntime-node is loaded on first use (dynamic import), so importing rla-net never loads its native library.
 * It ships its CPU binaries inside the npm package; its postinstall script only fetches optional CUDA
 * providers, and this repository's `.npmrc` (`ignore-scripts=true`) skips it, so offline `npm ci` works.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import type * as ort from 'onnxruntime-node';
import type { ClassifierModel } from '../models/classifier.js';
import { checkPositiveInteger } from '../util/checks.js';
import { type ExportOnnxOptions, exportOnnx, ONNX_INPUT, ONNX_LOGITS } from './export.js';
import { exportedClassCount, readOnnxMetadata } from './read-metadata.js';

/** ONNX Runtime's log severities, most verbose first (`logSeverityLevel` 0..4). */
export const ORT_LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
export type OrtLogLevel = (typeof ORT_LOG_LEVELS)[number];

export interface InferenceSessionOptions {
  /** Intra-op threads (default: ONNX Runtime's choice, one per physical core). */
  threads?: number;
  /** Inter-op threads (default 1: execution is sequential, a CNN is a chain). */
  interOpThreads?: number;
  /**
   * Execution providers in order of preference (default `['cpu']`); e.g. `['cuda', 'cpu']` with an
   * onnxruntime-node build that has CUDA. Names as ONNX Runtime spells them.
   */
  executionProviders?: readonly string[];
  /** Least severe messages ONNX Runtime logs (default `warning`). */
  logLevel?: OrtLogLevel;
  /** Graph optimizations ONNX Runtime applies when loading (default 'all': constant folding, fusions, NCHWc). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** How a model object is exported (default: dynamic batch, symbolic image size, BN folded). */
  exportOptions?: ExportOnnxOptions;
  /** Where ONNX Runtime writes the graph it optimized (debugging). */
  optimizedModelFilePath?: string;
}

/** A float32 tensor as ONNX Runtime returns it. */
export interface FloatArrayTensor {
  data: Float32Array;
  shape: number[];
}

/** NHWC float32 image values [N, H, W, 3] in NCHW order. */
export function nchwFromNhwc(
  data: Float32Array,
  shape: readonly [number, number, number, number],
): Float32Array {
  const [n, h, w] = shape;
  const nchw = new Float32Array(data.length);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const image = i * plane * 3;
    for (let p = 0; p < plane; p++) {
      nchw[image + p] = data[image + 3 * p];
      nchw[image + plane + p] = data[image + 3 * p + 1];
      nchw[image + 2 * plane + p] = data[image + 3 * p + 2];
    }
  }
  return nchw;
}

/** An ONNX Runtime session over an rla-net ONNX graph (input `input` NCHW, output `logits`). */
export class OnnxClassifier {
  constructor(
    readonly session: ort.InferenceSession,
    private readonly runtime: typeof ort,
  ) {}

  /** Names of the graph's outputs (`logits` first, then any exported intermediates). */
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs an NCHW float32 batch [N, 3, H, W]; returns every graph output (NCHW for 4-D ones). */
  async runNchw(data: Float32Array, shape: readonly number[]): Promise<Record<string, FloatArrayTensor>> {
    if (shape.length !== 4 || shape[1] !== 3) {
      throw new Error(`expected an NCHW image batch [N, 3, H, W], got shape [${shape}]`);
    }
    const input = new this.runtime.Tensor('float32', data, [...shape]);
    const results = await this.session.run({ [ONNX_INPUT]: input });
    const outputs: Record<string, FloatArrayTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      outputs[name] = { data: value.data as Float32Array, shape: [...value.dims] };
    }
    return outputs;
  }

  /** Logits [N, numClasses] (row-major) for NHWC float32 values [N, H, W, 3], transposed to NCHW here. */
  async runNhwc(data: Float32Array, shape: readonly [number, number, number, number]): Promise<Float32Array> {
    const [n, h, w, c] = shape;
    if (c !== 3 || data.length !== n * h * w * c) {
      throw new Error(
        `expected NHWC values of shape [N, H, W, 3], got shape [${shape}] with ${data.length} values`,
      );
    }
    const nchw = nchwFromNhwc(data, shape);
    const logits = (await this.runNchw(nchw, [n, 3, h, w]))[ONNX_LOGITS];
    if (!logits) throw new Error(`the ONNX graph has no "${ONNX_LOGITS}" output`);
    return logits.data;
  }

  /** Logits [N, numClasses] for an NHWC batch, like `ClassifierModel.forward`. The caller disposes the result. */
  async predict(images: tf.Tensor4D): Promise<tf.Tensor2D> {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new Error(`expected an NHWC image batch [N, H, W, 3], got shape [${images.shape}]`);
    }
    const nchw = tf.tidy(() => tf.transpose(images, [0, 3, 1, 2]));
    const data = (await nchw.data()) as Float32Array;
    const shape = nchw.shape;
    nchw.dispose();
    const logits = (await this.runNchw(data, shape))[ONNX_LOGITS];
    if (!logits)
      throw new Error(
        `the ONNX graph has no "${ONNX_LOGITS}" output (outputs: ${this.outputNames.join(', ')})`,
      );
    return tf.tensor2d(logits.data, logits.shape as [number, number]);
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Loads onnxruntime-node on demand (its native library is only needed here). */
export async function loadOnnxRuntime(): Promise<typeof ort> {
  const runtime = (await import('onnxruntime-node')) as typeof ort & { default?: typeof ort };
  // CommonJS interop: the namespace carries the API directly or under `default`, depending on the loader.
  return runtime.InferenceSession ? runtime : (runtime.default as typeof ort);
}

/**
 * An ONNX Runtime session for a model (exported on the fly), `.onnx` bytes, or an `.onnx` file path.
 * Graph optimizations default to 'all'; execution is sequential with one inter-op thread (a CNN is a chain).
 */
export async function createInferenceSession(
  modelOrOnnx: ClassifierModel | Uint8Array | string,
  options: InferenceSessionOptions = {},
): Promise<OnnxClassifier> {
  const runtime = await loadOnnxRuntime();
  let bytes: Uint8Array;
  if (typeof modelOrOnnx === 'string') bytes = new Uint8Array(await readFile(modelOrOnnx));
  else if (modelOrOnnx instanceof Uint8Array) bytes = modelOrOnnx;
  else bytes = exportOnnx(modelOrOnnx, { dynamicBatch: true, ...options.exportOptions });
  const session = await runtime.InferenceSession.create(bytes, ortSessionOptions(options));
  return new OnnxClassifier(session, runtime);
}

/** ONNX Runtime's session options for ours (checked: a wrong value is an error naming the option). */
export function ortSessionOptions(options: InferenceSessionOptions): ort.InferenceSession.SessionOptions {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: 'sequential',
    interOpNumThreads: options.interOpThreads ?? 1,
  };
  if (options.interOpThreads !== undefined) checkPositiveInteger('interOpThreads', options.interOpThreads);
  if (options.threads !== undefined) {
    checkPositiveInteger('threads', options.threads);
    sessionOptions.intraOpNumThreads = options.threads;
  }
  if (options.executionProviders !== undefined) {
    if (
      options.executionProviders.length === 0 ||
      options.executionProviders.some((p) => typeof p !== 'string' || p === '')
    )
      throw new Error(
        `executionProviders must be a non-empty list of provider names, got ${JSON.stringify(options.executionProviders)}`,
      );
    sessionOptions.executionProviders = [...options.executionProviders];
  }
  if (options.logLevel !== undefined) {
    const level = ORT_LOG_LEVELS.indexOf(options.logLevel);
    if (level < 0)
      throw new Error(`logLevel must be one of ${ORT_LOG_LEVELS.join(', ')}, got ${options.logLevel}`);
    sessionOptions.logSeverityLevel = level as 0 | 1 | 2 | 3 | 4;
  }
  if (options.optimizedModelFilePath) sessionOptions.optimizedModelFilePath = options.optimizedModelFilePath;
  return sessionOptions;
}

/**
 * Runs `model` once under ONNX Runtime on an NCHW batch: exports it in memory (with every intermediate when
 * asked), runs, and releases the session. Outputs keep their graph names and NCHW layout.
 */
export async function runWithOnnxRuntime(
  model: ClassifierModel,
  data: Float32Array,
  shape: readonly number[],
  options: { intermediates?: boolean; threads?: number } = {},
): Promise<Record<string, FloatArrayTensor>> {
  if (shape.length !== 4 || shape[1] !== 3) {
    throw new Error(`expected an NCHW image batch [N, 3, H, W], got shape [${shape}]`);
  }
  // The same input-size rule as the TF.js engine: ONNX Runtime would fail with a raw shape error, or compute
  // logits for sizes the model does not define (h pooled with floor while x is downsampled with ceil).
  model.checkInputSize(shape[2], shape[3]);
  const classifier = await createInferenceSession(model, {
    threads: options.threads,
    exportOptions: { dynamicBatch: true, intermediates: options.intermediates ?? false },
  });
  try {
    return await classifier.runNchw(data, shape);
  } finally {
    await classifier.release();
  }
}

/** Whether `path` names an ONNX model file (by its extension, as the CLI decides which engine runs it). */
export function isOnnxFile(path: string): boolean {
  return path.toLowerCase().endsWith('.onnx');
}

/** An rla-net `.onnx` file (rla export-onnx / quantize) opened for inference, with its metadata and class count. */
export async function openExportedModel(
  path: string,
  options: InferenceSessionOptions = {},
): Promise<{ session: OnnxClassifier; metadata: Record<string, string>; numClasses: number }> {
  const bytes = new Uint8Array(await readFile(path));
  const metadata = readOnnxMetadata(bytes, path);
  const numClasses = exportedClassCount(metadata, path);
  return { session: await createInferenceSession(bytes, options), metadata, numClasses };
}
