/** ONNX export (pure TypeScript) and ONNX Runtime inference for rla-net models. */

export { OnnxBuilder, type Value as OnnxValue } from './builder.js';
export {
  buildOnnxModel,
  DEFAULT_OPSET,
  type ExportOnnxOptions,
  exportOnnx,
  MAX_OPSET,
  MIN_OPSET,
} from './export.js';
export {
  createInferenceSession,
  type FloatArrayTensor,
  type InferenceSessionOptions,
  OnnxClassifier,
} from './session.js';
export { registerPrimitiveWriter } from './trace/primitives.js';
export { type TracedModel, traceModel } from './trace/trace-model.js';
export type { GraphTracer, PrimitiveWriter, Sym } from './trace/tracer.js';
