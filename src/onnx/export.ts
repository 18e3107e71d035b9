/**
 * `exportOnnx(model, options)`: writes a model as an ONNX ModelProto in pure TypeScript. The graph is NCHW
 * throughout (input `input` [N, 3, H, W], output `logits` [N, numClasses]), with PyTorch-layout weights under
 * their official state_dict names, explicit pads, and BatchNorm folded into the conv before it. It computes the
 * model's inference (eval-mode) function whatever `model.training` says.
 */
import type { ClassifierModel } from '../models/classifier.js';
import { checkPositiveInteger } from '../util/checks.js';
import { OnnxBuilder } from './builder.js';
import { type Dim, encodeModel, irVersionForOpset, type ModelProto } from './onnx-proto.js';
import { traceModel } from './trace/trace-model.js';

/** Lowest opset written: Squeeze/Split/Clip take their parameters as inputs from 13 on. */
export const MIN_OPSET = 13;
/** Highest opset written: the newest the tests run with ONNX Runtime 1.30. */
export const MAX_OPSET = 23;
/** Default opset: widely supported (ONNX Runtime >= 1.12, onnxruntime-web, TensorRT 8.5+). */
export const DEFAULT_OPSET = 17;

export interface ExportOnnxOptions {
  /** Default-domain opset, MIN_OPSET..MAX_OPSET (default 17). */
  opset?: number;
  /** Symbolic batch dimension `batch` instead of a fixed `batchSize` (default false). */
  dynamicBatch?: boolean;
  /** Fixed batch size when not `dynamicBatch` (default 1). */
  batchSize?: number;
  /** Fixed input height and width (a number: square); default symbolic `height` / `width`. */
  inputSize?: number | readonly [number, number];
  /** Fold each conv's BatchNorm into its weights (default true); false keeps BatchNormalization nodes. */
  foldBatchNorm?: boolean;

  /**
   * Also output intermediates under their `forwardIntermediates` names (NCHW): true for all, or a list of names.
   * Default false: the graph outputs only `logits`.
   */
  intermediates?: boolean | readonly string[];
  /** Extra metadata entries (a trained model's `preprocessing`, `classes`, `dataset`, as its safetensors has). */
  metadata?: Record<string, string>;
}

/** Names of the graph's input and main output. */
export const ONNX_INPUT = 'input';
export const ONNX_LOGITS = 'logits';

function inputShape(model: ClassifierModel, options: ExportOnnxOptions): Dim[] {
  const batchSize = options.batchSize ?? 1;
  checkPositiveInteger('batchSize', batchSize);
  const batch: Dim = options.dynamicBatch ? 'batch' : batchSize;
  if (options.inputSize === undefined) return [batch, 3, 'height', 'width'];
  const [height, width] =
    typeof options.inputSize === 'number' ? [options.inputSize, options.inputSize] : options.inputSize;
  model.checkInputSize(height, width);
  return [batch, 3, height, width];
}

/** The ONNX model of `model` as plain objects (what `exportOnnx` serialises); useful to inspect the graph. */
export function buildOnnxModel(model: ClassifierModel, options: ExportOnnxOptions = {}): ModelProto {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  const shape = inputShape(model, options);
  const b = new OnnxBuilder({ opset, foldBatchNorm: options.foldBatchNorm ?? true }, model);
  const input = b.input(ONNX_INPUT, shape);
  const wanted = options.intermediates ?? false;
  const traced = traceModel(b, model, input, shape);
  // `logits` is the first output; intermediates follow in execution order.
  b.output(traced.logits, ONNX_LOGITS, [shape[0], model.numClasses]);
  for (const [name, value] of traced.intermediates) {
    if (wanted === true || (Array.isArray(wanted) && wanted.includes(name))) b.output(value(), name, null);
  }
  if (Array.isArray(wanted)) {
    const unknown = wanted.filter((name) => !traced.intermediates.has(name));
    if (unknown.length > 0) {
      throw new Error(
        `unknown intermediate(s) ${unknown.join(', ')}; this model has ${[...traced.intermediates.keys()].join(', ')}`,
      );
    }
  }
  const name = model.registryName ?? model.constructor.name;
  return {
    irVersion: irVersionForOpset(opset),
    opsetVersion: opset,
    producerName: 'rla-net',
    producerVersion: '0.1.0',
    docString: `${name} exported by rla-net: input "input" NCHW float32 [N, 3, H, W], output "logits" [N, ${model.numClasses}]`,
    graph: b.graph(name),
    metadata: {
      ...options.metadata,
      'rla.model': name,
      'rla.num-classes': String(model.numClasses),
      'rla.options': JSON.stringify(model.registryOptions ?? {}),
      'rla.layout': 'NCHW',
      'rla.batchnorm': (options.foldBatchNorm ?? true) ? 'folded' : 'kept',
    },
  };
}

/** The `.onnx` file bytes of `model` (see `ExportOnnxOptions`). */
export function exportOnnx(model: ClassifierModel, options: ExportOnnxOptions = {}): Uint8Array {
  return encodeModel(buildOnnxModel(model, options));
}
