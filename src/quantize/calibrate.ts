/**
 * Calibration: the activations a QDQ graph quantizes, observed over real images. The float graph is run by ONNX
 * Runtime with those activations as extra outputs; each observer turns the values it sees into a range.
 */
import type * as ort from 'onnxruntime-node';
import { ONNX_INPUT } from '../onnx/export.js';
import type { GraphProto } from '../onnx/onnx-proto.js';
import { loadOnnxRuntime } from '../onnx/session.js';
import { createObserver, type Observer, type ObserverKind } from './observers.js';
import { ABSORBED_ACTIVATIONS, QUANTIZED_OPS, type TensorRange } from './qdq.js';
import { integerValues } from './value-types.js';

/** Op types whose inputs and outputs may be quantized, and the activations absorbed after them. */
const OBSERVED_OPS = new Set([...QUANTIZED_OPS, ...ABSORBED_ACTIVATIONS]);

/** The float activations calibration observes: inputs and outputs of the ops `quantizeGraph` may quantize. */
export function calibrationTargets(graph: GraphProto): string[] {
  const constants = new Set(graph.initializers.map((t) => t.name));
  const integers = integerValues(graph);
  const targets = new Set<string>();
  for (const node of graph.nodes) {
    if (!OBSERVED_OPS.has(node.opType) || node.inputs.some((name) => integers.has(name))) continue;
    const activations = node.opType === 'Clip' ? node.inputs.slice(0, 1) : node.inputs;
    for (const name of [...activations, ...node.outputs]) if (name && !constants.has(name)) targets.add(name);
  }
  return [...targets];
}

/** A copy of `graph` that also outputs `names`. */
function withOutputs(graph: GraphProto, names: readonly string[]): GraphProto {
  const existing = new Set(graph.outputs.map((o) => o.name));
  const extra = names.filter((name) => !existing.has(name) && !graph.inputs.some((i) => i.name === name));
  return {
    ...graph,
    outputs: [...graph.outputs, ...extra.map((name) => ({ name, elemType: 1 as const, shape: null }))],
  };
}

/** An NCHW float32 image batch, preprocessed as the model expects. */
export interface CalibrationBatch {
  data: Float32Array;
  shape: number[];
}

export interface CalibrationOptions {
  observer: ObserverKind;
  threads?: number;
  /** Receives the first images (up to 4) of the first batch's values of every target, for error estimates. */
  sample?: (values: ReadonlyMap<string, Float32Array>) => void;
}

/** Images of the first batch handed to `CalibrationOptions.sample`. */
const SAMPLE_IMAGES = 4;

/**
 * Ranges of every calibration target of `graph` over `batches` (NCHW float32 image batches). Deterministic: the
 * same batches in the same order give the same ranges.
 */
export async function calibrate(
  encode: (graph: GraphProto) => Uint8Array,
  graph: GraphProto,
  batches: AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>,
  options: CalibrationOptions,
): Promise<{ ranges: Map<string, TensorRange>; images: number; shapes: Map<string, number[]> }> {
  const targets = calibrationTargets(graph);
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const runtime = await loadOnnxRuntime();
  const session = await runtime.InferenceSession.create(encode(withOutputs(graph, targets)), {
    graphOptimizationLevel: 'disabled',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });
  const observers = new Map<string, Observer>(
    targets.map((name) => [name, createObserver(options.observer)]),
  );
  const shapes = new Map<string, number[]>();
  let images = 0;
  try {
    for await (const batch of batches) {
      const feeds: Record<string, ort.Tensor> = {
        [ONNX_INPUT]: new runtime.Tensor('float32', batch.data, batch.shape),
      };
      const results = await session.run(feeds);
      const sample = new Map<string, Float32Array>();
      const sampled = Math.min(SAMPLE_IMAGES, batch.shape[0]) / batch.shape[0];
      for (const name of targets) {
        const values = inputs.has(name) ? batch.data : (results[name]?.data as Float32Array | undefined);
        if (!values) throw new Error(`calibration: the graph gave no ${name}`);
        observers.get(name)?.observe(values);
        if (images === 0) {
          shapes.set(name, inputs.has(name) ? batch.shape : [...(results[name]?.dims ?? [])]);
          if (options.sample) sample.set(name, values.slice(0, Math.round(values.length * sampled)));
        }
      }
      if (images === 0) options.sample?.(sample);
      images += batch.shape[0];
    }
  } finally {
    await session.release();
  }
  if (images === 0) throw new Error('calibration: the calibration set gave no images');
  return {
    ranges: new Map([...observers].map(([name, observer]) => [name, observer.range()])),
    images,
    shapes,
  };
}
