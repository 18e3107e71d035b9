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
export type { ModelEmitter, OnnxSink } from './models/emitter.js';
export { onnxEmitterFor, registerOnnxEmitter } from './models/index.js';
export {
  createInferenceSession,
  type FloatArrayTensor,
  type InferenceSessionOptions,
  OnnxClassifier,
} from './session.js';
