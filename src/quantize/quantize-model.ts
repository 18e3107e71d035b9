/**
 * `quantizeModel`: a classifier as an int8 QDQ ONNX model. The model is exported with BatchNorm folded, its
 * activations are calibrated on real images (prepared with the model's own preprocessing by the caller), each
 * quantizable layer's sensitivity is estimated, the most sensitive `keepFloat` layers stay in float32, and the
 * rest is quantized (see qdq.ts).
 *
 * Sensitivity of a Conv / Gemm: sqrt(e_w^2 + e_x^2), the relative L2 errors that quantization puts on its weight
 * and (on the first calibration images) on its input: the first-order relative error of its output, measured
 * layer by layer in isolation, so one layer's error does not blame the layers after it.
 */
import type { ClassifierModel } from '../models/classifier.js';
import { buildOnnxModel, type ExportOnnxOptions } from '../onnx/export.js';
import { DataType, encodeModel, floatData, type GraphProto } from '../onnx/onnx-proto.js';
import { averagePoolsAsDepthwiseConvs, batchNormsAsDepthwiseConvs } from './as-depthwise-conv.js';
import { type CalibrationBatch, calibrate } from './calibrate.js';
import type { ObserverKind } from './observers.js';
import {
  activationQuantization,
  nativeWeightBits,
  quantizeGraph,
  quantizeWeights,
  type TensorRange,
  type WeightBits,
} from './qdq.js';
import { splitConcatLayers } from './split-concat.js';

export interface QuantizeOptions {
  /** How activation ranges are chosen (default 'percentile'). */
  observer?: ObserverKind;
  /** Weight range bits: 8, or 7 for x86 CPUs without VNNI (default: `nativeWeightBits` of this machine). */
  weightBits?: WeightBits;
  /** Keep this many of the most sensitive Conv / Gemm layers in float32 (default 0). */
  keepFloat?: number;
  /** ONNX Runtime threads for calibration. */
  threads?: number;
  /** Extra metadata for the file (a trained model's preprocessing, classes, dataset). */
  metadata?: Record<string, string>;
  /** Fixed batch or input size of the exported graph (default: any batch, any size; BN is always folded). */
  exportOptions?: Pick<ExportOnnxOptions, 'batchSize' | 'inputSize' | 'dynamicBatch'>;
}

export interface LayerSensitivity {
  /** Node name (the layer's state_dict path and op type, e.g. `layer1.0.conv2/Conv`). */
  node: string;
  weightError: number;
  inputError: number;
  /** sqrt(weightError^2 + inputError^2). */
  sensitivity: number;
}

export interface QuantizeResult {
  bytes: Uint8Array;
  /** Size of the float32 export, for comparison. */
  floatBytes: number;
  /** Every quantizable layer, most sensitive first. */
  layers: LayerSensitivity[];
  /** Layers kept in float32. */
  keptFloat: string[];
  /** Calibrated images. */
  images: number;
  weightBits: WeightBits;
}

/** This machine's CPU flags (Linux /proc/cpuinfo), or null where they cannot be read. */
async function cpuFlags(): Promise<string | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile('/proc/cpuinfo', 'utf8');
    return /^flags\s*:(.*)$/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

function relativeError(values: Float32Array, roundTrip: (v: number, i: number) => number): number {
  let error = 0;
  let norm = 0;
  for (let i = 0; i < values.length; i++) {
    const d = roundTrip(values[i], i) - values[i];
    error += d * d;
    norm += values[i] * values[i];
  }
  return norm > 0 ? Math.sqrt(error / norm) : 0;
}

/** Each Conv / Gemm layer's sensitivity (see the file comment), most sensitive first. */
export function layerSensitivities(
  graph: GraphProto,
  ranges: ReadonlyMap<string, TensorRange>,
  sample: ReadonlyMap<string, Float32Array>,
  weightBits: WeightBits = 8,
): LayerSensitivity[] {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const layers: LayerSensitivity[] = [];
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
    const weight = initializers.get(node.inputs[1]);
    const input = sample.get(node.inputs[0]);
    const range = ranges.get(node.inputs[0]);
    if (!weight || weight.dataType !== DataType.FLOAT || !input || !range) continue;
    const w = floatData(weight);
    const channels = weight.dims[0];
    const { values, scales } = quantizeWeights(w, channels, weightBits);
    const perChannel = w.length / channels;
    const weightError = relativeError(w, (_, i) => values[i] * scales[Math.floor(i / perChannel)]);
    const { scale, zeroPoint } = activationQuantization(range);
    const inputError = relativeError(
      input,
      (v) => (Math.min(255, Math.max(0, Math.round(v / scale) + zeroPoint)) - zeroPoint) * scale,
    );
    layers.push({
      node: node.name,
      weightError,
      inputError,
      sensitivity: Math.hypot(weightError, inputError),
    });
  }
  return layers.sort((a, b) => b.sensitivity - a.sensitivity);
}

/** The first batch of `batches` alone. */
async function* firstOf(
  batches: AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>,
): AsyncGenerator<CalibrationBatch> {
  for await (const batch of batches) {
    yield batch;
    return;
  }
}

/** The int8 QDQ ONNX model of `model`, calibrated on `batches` (NCHW float32, already preprocessed). */
export async function quantizeModel(
  model: ClassifierModel,
  batches: () => AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>,
  options: QuantizeOptions = {},
): Promise<QuantizeResult> {
  const observer = options.observer ?? 'percentile';
  const keepCount = options.keepFloat ?? 0;
  if (!Number.isInteger(keepCount) || keepCount < 0) {
    throw new Error(`keepFloat must be a non-negative integer, got ${keepCount}`);
  }
  const proto = buildOnnxModel(model, {
    ...(options.exportOptions ?? { dynamicBatch: true }),
    foldBatchNorm: true,
  });
  const encode = (graph: GraphProto) => encodeModel({ ...proto, graph });
  // Channel counts from one batch, then the RLA concatenations split (split-concat.ts) and the average pools
  // and BatchNorms written as depthwise convs (as-depthwise-conv.ts), then calibration.
  const probe = await calibrate(encode, proto.graph, firstOf(batches()), {
    observer: 'minmax',
    threads: options.threads,
  });
  const channelsOf = (value: string) => probe.shapes.get(value)?.[1];
  const split = batchNormsAsDepthwiseConvs(
    averagePoolsAsDepthwiseConvs(splitConcatLayers(proto.graph, channelsOf), channelsOf),
  );
  let sample: ReadonlyMap<string, Float32Array> = new Map();
  const { ranges, images } = await calibrate(encode, split, batches(), {
    observer,
    threads: options.threads,
    sample: (values) => {
      sample = values;
    },
  });
  const weightBits = options.weightBits ?? nativeWeightBits(await cpuFlags());
  const layers = layerSensitivities(split, ranges, sample, weightBits);
  const keptFloat = layers.slice(0, keepCount).map((layer) => layer.node);
  const graph = quantizeGraph(split, ranges, { keepFloat: new Set(keptFloat), weightBits });
  const bytes = encodeModel({
    ...proto,
    graph,
    metadata: {
      ...proto.metadata,
      ...options.metadata,
      'rla.precision': 'int8',
      'rla.observer': observer,
      'rla.weight-bits': String(weightBits),
      'rla.calibration-images': String(images),
      'rla.kept-float': JSON.stringify(keptFloat),
    },
  });
  return { bytes, floatBytes: encodeModel(proto).length, layers, keptFloat, images, weightBits };
}
